"""Per-episode sampling depends only on (seed, episode index, parameter name)."""

from __future__ import annotations

import math
import zlib
from pathlib import Path

import numpy as np
import pytest

from factory.contract.sampling import (
    episode_rng,
    euler_to_quat,
    sample_episode,
    sample_episodes,
    transition_impulses,
)
from factory.contract.seeds import Reseeded, pcg64_seeds
from factory.recipe.distributions import Choice, LogUniform, Normal, Uniform
from factory.recipe.loader import load_recipe, parse_recipe

RECIPE = """\
name: demo
engine: genesis
seed: 3
episodes: 100
steps: 100
dt: 0.01
scene:
  objects:
    - name: ball
      shape: {type: sphere, radius: 0.1}
      mass: {type: uniform, low: 0.5, high: 2.0}
      friction: {type: choice, values: [0.2, 0.4]}
      pos: [{type: normal, mean: 0, std: 1, low: -0.5, high: 0.5}, 0, 0.1]
actions:
  - type: random_push
    object: ball
    step: {type: uniform, low: 10, high: 20}
    impulse: 2.0
    probability: 0.5
  - type: push
    object: ball
    at: [50]
    force: [3, 0, 0]
    duration: 4
"""


@pytest.fixture
def recipe():
    return parse_recipe(RECIPE)


def test_same_index_same_values(recipe):
    a, b = sample_episode(recipe, 17), sample_episode(recipe, 17)
    assert a.params == b.params
    assert np.array_equal(a.forces, b.forces)


def test_different_indices_differ(recipe):
    masses = {sample_episode(recipe, i).params["ball.mass"] for i in range(20)}
    assert len(masses) == 20


def test_changing_one_distribution_leaves_others(recipe):
    other = parse_recipe(RECIPE.replace("impulse: 2.0", "impulse: {type: uniform, low: 1, high: 3}"))
    for i in range(5):
        assert sample_episode(recipe, i).params["ball.mass"] == sample_episode(other, i).params["ball.mass"]


def test_values_stay_in_support(recipe):
    for i in range(200):
        p = sample_episode(recipe, i).params
        assert 0.5 <= p["ball.mass"] <= 2.0
        assert p["ball.friction"] in (0.2, 0.4)
        assert -0.5 <= p["ball.pos.x"] <= 0.5


def test_forces_schedule(recipe):
    spec = sample_episode(recipe, 0)
    # scripted force: 3 N for 4 steps from step 50
    assert np.allclose(spec.forces[50:54, 0], [3, 0, 0]) and not spec.forces[54:].any()
    # random push: impulse 2 N*s as 2/dt N for one step in [10, 20], in about half the episodes
    applied = 0
    for i in range(200):
        s = sample_episode(recipe, i)
        pushed = np.flatnonzero(np.abs(s.forces[:50, 0]).sum(-1))
        if s.params["actions.0.applied"]:
            applied += 1
            assert len(pushed) == 1 and 10 <= pushed[0] <= 20
            assert math.isclose(np.linalg.norm(s.forces[pushed[0], 0]) * recipe.dt, 2.0, rel_tol=1e-9)
        else:
            assert len(pushed) == 0
    assert 70 < applied < 130


def test_transition_impulses_sum_over_recorded_steps():
    forces = np.zeros((6, 1, 3))
    forces[1, 0] = [10, 0, 0]
    forces[4, 0] = [0, 5, 0]
    actions = transition_impulses(forces, dt=0.1, record_every=3)
    assert actions.shape == (2, 3)
    assert np.allclose(actions, [[1, 0, 0], [0, 0.5, 0]])


@pytest.mark.parametrize("euler,expected", [
    ((0, 0, 0), (1, 0, 0, 0)),
    ((180, 0, 0), (0, 1, 0, 0)),
    ((0, 0, 90), (math.cos(math.pi / 4), 0, 0, math.sin(math.pi / 4))),
])
def test_euler_to_quat(euler, expected):
    assert np.allclose(euler_to_quat(euler), expected, atol=1e-12)


def test_distribution_moments():
    rng = np.random.default_rng(0)
    u = [Uniform(type="uniform", low=1, high=3).sample(rng) for _ in range(4000)]
    assert abs(np.mean(u) - 2) < 0.05
    n = [Normal(type="normal", mean=5, std=2).sample(rng) for _ in range(4000)]
    assert abs(np.mean(n) - 5) < 0.1 and abs(np.std(n) - 2) < 0.1
    lu = np.log([LogUniform(type="log_uniform", low=0.1, high=10).sample(rng) for _ in range(4000)])
    assert abs(lu.mean()) < 0.1
    c = [Choice(type="choice", values=[1, 2], weights=[3, 1]).sample(rng) for _ in range(4000)]
    assert abs(np.mean(np.array(c) == 1) - 0.75) < 0.03


@pytest.mark.parametrize("seed, index, name", [(0, 0, ""), (2026, 17, "ball.mass"), (2**32, 2**32 - 1, "a"),
                                               (2**70 + 3, 10**12, "actions.0.heading_deg")])
def test_episode_rng_draws_what_default_rng_draws(seed, index, name):
    """The cheaper generator construction keeps every dataset's values: same stream as default_rng."""
    expected = np.random.default_rng([seed, index, zlib.crc32(name.encode())])
    assert np.array_equal(episode_rng(seed, index, name).random(8), expected.random(8))


def test_generators_seeded_together_are_numpys_own():
    """pcg64_seeds hashes entropy as SeedSequence does, for any number of words, and a re-seeded
    generator then draws what `default_rng` of the same words draws, for every distribution."""
    rng = np.random.default_rng(5)
    reseeded = Reseeded()
    for length in range(1, 7):
        words = rng.integers(0, 2**32, size=(40, length), dtype=np.uint64).astype(np.uint32)
        words[0] = 0
        seeds = pcg64_seeds(words)
        for row, seed in zip(words, seeds.tolist(), strict=True):
            assert list(seed) == np.random.SeedSequence(row).generate_state(4, np.uint64).tolist()
            for draw in (lambda g: g.normal(0, 25), lambda g: g.random(3),
                         lambda g: g.choice(5, p=[.1, .2, .3, .2, .2])):
                assert np.array_equal(draw(reseeded.seeded(seed)), draw(np.random.default_rng(row)))


@pytest.mark.parametrize("recipe_path", ["collision/push_target.yaml", "fluid/pour.yaml", "cloth/drape.yaml"])
def test_a_shard_sampled_together_is_sampled_episode_by_episode(recipe_path):
    recipe = load_recipe(Path(__file__).parent.parent / "recipes" / recipe_path)
    indices = [7, *range(20, 50), 2**32 + 1]
    for one, together in zip([sample_episode(recipe, i) for i in indices], sample_episodes(recipe, indices),
                             strict=True):
        assert (one.index, one.params, one.bodies, one.ground_friction, one.points_shift) == \
            (together.index, together.params, together.bodies, together.ground_friction, together.points_shift)
        assert np.array_equal(one.forces, together.forces) and np.array_equal(one.velocities, together.velocities)
