"""The Unity adapter's pure parts: recipe checks, vector mapping, parameters, the label wire format."""

from __future__ import annotations

import sys

import numpy as np
import pytest

pytest.importorskip("mlagents_envs")

from unity_peer import head_on

from engines import load_engine
from engines.unity.protocol import (
    ContactReport,
    decode_contacts,
    encode_contacts,
    episode_seed,
)
from engines.unity.scene import (
    check_representable,
    episode_parameters,
    make_layout,
    vector_map,
)
from factory.contract.sampling import sample_episode
from factory.errors import EngineNotInstalled, EngineUnsupported

pytestmark = pytest.mark.unity


def test_contact_message_round_trip():
    values = np.arange(20, dtype=np.float32).reshape(2, 10)
    report = ContactReport(3, 17, (("ground", "left"), ("left", "right")), values)
    back = decode_contacts(encode_contacts(report))
    assert (back.slot, back.step, back.pairs) == (3, 17, report.pairs)
    np.testing.assert_array_equal(back.values, values)
    with pytest.raises(ValueError, match="trailing bytes"):
        decode_contacts(encode_contacts(report) + b"\0")


def test_episode_seed_is_exact_in_float32_and_depends_on_seed_and_index():
    seeds = {episode_seed(s, i) for s in (0, 1) for i in range(50)}
    assert len(seeds) == 100 and max(seeds) < 2**24
    assert all(float(np.float32(s)) == s for s in seeds)


def test_default_vectors_follow_the_layout():
    recipe = head_on()
    layout = make_layout(recipe)
    vmap = vector_map(recipe, layout)
    assert layout.bodies == ("ground", "left", "right")
    assert vmap.obs_size == 2 + 26
    np.testing.assert_array_equal(vmap.state_in_obs, np.arange(2, 28))
    np.testing.assert_array_equal(vmap.action_from_impulse, np.arange(6))


def test_custom_observation_order_and_ignored_entries():
    layout = make_layout(head_on())
    names = ["_", *layout.state_names[13:], *layout.state_names[:13]]
    recipe = head_on({"observation": names, "action": ["right.impulse.z", "left.impulse.x"]})
    vmap = vector_map(recipe, layout)
    obs = np.zeros(vmap.obs_size)
    obs[3:16], obs[16:29] = 2.0, 1.0  # right's block, then left's, after header and one ignored entry
    state = vmap.states(obs)
    assert (state[:13] == 1.0).all() and (state[13:] == 2.0).all()
    np.testing.assert_array_equal(vmap.actions(np.arange(6.0)), [5.0, 0.0])


@pytest.mark.parametrize("engine, message", [
    ({"observation": ["left.pos.x", "left.position.y"]},
     r"engine.observation\[1\] 'left.position.y' is not a field of the scene \(did you mean 'left.pos.y'\?\)"),
    ({"observation": ["left.pos.x", "left.pos.x"]}, r"names left.pos.x more than once"),
    ({"observation": ["left.pos.x"]}, r"must name every state entry; missing left.pos.y"),
    ({"action": ["left.impulse.x"]}, r"actions\[0\] pushes 'left', but engine.action has no entry for "
                                     r"left.impulse.y, left.impulse.z"),
    ({"file_name": None, "worker_id": 2}, r"the Editor \(no file_name\) serves one connection"),
])
def test_unrepresentable_recipes_are_refused(engine, message):
    recipe = head_on(engine, actions=[{"type": "push", "object": "left", "at": [3], "impulse": [0, 1, 0]}])
    with pytest.raises(EngineUnsupported, match=message):
        check_representable(recipe, make_layout(recipe))


def test_missing_build_is_refused_before_anything_runs():
    with pytest.raises(EngineUnsupported, match=r"no Unity build at 'Builds/Nowhere'"):
        load_engine("unity")(head_on({"file_name": "Builds/Nowhere"}))


def test_episode_parameters_carry_every_sampled_value_and_derived_ones():
    recipe = head_on()
    spec = sample_episode(recipe, 5)
    params = episode_parameters(recipe, spec)
    assert spec.params.items() <= params.items()
    assert params["left.quat.w"] == 1.0 and params["ground.height"] == 0.0
    assert params["factory.episode"] == 5 and params["factory.seed"] == episode_seed(recipe.seed, 5)


def test_missing_mlagents_names_the_pip_line(monkeypatch):
    for name in [m for m in sys.modules if m.startswith("engines.unity")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "mlagents_envs", None)  # what an environment without it looks like
    with pytest.raises(EngineNotInstalled, match=r"pip install mlagents-envs==0.28.0 protobuf==3.20.3"):
        load_engine("unity")
