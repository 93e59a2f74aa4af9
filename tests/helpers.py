"""What several test modules share: shipped recipes made small, a valid recipe to break, the sharded
dataset's recipe, S3 options, the two-sphere scene the physics tests run on every engine, and the
robot push both robot engines run.

Test modules import from here (and from `hand_made.py`, `unity_peer.py`), never from each other.
"""

from __future__ import annotations

import json
from pathlib import Path

from factory.recipe.loader import load_recipe, parse_recipe
from factory.recipe.schema import Recipe
from factory.storage import FORMATS

ROOT = Path(__file__).resolve().parent.parent
RECIPES = ROOT / "recipes"


def shipped(path: str, **update) -> Recipe:
    """Any shipped recipe (path under recipes/) with some top-level fields replaced, validated again."""
    recipe = load_recipe(RECIPES / path)
    return Recipe.model_validate(recipe.model_dump() | update)


def small(name: str, **update) -> Recipe:
    """A shipped collision recipe with some top-level fields replaced."""
    return shipped(f"collision/{name}.yaml", **update)


SHARDED_OUTPUTS = {"formats": list(FORMATS), "record_every": 2, "shard_size": 4}


def robot_push(engine: str | dict, robot: dict | None = None, **update) -> Recipe:
    """push_cube on `engine` (a name, or an `engine:` section) without its noise and random moves:
    pushes whose every difference between engines is the physics'. `robot` replaces fields of its arm."""
    data = shipped("robot/push_cube.yaml").model_dump(mode="json")
    data["robots"][0]["policy"] |= {"noise": 0.0, "random_share": 0.0}
    data["robots"][0] |= robot or {}
    return Recipe.model_validate(data | {"engine": engine if isinstance(engine, dict) else {"type": engine}} | update)


def sharded(**update) -> Recipe:
    """The sliding box as 16 short episodes in 4 shards: what the resume and verify tests run."""
    return small("sliding_box", **({"episodes": 16, "steps": 40, "n_envs": 4, "outputs": SHARDED_OUTPUTS} | update))


def manifest(root: Path) -> dict:
    return json.loads((root / "manifest.json").read_text())


def s3_options(endpoint: str) -> dict:
    """Everything a client needs, passed explicitly: nothing comes from this process's environment."""
    return {"endpoint_url": endpoint, "key": "testing", "secret": "testing"}


# a valid recipe that the recipe-error tests break one field at a time
GOOD_RECIPE = """\
name: demo
engine: genesis
seed: 1
episodes: 4
steps: 100
dt: 0.01
n_envs: 2
scene:
  objects:
    - name: box
      shape: {type: box, size: [0.2, 0.2, 0.2]}
      mass: {type: uniform, low: 0.5, high: 2.0}
      pos: [0, 0, 0.1]
actions:
  - type: push
    object: box
    at: [10]
    impulse: [1, 0, 0]
"""

# two spheres over a plane, meeting head-on at 2-6 m/s; {gz} gravity, centres at height {z}
TWO_SPHERES = """\
name: two_spheres
engine: genesis
seed: 5
episodes: 4
steps: 150
dt: 0.004
n_envs: 4
scene:
  gravity: [0, 0, {gz}]
  ground: {{friction: 0.01}}
  objects:
    - name: left
      shape: {{type: sphere, radius: 0.1}}
      mass: {{type: uniform, low: 0.5, high: 2.0}}
      friction: 0.01
      pos: [-0.6, 0, {z}]
      vel: [{{type: uniform, low: 1.0, high: 3.0}}, 0, 0]
    - name: right
      shape: {{type: sphere, radius: 0.1}}
      mass: {{type: uniform, low: 0.5, high: 2.0}}
      friction: 0.01
      pos: [0.6, 0, {z}]
      vel: [{{type: uniform, low: -3.0, high: -1.0}}, 0, 0]
"""


def two_spheres(engine: str = "genesis", gz: float = 0.0, z: float = 0.5, left: float | None = None,
                right: float | None = None, ground: bool = True) -> Recipe:
    """TWO_SPHERES on `engine` (see `on_engine`), with the spheres' restitution where given, without
    the ground if not `ground`."""
    data = parse_recipe(TWO_SPHERES.format(gz=gz, z=z)).model_dump(mode="json")
    for obj, e in zip(data["scene"]["objects"], (left, right), strict=True):
        obj["restitution"] = e
    if not ground:
        data["scene"]["ground"] = None
    return on_engine(Recipe.model_validate(data), engine)


def on_engine(recipe: Recipe, engine: str) -> Recipe:
    """The same recipe on another registered engine; Unity's runs on the protocol peer build with one
    agent per env, named after the recipe's objects, at a free port."""
    config: dict = {"type": engine}
    if engine == "unity":
        from unity_peer import peer_engine

        config = peer_engine([o.name for o in recipe.scene.objects], recipe.n_envs)
    return Recipe.model_validate(recipe.model_dump(mode="json") | {"engine": config})


def gl_problem() -> str | None:
    """Why MuJoCo cannot render offscreen here, or None where it can (the engine picks MUJOCO_GL)."""
    from engines.gl import choose_backend

    choose_backend()  # before mujoco's import: it reads MUJOCO_GL once
    import mujoco

    try:
        with mujoco.Renderer(mujoco.MjModel.from_xml_string("<mujoco/>"), 8, 8):
            return None
    except Exception as e:  # no GL backend on this machine
        return str(e)
