"""Scene-shaping fields (sizes, particle spacing, liquid volume, viscosity, cloth size, compliances)
drawn per scene variant: sampling, batching, engine refusals, and their effect in Genesis scenes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from factory import open_dataset
from factory.contract.sampling import sample_episode, scene_draws
from factory.generate.plan import Shard, plan_batches
from factory.recipe.distributions import is_random
from factory.recipe.loader import load_recipe, parse_recipe
from factory.recipe.scene_fields import pin_scene, scene_fields
from factory.recipe.schema import Recipe

ROOT = Path(__file__).resolve().parent.parent
BOXES = """\
name: boxes
engine: genesis
seed: 3
episodes: 6
steps: 60
dt: 0.01
n_envs: 4
scene:
  objects:
    - name: box
      shape: {type: box, size: [0.2, 0.2, {type: choice, values: [0.1, 0.3]}]}
      mass: {type: uniform, low: 0.5, high: 2.0}
      pos: [0, 0, 0.4]
outputs: {formats: [parquet], record_every: 2}
"""


def boxes(**update) -> Recipe:
    return Recipe.model_validate(parse_recipe(BOXES).model_dump() | update)


def uniform_width(**update) -> Recipe:
    return Recipe.model_validate(parse_recipe(
        BOXES.replace("size: [0.2,", "size: [{type: uniform, low: 0.1, high: 0.3},")).model_dump() | update)


def shipped(path: str, **update) -> Recipe:
    return Recipe.model_validate(load_recipe(ROOT / "recipes" / path).model_dump() | update)


def with_scene(recipe: Recipe, **fields) -> Recipe:
    """`recipe` with scene fields set by dotted path, e.g. fluid__viscosity=... ."""
    data = recipe.model_dump(mode="json")
    for path, value in fields.items():
        node = data["scene"]
        *parents, last = path.split("__")
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        node[last] = value
    return Recipe.model_validate(data)


# ---------------------------------------------------------------- sampling and planning
def test_scene_values_repeat_every_k_episodes_and_per_episode_values_do_not():
    recipe = uniform_width(scene_variants=3, episodes=9)
    widths = [scene_draws(recipe, i)["box.size.x"] for i in range(9)]
    assert widths[:3] == widths[3:6] == widths[6:] and len(set(widths[:3])) == 3
    assert all(0.1 <= w <= 0.3 for w in widths)
    masses = [sample_episode(recipe, i).params["box.mass"] for i in range(9)]
    assert len(set(masses)) == 9  # the mass is still drawn per episode
    assert sample_episode(recipe, 4).params["box.size.x"] == widths[4]  # stored with the episode


def test_without_scene_variants_each_episode_draws_its_own_scene():
    recipe = uniform_width()
    assert len({scene_draws(recipe, i)["box.size.x"] for i in range(6)}) == 6


def test_each_batch_runs_one_scene_and_every_episode_runs_once():
    recipe = boxes(episodes=20, n_envs=3)
    batches = plan_batches(recipe, Shard(0, 0, 20))
    seen = [i for b in batches for i in b.episodes]
    assert sorted(seen) == list(range(20))
    for b in batches:
        assert len(b.episodes) <= 3 and b.episodes == sorted(b.episodes)
        assert {scene_draws(recipe, i)["box.size.z"] for i in b.episodes} == {dict(b.scene)["box.size.z"]}
    assert len({b.scene for b in batches}) == 2
    # an engine that resizes per episode gets plain consecutive batches
    assert [b.episodes for b in plan_batches(recipe, Shard(0, 0, 20), shared_scene=False)] == \
        [list(range(s, min(s + 3, 20))) for s in range(0, 20, 3)]


def test_pinned_recipe_has_fixed_scene_fields_and_keeps_per_episode_distributions():
    recipe = uniform_width(scene_variants=2)
    pinned = pin_scene(recipe, scene_draws(recipe, 1))
    assert not any(is_random(f.value) for f in scene_fields(pinned))
    assert pinned.scene.objects[0].shape.size[0] == scene_draws(recipe, 1)["box.size.x"]
    assert is_random(pinned.scene.objects[0].mass)


def test_fluid_and_cloth_scene_fields_are_named_and_range_checked():
    names = {f.name for f in scene_fields(shipped("fluid/dam_break.yaml"))}
    assert {"fluid.particle_size", "fluid.viscosity", "fluid.block.size.x", "gate.size.z"} <= names
    names = {f.name for f in scene_fields(shipped("cloth/drape.yaml"))}
    assert {"cloth.size", "cloth.stretch_compliance", "cloth.bending_compliance", "ball.radius"} <= names
    text = (ROOT / "recipes" / "fluid" / "dam_break.yaml").read_text()
    bad = text.replace("particle_size: 0.02", "particle_size: {type: uniform, low: 0.001, high: 0.02}")
    with pytest.raises(Exception, match=r"particle_size: must be >= 0.005 and <= 0.1, but can take values in "
                                        r"\[0.001, 0.02\]"):
        parse_recipe(bad)
    dfsph = text.replace("particle_size: 0.02", "particle_size: 0.02\n    pressure_solver: DFSPH")
    with pytest.raises(Exception, match=r"walls: 'liquid' needs pressure_solver 'WCSPH'"):
        parse_recipe(dfsph)
    parse_recipe(dfsph.replace("pressure_solver: DFSPH", "pressure_solver: DFSPH\n    walls: clamp"))


# ---------------------------------------------------------------- refusals
def test_genesis_refuses_a_continuous_scene_field_without_scene_variants(tmp_path):
    path = tmp_path / "wide.yaml"
    path.write_text(BOXES.replace("size: [0.2,", "size: [{type: uniform, low: 0.1, high: 0.3},"))
    proc = subprocess.run([sys.executable, "-m", "factory.cli", "validate", str(path)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "scene.objects.0.shape.size.0: varies continuously" in proc.stderr
    assert "set `scene_variants: K`" in proc.stderr
    path.write_text(path.read_text().replace("n_envs: 4", "n_envs: 4\nscene_variants: 2"))
    proc = subprocess.run([sys.executable, "-m", "factory.cli", "validate", str(path)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_genesis_will_not_build_a_scene_that_is_still_random():
    from engines.genesis import GenesisEngine
    from factory.errors import SimulationError

    with pytest.raises(SimulationError, match=r"box\.size\.z are still distributions"):
        GenesisEngine(boxes()).open()


# ---------------------------------------------------------------- Genesis
@pytest.mark.genesis
def test_each_box_rests_at_half_its_own_height_in_any_batching(tmp_path):
    from factory.generate.runner import run

    run(boxes(), tmp_path / "a")
    run(boxes(n_envs=1), tmp_path / "b")
    a, b = open_dataset(tmp_path / "a"), open_dataset(tmp_path / "b")
    heights = set()
    for i in range(6):
        ea, eb = a.episode(i), b.episode(i)
        h = ea.params["box__size__z"]
        heights.add(h)
        assert ea.states[-1][2] == pytest.approx(h / 2, abs=2e-3)  # resting centre height of a box of height h
        np.testing.assert_array_equal(ea.states, eb.states)
    assert heights == {0.1, 0.3}


@pytest.mark.genesis
def test_liquid_volume_and_viscosity_vary_by_scene(tmp_path):
    from factory.generate.engine_cache import cached_engine
    from factory.generate.runner import run

    recipe = with_scene(shipped("fluid/dam_break.yaml", episodes=2, steps=50, n_envs=1, seed=0),
                        fluid__block__size=[{"type": "choice", "values": [0.1, 0.2]}, 0.27, 0.24],
                        fluid__viscosity={"type": "choice", "values": [0.005, 0.02]},
                        fluid__record_points=256)
    draws = [scene_draws(recipe, i) for i in range(2)]
    assert draws[0]["fluid.block.size.x"] != draws[1]["fluid.block.size.x"]  # seed 0 draws both widths
    run(recipe, tmp_path / "ds")
    ds = open_dataset(tmp_path / "ds")
    for i, drawn in enumerate(draws):
        pos0 = ds.episode(i).points["particle_pos"][0]
        width = np.ptp(pos0[:, 0])
        assert width == pytest.approx(drawn["fluid.block.size.x"], abs=2 * 0.02)  # the block's x extent
        engine, _ = cached_engine(pin_scene(recipe, drawn))
        assert engine._built.points.material.mu == drawn["fluid.viscosity"]


@pytest.mark.genesis
def test_cloth_size_ball_radius_and_stiffness_vary_by_scene(tmp_path):
    from factory.generate.engine_cache import cached_engine
    from factory.generate.runner import run
    from factory.labels import episode_context

    recipe = with_scene(shipped("cloth/drape.yaml", episodes=2, steps=45, n_envs=1, scene_variants=2),
                        cloth__size={"type": "uniform", "low": 0.35, "high": 0.6},
                        objects__0__shape__radius={"type": "uniform", "low": 0.08, "high": 0.15},
                        cloth__stretch_compliance={"type": "log_uniform", "low": 1e-8, "high": 1e-6},
                        cloth__record_points=1000)  # a smaller sheet has fewer vertices
    run(recipe, tmp_path / "ds")
    ds = open_dataset(tmp_path / "ds")
    context = episode_context(recipe, ds.layout)
    sizes = []
    for i in range(2):
        ep = ds.episode(i)
        size = ep.params["cloth__size"]
        sizes.append(size)
        pos0 = ep.points["vertex_pos"][0]
        assert np.ptp(pos0[:, 0]) == pytest.approx(size, rel=0.02)  # the sheet's edge at step 0
        params = {k.replace("__", "."): v for k, v in ep.params.items()}
        assert context(params).object_radius == params["ball.radius"]
        engine, _ = cached_engine(pin_scene(recipe, scene_draws(recipe, i)))
        assert engine._built.points.material.stretch_compliance == params["cloth.stretch_compliance"]
    assert sizes[0] != sizes[1]


@pytest.mark.genesis
def test_a_variant_too_small_for_record_points_stops_the_run_and_the_fixed_recipe_starts_clean(tmp_path):
    from factory.errors import EngineUnsupported
    from factory.generate.runner import run

    def dam(record_points: int) -> Recipe:  # seed 0: episode 0 draws the 4 cm block (~420 particles)
        return with_scene(shipped("fluid/dam_break.yaml", episodes=2, steps=50, n_envs=1, seed=0,
                                  outputs={"formats": ["parquet"], "record_every": 5, "shard_size": 1}),
                          fluid__block__size=[{"type": "choice", "values": [0.04, 0.2]}, 0.27, 0.24],
                          fluid__record_points=record_points)

    out = tmp_path / "ds"
    with pytest.raises(EngineUnsupported, match=r"record_points: asks for 512 points but Genesis made \d+ "
                                                r"for the scene with .*fluid.block.size.x=0.04"):
        run(dam(512), out)
    assert not (out / ".factory" / "run.json").exists()  # no shard finished: no run left to resume
    run(dam(256), out)  # so the corrected recipe is not refused as a different one
    assert open_dataset(out).episode(1).points["particle_pos"].shape[1] == 256


def test_a_process_keeps_open_every_scene_a_shard_cycles_through():
    """A shard's batches cycle through its scene variants; each is built once per process, not once a batch."""
    pytest.importorskip("mujoco")
    from factory.generate.engine_cache import _engines, cached_engine, scene_key

    recipe = uniform_width(engine={"type": "mujoco"}, scene_variants=4, episodes=8)
    variants = [pin_scene(recipe, scene_draws(recipe, i)) for i in range(4)]
    try:
        first = [cached_engine(v)[0] for v in variants]
        assert len({id(e) for e in first}) == 4  # four scenes
        assert [cached_engine(v)[0] for v in variants] == first  # the second shard reuses them all
    finally:  # leave the process's cache to the Genesis scenes other tests share
        for v in variants:
            if (entry := _engines.pop(scene_key(v), None)) is not None:
                entry[0].close()
