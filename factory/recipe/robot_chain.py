"""Where a robot's links are, from its MJCF or URDF file and its joint positions: forward kinematics in numpy.

A dataset stores a robot's joint positions and tool pose, not its links' poses; previews draw the arm
from the joints again. Each body's frame is its parent's, moved by its `pos` and `quat` (or `euler`),
then by its joints in file order: a hinge turns about its axis through the joint's `pos`, a slide moves
along its axis. Read with ElementTree like `factory.recipe.robot_file`, so no engine is needed.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from factory.recipe.robot_file import RobotFileError, _defaults, _load, _parse


@dataclass(frozen=True)
class Joint:
    name: str
    kind: str  # hinge or slide
    axis: np.ndarray  # (3,) unit, in the body's frame
    pos: np.ndarray  # (3,) in the body's frame


@dataclass(frozen=True)
class Link:
    name: str
    parent: int  # index into the chain; -1: the robot's base
    pos: np.ndarray  # (3,) in the parent's frame
    rot: np.ndarray  # (3, 3) parent from body
    joints: tuple[Joint, ...]


def read_chain(path: Path) -> tuple[Link, ...]:
    """Every body under the file's worldbody (a URDF: every link), parents before children."""
    if path.suffix.lower() == ".urdf":
        return _urdf_chain(path)
    root = _load(path)
    compiler = root.find("compiler")
    degrees = compiler is None or compiler.get("angle", "degree") == "degree"
    sequence = "xyz" if compiler is None else compiler.get("eulerseq", "xyz")
    defaults = _defaults(root)
    links: list[Link] = []

    def visit(body: ET.Element, parent: int, cls: str) -> None:
        for child in body.findall("body"):
            inner = child.get("childclass", cls)
            joints = tuple(_joint(j, {**defaults.get(j.get("class", inner), {}), **j.attrib})
                           for j in child.findall("joint"))
            links.append(Link(child.get("name", f"body{len(links)}"), parent, _vector(child.get("pos", "0 0 0")),
                              _orientation(child, degrees, sequence),
                              tuple(j for j in joints if j is not None)))
            visit(child, len(links) - 1, inner)

    worldbody = root.find("worldbody")
    if worldbody is None:
        raise RobotFileError(f"{path}: no <worldbody>")
    visit(worldbody, -1, "main")
    return tuple(links)


URDF_KINDS = {"revolute": "hinge", "continuous": "hinge", "prismatic": "slide"}  # fixed: no joint


def _urdf_chain(path: Path) -> tuple[Link, ...]:
    """A URDF's links from its root: each at its joint's origin (xyz, then rpy turned about the fixed x, y,
    z axes) in its parent's frame, moved by that joint about or along its axis through the origin."""
    root = _parse(path)
    joints = {_child(j, "child", "link"): j for j in root.findall("joint")}
    parents = {child: _child(j, "parent", "link") for child, j in joints.items()}
    links: list[Link] = []
    order = [link.get("name", "") for link in root.findall("link") if link.get("name") not in joints]
    while order:  # breadth first from the root link(s), welded at the base
        name = order.pop(0)
        joint = joints.get(name)
        if joint is None:
            links.append(Link(name, -1, np.zeros(3), np.eye(3), ()))
        else:
            kind = URDF_KINDS.get(joint.get("type", "fixed"))
            axis = _vector(_child(joint, "axis", "xyz", "1 0 0"))
            moves = (Joint(joint.get("name", ""), kind, axis / np.linalg.norm(axis), np.zeros(3)),) if kind else ()
            parent = [link.name for link in links].index(parents[name])
            links.append(Link(name, parent, _vector(_child(joint, "origin", "xyz", "0 0 0")),
                              euler_matrix(_vector(_child(joint, "origin", "rpy", "0 0 0")), "XYZ"), moves))
        order += [child for child, parent_name in parents.items() if parent_name == name]
    return tuple(links)


def _child(element: ET.Element, tag: str, key: str, default: str = "") -> str:
    """Attribute `key` of `element`'s first `tag` child; `default` without one."""
    found = element.find(tag)
    return default if found is None else found.get(key, default)


def _vector(text: str) -> np.ndarray:
    return np.array([float(v) for v in text.split()])


def _joint(element: ET.Element, attrs: dict[str, str]) -> Joint | None:
    kind = attrs.get("type", "hinge")
    if kind not in ("hinge", "slide"):
        return None  # free and ball joints do not occur in a welded arm's chain
    axis = _vector(attrs.get("axis", "0 0 1"))
    return Joint(attrs.get("name", ""), kind, axis / np.linalg.norm(axis), _vector(attrs.get("pos", "0 0 0")))


def _orientation(body: ET.Element, degrees: bool, sequence: str) -> np.ndarray:
    if "quat" in body.attrib:
        return quat_matrix(_vector(body.attrib["quat"]))
    if "euler" in body.attrib:
        angles = _vector(body.attrib["euler"]) * (math.pi / 180 if degrees else 1.0)
        return euler_matrix(angles, sequence)
    if any(k in body.attrib for k in ("axisangle", "xyaxes", "zaxis")):
        raise RobotFileError(f"body '{body.get('name')}': only pos, quat and euler frames are read for previews")
    return np.eye(3)


def quat_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrix of a quaternion (w, x, y, z), normalized first (MJCF quats need not be unit)."""
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                     [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                     [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])


def axis_matrix(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotations (..., 3, 3) by `angle` (...) about a unit `axis` (Rodrigues)."""
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    a = np.asarray(angle)[..., None, None]
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * (k @ k)


def euler_matrix(angles: np.ndarray, sequence: str) -> np.ndarray:
    """MJCF euler angles: lower-case axes rotate with the body (intrinsic), upper-case stay fixed (extrinsic)."""
    rot = np.eye(3)
    for axis_name, angle in zip(sequence, angles, strict=True):
        turn = axis_matrix(np.eye(3)["xyz".index(axis_name.lower())], angle)
        rot = rot @ turn if axis_name.islower() else turn @ rot
    return rot


def link_frames(chain: tuple[Link, ...], q: dict[str, np.ndarray], base_pos: np.ndarray, base_rot: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """World positions (T, L, 3) and rotations (T, L, 3, 3) of every link for joint positions q (name → (T,));
    a joint not in q stays at 0."""
    steps = len(next(iter(q.values()))) if q else 1
    pos = np.zeros((steps, len(chain), 3))
    rot = np.zeros((steps, len(chain), 3, 3))
    for i, link in enumerate(chain):
        p_parent = base_pos[None] if link.parent < 0 else pos[:, link.parent]
        r_parent = base_rot[None] if link.parent < 0 else rot[:, link.parent]
        p = p_parent + r_parent @ link.pos
        r = r_parent @ link.rot
        for joint in link.joints:
            value = np.asarray(q.get(joint.name, np.zeros(steps)), float)
            if joint.kind == "hinge":
                turn = axis_matrix(joint.axis, value)  # about the axis through the joint's pos
                p = p + np.einsum("tij,tj->ti", r, joint.pos - turn @ joint.pos)
                r = r @ turn
            else:
                p = p + np.einsum("tij,j->ti", r, joint.axis) * value[:, None]
        pos[:, i], rot[:, i] = p, r
    return pos, rot
