"""A Panda on Genesis: the same state, actions and contacts as on MuJoCo, the same pushes within
millimetres, an episode's bytes the same alone and in a batch, and IK over Genesis' own kinematics."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import robot_push

from engines.genesis.engine import GenesisEngine
from engines.mujoco.engine import MuJoCoEngine
from factory.contract.sampling import sample_episodes
from factory.labels import label_context, label_rollouts

pytestmark = pytest.mark.genesis

EPISODES = [0, 1]
# Measured over push_cube's first 16 noise-free pushes on both engines (2026-12-05, docs/recipes/robots.md):
# joint positions at most 18 mrad apart, tool points 6.3 mm, final cube positions 5.4 mm (episode 0;
# episode 1: 10 mrad, 2.4 mm, 0.7 mm), the largest tracking errors within 5 mrad of each other.
JOINT_GAP, TOOL_GAP, CUBE_GAP, TRACKING_GAP = 0.02, 0.008, 0.008, 0.01


def _run(engine_class, recipe, indices):
    engine = engine_class(recipe)
    try:
        specs = sample_episodes(recipe, indices)
        rollouts = engine.run_batch(specs)
        alone = engine.run_batch(specs[-1:])[0]
        chain = engine._robots.parts[0].chain if engine_class is GenesisEngine else None
    finally:
        engine.close()
    records = label_rollouts(rollouts, [s.params for s in specs], label_context(recipe, engine.layout))
    return engine.layout, records, alone, chain


@pytest.fixture(scope="module")
def pushes():
    """The same two pushes on both engines: (layout, labelled records, the last episode run alone, chain)."""
    short = {"n_envs": 2, "episodes": 2}
    return {"genesis": _run(GenesisEngine, robot_push("genesis", **short), EPISODES),
            "mujoco": _run(MuJoCoEngine, robot_push("mujoco", **short), EPISODES)}


def test_both_engines_write_the_same_layout(pushes):
    assert pushes["genesis"][0].to_dict() == pushes["mujoco"][0].to_dict()
    assert "arm/hand" in pushes["genesis"][0].bodies


def test_genesis_pushes_the_cube_as_mujoco_does(pushes):
    layout, genesis, _, _ = pushes["genesis"]
    _, mujoco, _, _ = pushes["mujoco"]
    start, stop = layout.robot_span("arm")
    for g, m in zip(genesis, mujoco, strict=True):
        gs, ms = g.rollout.states, m.rollout.states
        assert np.abs(gs[:, start:start + 7] - ms[:, start:start + 7]).max() < JOINT_GAP
        assert np.linalg.norm(gs[:, stop - 7:stop - 4] - ms[:, stop - 7:stop - 4], axis=1).max() < TOOL_GAP
        cube = np.linalg.norm(layout.field(gs, "cube", "pos")[-1] - layout.field(ms, "cube", "pos")[-1])
        assert cube < CUBE_GAP
        assert g.episode_labels["displacement__cube"] > 0.05 and g.episode_labels["pushed_to_target__cube"]
        assert abs(g.episode_labels["first_robot_contact__arm__cube"]
                   - m.episode_labels["first_robot_contact__arm__cube"]) <= 1


def test_the_arm_tracks_as_on_mujoco_and_settles(pushes):
    for g, m in zip(pushes["genesis"][1], pushes["mujoco"][1], strict=True):
        held = g.step_labels["tracking_error__arm"][-10:]  # the push's last tenth holds its end point
        assert held[-1] < 0.02
        worst = g.episode_labels["max_tracking_error__arm"]
        assert abs(worst - m.episode_labels["max_tracking_error__arm"]) < TRACKING_GAP


def test_an_episode_alone_and_in_a_batch_is_the_same_bytes(pushes):
    _, records, alone, _ = pushes["genesis"]
    batch = records[-1].rollout
    assert alone.states.tobytes() == batch.states.tobytes() and alone.actions.tobytes() == batch.actions.tobytes()
    assert all(getattr(alone.contacts, c).tobytes() == getattr(batch.contacts, c).tobytes()
               for c in alone.contacts.COLUMNS)


def test_contacts_name_the_links_and_leave_out_self_contacts(pushes):
    layout, records, _, _ = pushes["genesis"]
    robot = {i for i, name in enumerate(layout.bodies) if name.startswith("arm/")}
    cube, root = layout.bodies.index("cube"), layout.bodies.index("arm/link0")
    for r in records:
        contacts = r.rollout.contacts
        pairs = set(zip(contacts.body_a.tolist(), contacts.body_b.tolist(), strict=True))
        assert any(cube in p and robot & set(p) for p in pairs)  # the fingers or hand on the cube
        assert not any(set(p) <= robot for p in pairs) and (0, root) not in pairs and (root, 0) not in pairs


def test_the_ik_chain_is_genesis_kinematics(pushes):
    """The chain's tool point at each recorded configuration is where Genesis put the tool."""
    layout, records, _, chain = pushes["genesis"]
    start, stop = layout.robot_span("arm")
    n = len(layout.robots[0].joints)
    for state in records[0].rollout.states[::5].astype(np.float64):
        assert np.abs(chain.tool(state[start:start + n]) - state[stop - 7:stop - 4]).max() < 1e-5
