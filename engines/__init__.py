"""Engine registry: names map to "module:attr" strings, imported only when a run needs them.

`import factory` and `factory validate` therefore work without any engine installed.
"""

from __future__ import annotations

from engines.gl import choose_backend
from factory.contract.engine import Engine, EngineInfo
from factory.errors import EngineNotInstalled, UnknownEngine
from factory.registry import load_entry

choose_backend()  # before any engine imports mujoco, which reads MUJOCO_GL once

ENGINES: dict[str, str] = {
    "genesis": "engines.genesis:GenesisEngine",
    "unity": "engines.unity:UnityEngine",
    "mujoco": "engines.mujoco:MuJoCoEngine",
}
INSTALL_HINTS: dict[str, str] = {
    "genesis": "pip install torch==2.13.0 genesis-world==1.4.5  (or: pip install -e '.[genesis]')",
    "unity": "pip install mlagents-envs==0.28.0 protobuf==3.20.3  (or: pip install -e '.[unity]')",
    "mujoco": "pip install mujoco==4.0.0  (or: pip install -e '.[mujoco]')",
}
_ENGINE_PACKAGES = {"genesis": "genesis", "unity": "mlagents_envs", "mujoco": "mujoco"}


def load_engine(name: str) -> type[Engine]:
    """The engine class registered as `name`; clear errors for unknown or uninstalled engines."""
    try:
        return load_entry(ENGINES, name, "engine", UnknownEngine)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.split(".")[0] == _ENGINE_PACKAGES.get(name):
            raise EngineNotInstalled(f"engine '{name}' needs the '{exc.name}' package: "
                                     f"{INSTALL_HINTS[name]}") from None
        raise


__all__ = ["ENGINES", "Engine", "EngineInfo", "load_engine"]
