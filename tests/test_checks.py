"""Model-free data checks: pure functions on hand-made arrays, and corrupted real datasets."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from factory import checks, open_dataset
from factory.contract.rollout import Layout
from factory.labels.collision import LabelContext
from factory.model.split import episode_info, quality_options
from factory.recipe.loader import load_recipe
from factory.report.data_checks import check_dataset, parameter_coverage
from factory.report.verdict import verdict

G = np.array([0.0, 0.0, -9.81])
LAYOUT = Layout(("ball",), ("ground", "ball"), 0.01)
BALL = {"ball": checks.make_body("sphere", 2.0, (0.1,))}


def _states(pos, vel) -> np.ndarray:
    """A ball's states from positions and velocities (identity orientation, no spin)."""
    n = len(pos)
    return np.concatenate([pos, np.tile([1.0, 0, 0, 0], (n, 1)), vel, np.zeros((n, 3))], 1)


def _free_fall(steps: int = 50) -> np.ndarray:
    t = np.arange(steps + 1)[:, None] * 0.01
    v0 = np.array([1.0, 0.5, 2.0])
    return _states(np.array([0, 0, 1.0]) + v0 * t + 0.5 * G * t ** 2, v0 + G * t)


def test_free_fall_keeps_its_energy_and_noise_gains_some():
    states, actions = _free_fall(), np.zeros((50, 3))
    assert checks.energy_gain(states, actions, LAYOUT, BALL, G) < 1e-3
    noisy = states + np.random.default_rng(0).normal(0, 0.05, states.shape)
    assert checks.energy_gain(noisy, actions, LAYOUT, BALL, G) > 0.05


def _bounce(e: float) -> np.ndarray:
    """A ball (r = 0.1) falling at 2 m/s onto the ground, one recorded state inside the impact
    (its energy in the contact spring, unrecorded), leaving at 2e m/s."""
    z = np.array([0.3, 0.2, 0.099, 0.1 + 0.02 * e, 0.1 + 0.04 * e])[:, None]
    v = np.array([-2.0, -2.0, 0.0, 2 * e, 2 * e])[:, None]
    zeros = np.zeros((5, 2))
    return _states(np.hstack([zeros, z]), np.hstack([zeros, v]))


def test_an_elastic_bounce_keeps_its_energy_and_a_gaining_one_fails():
    """Energy that comes back out of a contact spring is no gain; a bounce with e > 1 is."""
    actions, none = np.zeros((4, 3)), {"ball": checks.make_body("sphere", 2.0, (0.1,))}
    g0 = np.zeros(3)  # gravity off: the bounce's energy is all kinetic
    assert checks.energy_gain(_bounce(1.0), actions, LAYOUT, none, g0) == pytest.approx(0.0, abs=1e-6)
    assert checks.energy_gain(_bounce(0.8), actions, LAYOUT, none, g0) == pytest.approx(0.0, abs=1e-6)
    # of the peak
    assert checks.energy_gain(_bounce(1.1), actions, LAYOUT, none, g0) == pytest.approx(1 - 1 / 1.1 ** 2, rel=1e-3)


def test_energy_may_rise_after_a_push_but_not_past_its_level_after_it():
    states = _bounce(1.0)
    actions = np.zeros((4, 3))
    actions[0] = [0, 0, 1.0]  # the first transition is pushed: its end state resets the reference
    g0 = np.zeros(3)
    assert checks.energy_gain(states, actions, LAYOUT, BALL, g0) == pytest.approx(0.0, abs=1e-6)
    assert checks.passive_rise(np.array([1.0, 3.0, 2.0, 3.5]), np.array([True, False, False])).tolist() == \
        [-np.inf, -1.0, 0.5]


def test_spin_counts_in_kinetic_energy():
    states = _states(np.zeros((2, 3)), np.zeros((2, 3)))
    states[:, 10:13] = [0, 0, 10.0]
    kinetic, _ = checks.energies(states, LAYOUT, BALL, G)
    np.testing.assert_allclose(kinetic, 0.5 * 0.4 * 2.0 * 0.1 ** 2 * 100)


def test_push_residual_tells_real_pushes_from_shuffled_ones():
    vel = np.zeros((11, 3))
    vel[4:] = [1.5, 0, 0]  # a 3 N·s push on 2 kg during transition 3
    states = _states(np.zeros((11, 3)), vel)
    actions = np.zeros((10, 3))
    actions[3] = [3.0, 0, 0]
    assert checks.action_residuals(states, actions, LAYOUT, BALL) == pytest.approx([0.0])
    assert checks.action_residuals(states, np.roll(actions, 4, 0), LAYOUT, BALL) == pytest.approx([1.0])


def test_nonfinite_and_duplicates():
    a = np.ones((3, 2))
    a[1, 1] = np.nan
    assert checks.nonfinite(a, np.array([np.inf, 1.0])) == 2
    s = _free_fall()
    assert checks.episode_digest(s, np.zeros(3)) == checks.episode_digest(s + 1e-9, np.zeros(3))
    assert checks.episode_digest(s, np.zeros(3)) != checks.episode_digest(s + 1e-3, np.zeros(3))


