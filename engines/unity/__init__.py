"""Unity ML-Agents adapter: drive Unity builds (or the Editor) through `mlagents_envs`.

Also holds what Unity users need (the C# kit in `kit/`, README.md) and the protocol peer
(`engines.unity.peer`), a stand-in Unity build for tests and demos.
"""

from factory.errors import EngineNotInstalled

try:
    import mlagents_envs.environment  # noqa: F401  (fails late and cryptically on a wrong protobuf)
except ModuleNotFoundError:
    raise
except (ImportError, TypeError) as exc:
    raise EngineNotInstalled(f"mlagents-envs is installed but does not import ({exc.__class__.__name__}: "
                             f"{str(exc).splitlines()[0]}); it needs protobuf 3.20: "
                             "pip install mlagents-envs==0.28.0 protobuf==3.20.3") from exc

from engines.unity.engine import UnityEngine

__all__ = ["UnityEngine"]
