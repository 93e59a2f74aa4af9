"""A Panda on Genesis: the same state, actions and contacts as on MuJoCo, the same pushes within
millimetres, the actuators' gains as MuJoCo means them, and IK over Genesis' own kinematics. (An
episode alone and in a batch: the conformance check, `tests/test_engine_conformance.py`.)"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest
from helpers import robot_push

from engines.genesis.engine import GenesisEngine
from engines.mujoco.engine import MuJoCoEngine
from factory.contract.sampling import sample_episodes
from factory.errors import EngineUnsupported
from factory.labels import label_context, label_rollouts

pytestmark = pytest.mark.genesis

EPISODES = [0, 1]
# Measured over push_cube's first 16 noise-free pushes with the file's gains (2026-12-05,
# docs/recipes/robots.md): joint positions at most 18 mrad apart, tool points 6.3 mm, final cube
# positions 5.4 mm, the largest tracking errors within 5 mrad of each other. With the recipe's gains
# below, the cube of episode 0 ended 12.9 mm apart: where the fingers meet the cube decides the rest.
# Commanded in ee_delta, a tracking error is the tool point's miss (m): on 2 s pushes within ±30° it
# reached 37 mm on both engines, 0.1 mm apart.
JOINT_GAP, TOOL_GAP, CUBE_GAP, TRACKING_GAP = 0.02, 0.008, 0.02, 0.01

GAINS = {"kd": {"joint1": 500.0, "joint2": 500.0}}  # the recipe's gains over the file's (450) for two joints
# commanded as tool moves (ee_delta): IK turns them into joint targets on each engine; `factory compare`'s
# test holds the joint-target space (joint_position) to the same bounds
ARM = {"controller": GAINS, "action_space": "ee_delta"}


class Run(NamedTuple):
    layout: object
    records: list  # labelled EpisodeRecords of the batch
    chain: object  # Genesis: the arm's kinematic chain
    gains: tuple | None  # Genesis: the arm's actuator gains and biases (env 0)


def _run(engine_class, recipe, indices) -> Run:
    engine = engine_class(recipe)
    try:
        specs = sample_episodes(recipe, indices)
        rollouts = engine.run_batch(specs)
        genesis = engine._robots.parts[0] if engine_class is GenesisEngine else None
        gains = (genesis.entity.get_dofs_act_gain()[0].numpy(),
                 np.stack([b[0].numpy() for b in genesis.entity.get_dofs_act_bias()])) if genesis else None
    finally:
        engine.close()
    records = label_rollouts(rollouts, [s.params for s in specs], label_context(recipe, engine.layout))
    return Run(engine.layout, records, genesis.chain if genesis else None, gains)


@pytest.fixture(scope="module")
def pushes():
    """The same two pushes on both engines."""
    short = {"n_envs": 2, "episodes": 2}
    return {"genesis": _run(GenesisEngine, robot_push("genesis", ARM, **short), EPISODES),
            "mujoco": _run(MuJoCoEngine, robot_push("mujoco", ARM, **short), EPISODES)}


def test_both_engines_write_the_same_layout(pushes):
    assert pushes["genesis"].layout.to_dict() == pushes["mujoco"].layout.to_dict()
    assert "arm/hand" in pushes["genesis"].layout.bodies and "arm.ee.dyaw" in pushes["genesis"].layout.action_names


def test_genesis_pushes_the_cube_as_mujoco_does(pushes):
    layout, genesis, mujoco = pushes["genesis"].layout, pushes["genesis"].records, pushes["mujoco"].records
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
    for g, m in zip(pushes["genesis"].records, pushes["mujoco"].records, strict=True):
        held = g.step_labels["tracking_error__arm"][-10:]  # the push's last tenth holds its end point
        assert held[-1] < 0.02  # m: the tool within 2 cm of where its last move sent it
        worst = g.episode_labels["max_tracking_error__arm"]
        assert abs(worst - m.episode_labels["max_tracking_error__arm"]) < TRACKING_GAP


def test_contacts_name_the_links_and_leave_out_self_contacts(pushes):
    layout, records = pushes["genesis"].layout, pushes["genesis"].records
    robot = {i for i, name in enumerate(layout.bodies) if name.startswith("arm/")}
    cube, root = layout.bodies.index("cube"), layout.bodies.index("arm/link0")
    for r in records:
        contacts = r.rollout.contacts
        pairs = set(zip(contacts.body_a.tolist(), contacts.body_b.tolist(), strict=True))
        assert any(cube in p and robot & set(p) for p in pairs)  # the fingers or hand on the cube
        assert not any(set(p) <= robot for p in pairs) and (0, root) not in pairs and (root, 0) not in pairs


def test_the_ik_chain_is_genesis_kinematics(pushes):
    """The chain's tool point at each recorded configuration is where Genesis put the tool."""
    layout, records, chain = pushes["genesis"].layout, pushes["genesis"].records, pushes["genesis"].chain
    start, stop = layout.robot_span("arm")
    n = len(layout.robots[0].joints)
    for state in records[0].rollout.states[::5].astype(np.float64):
        assert np.abs(chain.tool(state[start:start + n]) - state[stop - 7:stop - 4]).max() < 1e-5


