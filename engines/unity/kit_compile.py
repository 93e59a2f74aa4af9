"""Compile the C# kit with Mono's `mcs` against the stub assemblies in `kit_stubs/`.

No Unity is needed: the stubs declare the UnityEngine, UnityEditor and com.unity.ml-agents 2.x
members the kit uses, with their real signatures and modifiers. The kit is built the way its
.asmdef files split it (the runtime kit, then the Editor scripts referencing it), so `internal`
members and references across assemblies are checked as Unity checks them.
Run `python -m engines.unity.kit_compile` to see the compiler's verdict.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
KIT = HERE / "kit"
STUBS = HERE / "kit_stubs"
INSTALL_HINT = "apt-get install -y mono-mcs"

# (assembly, sources, references)
STUB_ASSEMBLIES = (
    ("UnityEngine", ("UnityEngine.cs",), ()),
    ("UnityEditor", ("UnityEditor.cs",), ("UnityEngine",)),
    ("Unity.ML-Agents", ("MLAgents.cs",), ("UnityEngine",)),
)
KIT_ASSEMBLIES = (  # sources: a folder of the kit, as its .asmdef files split it
    ("PhysicsFactory.Kit", "Runtime", ("UnityEngine", "Unity.ML-Agents")),
    ("PhysicsFactory.Kit.Editor", "Editor", ("UnityEngine", "UnityEditor", "Unity.ML-Agents", "PhysicsFactory.Kit")),
)


@dataclass(frozen=True)
class Result:
    ok: bool
    assembly: str  # the assembly that failed, or the last one built
    output: str  # the compiler's messages


def mcs() -> str | None:
    return shutil.which("mcs")


def _compile(name: str, sources: list[Path], refs: list[Path], out: Path, strict: bool) -> Result:
    compiler = mcs()
    if compiler is None:
        raise FileNotFoundError(f"mcs (Mono C# compiler) not found; install it with: {INSTALL_HINT}")
    cmd = [compiler, "-nologo", "-langversion:experimental", "-target:library", f"-out:{out / name}.dll",
           *(f"-r:{r}" for r in refs), *(["-warnaserror"] if strict else []), *map(str, sources)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    return Result(proc.returncode == 0, name, (proc.stdout + proc.stderr).strip())


def build_stubs(out: Path) -> Result:
    """The stub assemblies, into `out`; warnings allowed (their bodies are placeholders)."""
    result = Result(True, "", "")
    for name, files, refs in STUB_ASSEMBLIES:
        result = _compile(name, [STUBS / f for f in files], [out / f"{r}.dll" for r in refs], out, strict=False)
        if not result.ok:
            break
    return result


def build_kit(kit: Path, stubs: Path, out: Path) -> Result:
    """The kit's assemblies from the sources under `kit`, against the stubs built into `stubs`,
    into `out`, warnings as errors; stops at the first assembly that fails."""
    result = Result(True, "", "")
    for name, folder, refs in KIT_ASSEMBLIES:
        paths = [(stubs if (stubs / f"{r}.dll").exists() else out) / f"{r}.dll" for r in refs]
        result = _compile(name, sorted((kit / folder).glob("*.cs")), paths, out, strict=True)
        if not result.ok:
            break
    return result


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        result = build_stubs(out)
        if result.ok:
            result = build_kit(KIT, out, out)
    print(result.output or f"the kit compiles ({', '.join(a for a, _, _ in KIT_ASSEMBLIES)})")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
