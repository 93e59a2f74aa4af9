"""Find a robot description (MJCF or URDF) and read the names and limits a recipe may refer to, without an engine.

A recipe's `file` is a path (relative to the working directory) or `{package, path}`: a file inside
an installed Python package, found with `importlib.util.find_spec`, which locates a top-level
package without importing it (importing Genesis takes seconds). The file is read with ElementTree,
enough to check joint, link and actuator names, joint ranges and a URDF's mesh files at load time, so a
bad recipe is refused with its YAML line before any engine starts; the engine compiles the file itself.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from factory.errors import FactoryError
from factory.registry import package_dir


class RobotFileError(FactoryError, ValueError):
    """A robot file that cannot be found or read: at load, a recipe problem with its line; later (a stored
    dataset's replay without the file), one plain error line."""


@dataclass(frozen=True)
class RobotDescription:
    """What a recipe may name in a robot file: its one-dof joints with their ranges, links, actuators."""

    joints: dict[str, tuple[float, float]]  # hinge / slide joint → (low, high), radians or metres, ±inf if unlimited
    links: tuple[str, ...]
    actuators: dict[str, str]  # actuator name → the joint it drives ("" for tendons and others)
    urdf: bool = False  # a URDF has no actuators: the engine drives each actuated joint itself


def resolve(file: str, package: str | None = None) -> Path:
    """The robot file's path: `file` inside the installed `package`'s folder, or as given."""
    if package is None:
        return Path(file)
    found = package_dir(package)
    if found is None:
        raise RobotFileError(f"package '{package}' is not installed (looked it up without importing it)")
    return found / file


def describe(path: Path) -> RobotDescription:
    """Read an MJCF or URDF robot; raise `RobotFileError` saying why it cannot."""
    try:
        stamp = path.stat().st_mtime_ns
    except OSError as exc:
        raise RobotFileError(f"cannot read {path}: {exc.strerror}") from None
    if path.suffix.lower() == ".urdf":
        return _describe_urdf(path.resolve(), stamp)
    return _describe(path.resolve(), stamp)


def urdf_mesh(urdf: Path, filename: str) -> Path:
    """A URDF mesh reference as a file: relative to the URDF's folder; `package://NAME/rest` is looked up
    as `NAME/rest` and then as `rest`, from the URDF's folder and each folder above it."""
    if not filename.startswith("package://"):
        return urdf.parent / filename
    rest = filename.removeprefix("package://")
    tails = [rest, rest.partition("/")[2]] if "/" in rest else [rest]
    for folder in (urdf.parent, *urdf.parent.parents):
        for tail in tails:
            if tail and (folder / tail).is_file():
                return folder / tail
    raise RobotFileError(f"{urdf}: mesh {filename} is not under the URDF's folder or any folder above it")


@lru_cache(maxsize=32)
def _describe_urdf(path: Path, _stamp: int) -> RobotDescription:
    root = _parse(path)
    if root.tag != "robot":
        raise RobotFileError(f"{path}: not a URDF file (its root element is <{root.tag}>, not <robot>)")
    joints: dict[str, tuple[float, float]] = {}
    for joint in root.findall("joint"):
        kind, limit = joint.get("type"), joint.find("limit")
        if kind == "continuous":
            joints[joint.get("name", "")] = (-math.inf, math.inf)
        elif kind in ("revolute", "prismatic"):
            limits = limit.attrib if limit is not None else {}
            joints[joint.get("name", "")] = (float(limits.get("lower", 0.0)), float(limits.get("upper", 0.0)))
    for collision in root.iter("collision"):
        for mesh in collision.iter("mesh"):
            found = urdf_mesh(path, mesh.get("filename", ""))
            if not found.is_file():
                raise RobotFileError(f"{path}: mesh {mesh.get('filename')} not found (looked for {found})")
    links = tuple(link.get("name", "") for link in root.findall("link"))
    return RobotDescription(joints, links, {}, urdf=True)


@lru_cache(maxsize=32)
def _describe(path: Path, _stamp: int) -> RobotDescription:
    root = _load(path)
    if root.tag != "mujoco":
        raise RobotFileError(f"{path}: not an MJCF file (its root element is <{root.tag}>, not <mujoco>)")
    compiler = root.find("compiler")
    degrees = compiler is None or compiler.get("angle", "degree") == "degree"
    defaults = _defaults(root)
    joints: dict[str, tuple[float, float]] = {}
    for joint, cls in _walk(root.find("worldbody"), "main"):
        attrs = {**defaults.get(joint.get("class", cls), {}), **joint.attrib}
        kind = attrs.get("type", "hinge")
        if kind not in ("hinge", "slide") or "name" not in attrs:
            continue
        low, high = (float(v) for v in attrs["range"].split()) if "range" in attrs else (-math.inf, math.inf)
        if kind == "hinge" and degrees:
            low, high = math.radians(low), math.radians(high)
        joints[attrs["name"]] = (low, high)
    links = tuple(b.attrib["name"] for b in root.iter("body") if "name" in b.attrib)
    actuators = {a.attrib["name"]: a.get("joint", "") for section in root.findall("actuator") for a in section
                 if "name" in a.attrib}
    return RobotDescription(joints, links, actuators)


def _parse(path: Path) -> ET.Element:
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise RobotFileError(f"{path}: not valid XML ({exc})") from None
    except OSError as exc:
        raise RobotFileError(f"cannot read {path}: {exc.strerror}") from None


def _load(path: Path) -> ET.Element:
    """The file's element tree with `<include file>` elements replaced by the included files' contents."""
    root = _parse(path)
    for parent in list(root.iter()):
        for i, child in enumerate(list(parent)):
            if child.tag == "include":
                included = _load(path.parent / child.get("file", ""))
                parent.remove(child)
                for k, grandchild in enumerate(included):
                    parent.insert(i + k, grandchild)
    return root


def _defaults(root: ET.Element) -> dict[str, dict[str, str]]:
    """Joint attributes of each default class, inherited from the classes around it."""
    out: dict[str, dict[str, str]] = {}

    def visit(node: ET.Element, inherited: dict[str, str]) -> None:
        joint = node.find("joint")
        attrs = {**inherited, **(joint.attrib if joint is not None else {})}
        out[node.get("class", "main")] = attrs
        for child in node.findall("default"):
            visit(child, attrs)

    for top in root.findall("default"):
        visit(top, {})
    return out


def _walk(body: ET.Element | None, cls: str):
    """(joint element, default class in force) of every joint under `body` (childclass applies below)."""
    if body is None:
        return
    for child in body:
        if child.tag == "joint":
            yield child, cls
        elif child.tag in ("body", "frame"):
            yield from _walk(child, child.get("childclass", cls))
