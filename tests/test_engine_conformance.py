"""`factory.generate.conformance.check_engine` over every registered engine (Gymnasium check_env style).

MuJoCo runs in the default run; Genesis is marked `genesis` (kernel builds); Unity drives the
protocol peer build (marked `unity`). A new engine must be added here: the last test fails otherwise.
"""

from __future__ import annotations

import pytest

from engines import ENGINES
from factory.generate.conformance import ConformanceError, check_engine, check_refuses

# a short push_target: three shapes on a table, a random push, contacts of every kind
CHECKED = {"mujoco": (), "genesis": (pytest.mark.genesis,), "unity": (pytest.mark.unity,)}


def _push_target(engine: str, **update):
    from helpers import small

    return small("push_target", **({"engine": engine, "steps": 60, "n_envs": 4,
                                    "actions": [{"type": "random_push", "object": "ball", "step": 5,
                                                 "impulse": {"type": "uniform", "low": 0.5, "high": 1.0},
                                                 "heading_deg": {"type": "uniform", "low": -20, "high": 20}}],
                                    "outputs": {"formats": ["parquet"], "record_every": 5}} | update))


def test_every_registered_engine_is_checked():
    assert set(ENGINES) == set(CHECKED)


def test_mujoco_conforms():
    batch = check_engine("mujoco", _push_target("mujoco"))
    assert any(len(r.contacts) for r in batch)  # the check saw contacts to check


def test_mujoco_conforms_at_any_thread_count():
    one = check_engine("mujoco", _push_target({"type": "mujoco", "threads": 1}), alone=0)
    three = check_engine("mujoco", _push_target({"type": "mujoco", "threads": 3}), alone=0)
    for a, b in zip(one, three, strict=True):
        assert a.states.tobytes() == b.states.tobytes()
        assert a.contacts.force_on_a.tobytes() == b.contacts.force_on_a.tobytes()


@pytest.mark.genesis
def test_genesis_conforms():
    check_engine("genesis", _push_target("genesis"))


@pytest.mark.unity
def test_unity_conforms():
    pytest.importorskip("mlagents_envs")
    from unity_peer import recipe

    check_engine("unity", recipe(n_envs=4))


@pytest.mark.parametrize("engine", [pytest.param(e, marks=marks) for e, marks in CHECKED.items()])
def test_a_robot_recipe_conforms_on_every_engine_that_takes_one(engine):
    """A short push: shapes, actions, contacts naming the arm's links, one episode alone as in its batch."""
    from helpers import robot_push

    if engine == "unity":  # its builds simulate impulses on rigid bodies: it refuses, saying so
        pytest.importorskip("mlagents_envs")
        check_refuses("unity", robot_push({"type": "unity", "behavior_name": "x"}), "robots")
        return
    recipe = robot_push(engine, steps=200, n_envs=2, episodes=2)
    batch = check_engine(engine, recipe, alone=1)
    assert batch[0].actions.shape == (20, 8) and all(len(r.contacts) for r in batch)


def test_refusal_must_name_the_field():
    with pytest.raises(ConformanceError, match="accepted a recipe"):
        check_refuses("mujoco", _push_target("mujoco"), "kind")