def test_coverage_and_declared_ranges_from_a_recipe():
    recipe = load_recipe(Path(__file__).parent.parent / "recipes/collision/push_target.yaml").model_dump(mode="json")
    assert checks.declared_range(checks.recipe_value(recipe, "ball.mass")) == (0.2, 1.0, False)
    assert checks.declared_range(checks.recipe_value(recipe, "ball.pos.z")) is None
    assert checks.declared_range(checks.recipe_value(recipe, "actions.0.heading_deg")) == (-50.0, 50.0, False)
    assert checks.recipe_value(recipe, "target.size.x") == 0.15
    spread = checks.coverage(np.linspace(0.2, 1.0, 50), 0.2, 1.0, bins=10)
    clumped = checks.coverage(np.full(50, 0.3), 0.2, 1.0, bins=10)
    assert spread["filled"] == 1.0 and clumped["filled"] == 0.1 and sum(clumped["counts"]) == 50


def test_a_scene_field_drawn_for_k_variants_is_asked_to_fill_k_bins():
    """mugs_tumble draws its mug's sizes for 4 scenes: 4 values spread over the range fill all they can, while
    the drop height, drawn per episode, is still asked to fill a bin per 5 episodes."""
    recipe = load_recipe(Path(__file__).parent.parent / "recipes/collision/mugs_tumble.yaml").model_dump(mode="json")
    radii, heights = [0.032, 0.038, 0.043, 0.049], np.linspace(0.15, 0.3, 40)
    info = {i: {"params": {"mug.radius": radii[i % 4], "mug.pos.z": 0.16 if i % 2 else heights[i]}} for i in range(40)}
    coverage = parameter_coverage(recipe, info)
    assert coverage["mug.radius"]["filled"] == 1.0 and len(coverage["mug.radius"]["counts"]) == 4
    assert len(coverage["mug.pos.z"]["counts"]) == 8


def test_labels_that_contradict_states_are_named():
    ctx = LabelContext(LAYOUT, frozenset(), 0.0, None, 0.02, 0.0)
    states = _free_fall()
    states[:, 2] = np.maximum(states[:, 2], 0.1)
    truth = checks.label_readouts(states, ctx, BALL)
    assert checks.label_mismatches(states, truth, ctx, BALL) == []
    wrong = truth | {"max_speed__ball": truth["max_speed__ball"] * 0.5, "came_to_rest": True}
    assert set(checks.label_mismatches(states, wrong, ctx, BALL)) == {"max_speed__ball", "came_to_rest"}


def test_a_scene_where_nothing_moves_has_no_rest_to_contradict():
    ctx = LabelContext(LAYOUT, frozenset({"ball"}), 0.0, None, 0.02, 0.0)
    still = _states(np.tile([0, 0, 0.1], (5, 1)), np.zeros((5, 3)))
    assert checks.label_mismatches(still, {"came_to_rest": True, "rest_step": 0}, ctx, BALL) == []


def corrupt(src: Path, dst: Path, how: str) -> Path:
    """A Parquet-only copy of a dataset with actions shuffled across transitions or states noised."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("hdf5", "stats.json", "report"))
    rng = np.random.default_rng(0)
    column = {"actions": "action", "states": "state"}[how]
    for path in sorted((dst / "parquet" / "transitions").glob("*.parquet")):
        table = pq.read_table(path)
        arr = table[column].combine_chunks()
        x = arr.flatten().to_numpy().reshape(-1, arr.type.list_size).copy()
        x = x[rng.permutation(len(x))] if how == "actions" else x + rng.normal(0, 0.01, x.shape).astype(np.float32)
        values = pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), arr.type.list_size)
        pq.write_table(table.set_column(table.column_names.index(column), column, values), path)
    manifest = json.loads((dst / "manifest.json").read_text())
    manifest["formats"] = ["parquet"]  # checksums now differ from the data: exactly what corruption is
    (dst / "manifest.json").write_text(json.dumps(manifest))
    return dst


def _check(path: Path) -> tuple[dict, dict]:
    ds = open_dataset(path, "parquet")
    result = check_dataset(ds, episode_info(ds.episodes()))
    return result, verdict(result, None, quality_options(ds))


def test_clean_dataset_passes_every_check(push_target_32):
    result, v = _check(push_target_32)
    assert v["passed"], v
    assert result["episodes"] == 32 and result["action_residual"]["pushes"] > 0


@pytest.mark.parametrize("how, failing", [
    ("actions", {"energy gain without action (fraction)", "push response residual (median)"}),
    ("states", {"energy gain without action (fraction)", "episodes with labels contradicting states"}),
])
def test_corrupted_dataset_is_flagged(push_target_32, tmp_path, how, failing):
    _result, v = _check(corrupt(push_target_32, tmp_path / how, how))
    assert not v["passed"] and not v["aspects"]["consistent"]
    assert failing <= {c["name"] for c in v["criteria"] if not c["passed"]}
