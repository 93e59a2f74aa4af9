"""Recipes for the Unity adapter on the protocol peer build (engines/unity/peer_build/PhysicsPeer.x86_64,
started by ML-Agents itself), at free ports; shared by the Unity tests and the engine-wide physics tests.
Nothing here imports `mlagents_envs` until a recipe is run."""

from __future__ import annotations

import socket

from helpers import RECIPES, ROOT

from factory.contract.sampling import sample_episode
from factory.recipe.loader import load_recipe
from factory.recipe.schema import Recipe

BUILD = str(ROOT / "engines" / "unity" / "peer_build" / "PhysicsPeer")


def free_base_port(span: int = 4) -> int:
    """A port p with p..p+span-1 free right now (the OS picks p; the rest are checked)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base + span < 65535 and all(_free(base + i) for i in range(1, span)):
            return base
    raise RuntimeError("no free port range")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def head_on(engine: dict | None = None, **update) -> Recipe:
    """The shipped Unity head-on recipe, its `engine:` section updated by `engine`, top-level fields by `update`."""
    recipe = load_recipe(RECIPES / "unity" / "head_on.yaml")
    data = recipe.model_dump() | update
    data["engine"] = data["engine"] | (engine or {})
    return Recipe.model_validate(data)


def peer_engine(bodies: list[str], agents: int = 1) -> dict:
    """The shipped recipe's `engine:` section for the peer build with these bodies and agents, at a free port."""
    return head_on().engine.model_dump(mode="json") | {
        "file_name": BUILD, "base_port": free_base_port(), "timeout_wait": 10,
        "args": ["--bodies", ",".join(bodies), "--agents", str(agents)]}


def recipe(peer_args: list[str] = (), engine: dict | None = None, **update) -> Recipe:
    """The shipped head-on recipe, short, on the peer build at a free port."""
    args = ["--bodies", "left,right", "--agents", "2", *peer_args]
    engine = {"file_name": BUILD, "base_port": free_base_port(), "timeout_wait": 10, "args": args,
              **(engine or {})}
    return head_on(engine, **({"steps": 60, "dt": 0.01, "n_envs": 8} | update))


def run(recipe_: Recipe, episodes, **kw):
    """(rollouts, engine) of these episodes in one batch; the engine is closed."""
    from engines.unity import UnityEngine

    engine = UnityEngine(recipe_, **kw)
    try:
        return engine.run_batch([sample_episode(recipe_, i) for i in episodes]), engine
    finally:
        engine.close()
