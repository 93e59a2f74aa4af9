"""A Panda on a table for the robot tests: the recipe, a runner that labels a batch, a byte comparison."""

from __future__ import annotations

import numpy as np

from engines.mujoco.engine import MuJoCoEngine
from factory.contract.sampling import sample_episodes
from factory.labels import label_context, label_rollouts
from factory.recipe.loader import parse_recipe
from factory.recipe.robot_chain import link_frames

PANDA = "{package: genesis, path: assets/xml/franka_emika_panda/panda.xml}"
# The Panda file's PD gains (kd = kp / 10) make the arm lag a moving target by ~0.1 s: measured here,
# |q(t+1) - target(t)| reached 0.103 rad on random walks (~0.75 rad/s) and 0.117 rad on pushes, and fell
# to 0.012-0.015 rad after 0.24 s holding a push's last target.
MOVING_BOUND, HELD_BOUND = 0.15, 0.02

PUSH = "policy: {type: push, object: cube, heading_deg: {type: uniform, low: -30, high: 30}, distance: 0.12}"
RECIPE = f"""\
name: robot_test
engine: mujoco
seed: 7
episodes: 4
steps: 1000
dt: 0.002
n_envs: 4
scene:
  ground: {{friction: 0.4, size: [1.4, 1.2]}}
  objects:
    - name: cube
      shape: {{type: box, size: [0.05, 0.05, 0.05]}}
      mass: 0.2
      pos: [{{type: uniform, low: 0.05, high: 0.15}}, {{type: uniform, low: -0.05, high: 0.05}}, 0.025]
    - name: bystander
      shape: {{type: box, size: [0.05, 0.05, 0.05]}}
      pos: [0.1, 0.4, 0.025]
robots:
  - name: arm
    file: {PANDA}
    base: {{pos: [-0.45, 0.0, 0.0]}}
    initial: {{joint2: -0.3, joint4: -2.2, joint6: 1.9, joint7: 0.785}}
    actuated: [joint1, joint2, joint3, joint4, joint5, joint6, joint7]
    gripper: {{actuator: actuator8, open: 255, closed: 0}}
    ee_link: hand
    ee_offset: [0.0, 0.0, 0.105]
    action_space: joint_position
    {PUSH}
outputs: {{record_every: 10}}
"""
WALK = "policy: {type: random_walk, waypoints: 2, spread: 0.3}"


def run(text: str, indices: list[int]):
    recipe = parse_recipe(text)
    engine = MuJoCoEngine(recipe)
    try:
        specs = sample_episodes(recipe, indices)
        rollouts = engine.run_batch(specs)
    finally:
        engine.close()
    ctx = label_context(recipe, engine.layout)
    return engine.layout, label_rollouts(rollouts, [s.params for s in specs], ctx)


def same_bytes(a, b) -> bool:
    return (a.states.tobytes() == b.states.tobytes() and a.actions.tobytes() == b.actions.tobytes()
            and all(getattr(a.contacts, c).tobytes() == getattr(b.contacts, c).tobytes() for c in a.contacts.COLUMNS))


def assert_chain_is_mujocos(chain, model) -> None:
    """The chain's link poses (robot at the origin) equal MuJoCo's `model` at three random configurations."""
    import mujoco

    data = mujoco.MjData(model)
    rng = np.random.default_rng(1)
    for _ in range(3):
        data.qpos[:] = rng.uniform(model.jnt_range[:, 0], model.jnt_range[:, 1])
        mujoco.mj_kinematics(model, data)
        q = {model.joint(i).name: np.array([data.qpos[model.jnt_qposadr[i]]]) for i in range(model.njnt)}
        pos, rot = link_frames(chain, q, np.zeros(3), np.eye(3))
        ids = [model.body(link.name).id for link in chain]
        np.testing.assert_allclose(pos[0], data.xpos[ids], atol=1e-12)
        np.testing.assert_allclose(rot[0], data.xmat[ids].reshape(-1, 3, 3), atol=1e-12)
