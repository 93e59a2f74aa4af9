"""Compile the C# kit with Mono's `mcs` against the stub assemblies in `kit_stubs/`.

No Unity is needed: the stubs declare the UnityEngine, UnityEditor and com.unity.ml-agents 2.x
members the kit uses, with their real signatures and modifiers. The assemblies are built the way
the kit's .asmdef files split them (runtime kit, then the Editor scripts referencing it), so
`internal` members and references across assemblies are checked as Unity checks them.
Run `python -m engines.unity.kit_compile` to see the compiler's output.
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

# (assembly, sources, references): stubs first, then the kit as its .asmdef files split it
STUB_ASSEMBLIES = (
    ("UnityEngine", ("UnityEngine.cs",), ()),
    ("UnityEditor", ("UnityEditor.cs",), ("UnityEngine",)),
    ("Unity.ML-Agents", ("MLAgents.cs",), ("UnityEngine",)),
)
KIT_ASSEMBLIES = (
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


def _compile(compiler: str, out: Path, name: str, sources: list[Path], refs: tuple[str, ...],
             strict: bool) -> Result:
    cmd = [compiler, "-nologo", "-langversion:experimental", "-target:library", f"-out:{out / name}.dll",
           *(f"-r:{out / r}.dll" for r in refs), *(["-warnaserror"] if strict else []), *map(str, sources)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    return Result(proc.returncode == 0, name, (proc.stdout + proc.stderr).strip())


def compile_kit(out: Path, kit: Path = KIT) -> Result:
    """Build the stubs and then the kit found at `kit` into `out`; stops at the first failure.

    The kit is built with warnings as errors; the stubs without (they are placeholders)."""
    compiler = mcs()
    if compiler is None:
        raise FileNotFoundError(f"mcs (Mono C# compiler) not found; install it with: {INSTALL_HINT}")
    result = Result(True, "", "")
    for name, files, refs in STUB_ASSEMBLIES:
        result = _compile(compiler, out, name, [STUBS / f for f in files], refs, strict=False)
        if not result.ok:
            return result
    for name, folder, refs in KIT_ASSEMBLIES:
        result = _compile(compiler, out, name, sorted((kit / folder).glob("*.cs")), refs, strict=True)
        if not result.ok:
            return result
    return result


def main() -> int:
    with tempfile.TemporaryDirectory() as out:
        result = compile_kit(Path(out))
    print(result.output or f"the kit compiles ({', '.join(a for a, _, _ in KIT_ASSEMBLIES)})")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