def test_the_actuators_mean_what_they_mean_on_mujoco(pushes):
    """The file's gains, the recipe's over them, and the tendon gripper's half share on each finger."""
    gain, bias = pushes["genesis"].gains
    assert gain[:7].tolist() == [4500, 4500, 3500, 3500, 2000, 2000, 2000]
    assert bias[2, :7].tolist() == [-500, -500, -350, -350, -200, -200, -200]  # kd: the recipe's for joints 1-2
    assert gain[7:] == pytest.approx([0.5 * 0.01568627451] * 2) and bias[1, 7:].tolist() == [-50, -50]


REFUSED = [({"file": {"package": "genesis", "path": "assets/urdf/panda_bullet/panda.urdf"}}, "robots.0.file: a URDF"),
           ({"controller": {"type": "joint_velocity", "kv": 50.0}, "action_space": "joint_velocity"},
            "robots.0.controller: the Genesis adapter drives"),
           ({"policy": {"type": "tilt", "object": "cube", "angle_deg": 90}},
            "robots.0.policy: Genesis carries a tilt.s container only over a liquid")]


@pytest.mark.parametrize("arm, message", REFUSED, ids=["urdf", "velocity", "tilt"])
def test_what_the_genesis_adapter_cannot_run_yet_is_refused_by_field(arm, message):
    with pytest.raises(EngineUnsupported, match=message):
        GenesisEngine(robot_push("genesis", arm))


def test_pick_place_opens_and_closes_the_gripper_on_genesis():
    """The policy's gripper commands reach Genesis' fingers: they open for the grasp, close on the cube,
    and the cube is carried to its place (measured: 8 of 8 grasped and placed, docs/recipes/robots.md)."""
    from helpers import shipped

    recipe = shipped("robot/pick_place.yaml", engine={"type": "genesis"}, episodes=2, n_envs=2)
    engine = GenesisEngine(recipe)
    try:
        specs = sample_episodes(recipe, [0, 1])
        records = label_rollouts(engine.run_batch(specs), [s.params for s in specs],
                                 label_context(recipe, engine.layout))
    finally:
        engine.close()
    start, _ = engine.layout.robot_span("arm")
    finger = start + engine.layout.robots[0].joints.index("finger_joint1")
    for r in records:
        grip = r.rollout.actions[:, engine.layout.action_names.index("arm.gripper")]
        assert grip.min() < 0.1 and grip.max() > 0.9  # opened and closed
        assert r.rollout.states[:, finger].max() > 0.03  # the fingers opened (range 0..0.04 m)
        assert r.episode_labels["grasped__cube"] and r.episode_labels["placed__cube"]
