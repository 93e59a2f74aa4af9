"""What a manifest says about where a dataset came from: recipe, engine, versions, command, commit."""

from __future__ import annotations

import platform
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from factory.contract.rollout import Layout
from factory.contract.sampling import sample_episode
from factory.names import param_column
from factory.recipe.loader import recipe_hash
from factory.recipe.meshes import mesh_table
from factory.recipe.robots import robot_file_table
from factory.recipe.schema import Recipe
from factory.storage.manifest import FORMAT_VERSION
from factory.version import __version__


def build_manifest(recipe: Recipe, engine: dict[str, str], layout: Layout, shards: list[dict],
                   episodes: int, recipe_path: str | None, *, created: str | None = None,
                   quarantined: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """The manifest of `episodes` planned episodes: `shards` hold the written ones, `quarantined` the rest."""
    transitions = sum(s["transitions"] for s in shards)
    return {
        "format_version": FORMAT_VERSION,
        "factory_version": __version__,
        "created": created or datetime.now(UTC).isoformat(timespec="seconds"),
        "command": redacted(sys.argv),
        "recipe_path": recipe_path,
        "recipe": recipe.model_dump(mode="json"),
        "recipe_hash": recipe_hash(recipe),
        **({"meshes": meshes} if (meshes := mesh_table(recipe.scene.objects)) else {}),
        **({"robot_files": files} if (files := robot_file_table(recipe.robots)) else {}),
        "seed": recipe.seed,
        "engine": engine,
        "git_commit": _git_commit(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "formats": list(recipe.outputs.formats),
        "layout": layout.to_dict(),
        "features": {
            "state": {"dtype": "float32", "shape": [layout.state_size], "names": layout.state_names},
            "action": {"dtype": "float32", "shape": [layout.action_size], "names": layout.action_names,
                       "unit": _action_unit(recipe, layout)},
            "next_state": {"dtype": "float32", "shape": [layout.state_size], "names": layout.state_names},
            **{name: {"dtype": "float32", "shape": [layout.n_points, 3],
                      "unit": "m" if name.endswith("_pos") else "m/s"} for name in layout.points},
        },
        "episode_params": [param_column(k) for k in sample_episode(recipe, 0).params],
        "counts": {"episodes": episodes - len(quarantined), "quarantined": len(quarantined),
                   "transitions": transitions, "contacts": sum(s["contacts"] for s in shards)},
        "shards": shards,
        "quarantined": sorted(quarantined, key=lambda q: q["episode"]),
    }


def redacted(argv: list[str]) -> list[str]:
    """The command line with the values of --storage-option (which may hold credentials) as ***."""
    def is_flag(arg: str) -> bool:  # argparse also takes an unambiguous prefix: --storage-opt
        flag = arg.partition("=")[0]
        return len(flag) >= 4 and "--storage-option".startswith(flag)

    out = []
    for i, arg in enumerate(argv):
        if arg.startswith("--") and "=" in arg and is_flag(arg):
            flag, _, option = arg.partition("=")
            arg = f"{flag}={option.partition('=')[0]}=***"
        elif i and is_flag(argv[i - 1]) and "=" not in argv[i - 1]:
            arg = f"{arg.partition('=')[0]}=***"
        out.append(arg)
    return out


def _action_unit(recipe: Recipe, layout: Layout) -> str:
    if recipe.robots:
        return "; ".join(robot.action_unit for robot in recipe.robots)
    if layout.action_names_override is None:
        return "N*s impulse applied during the transition"
    return "m/s mean commanded velocity of each mover during the transition"


def _git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                              cwd=Path(__file__).parent).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None
