"""Restitution through the real ML-Agents client against the protocol peer: the pair rule with the
ground (a contact bounces with the mean of its two bodies' restitution, an unset ground's counting as
0), bounces under Unity's default threshold, and energy that never grows at any step and is lost
exactly as e says. (Drops rebounding to e²·h and head-on pairs parting with their mean e, on every
engine: test_physics_laws.py.)"""

from __future__ import annotations

import re

import numpy as np
import pytest

pytest.importorskip("mlagents_envs")

from unity_peer import BUILD, free_base_port, head_on, run

from engines.unity.protocol import KEY_BOUNCE_THRESHOLD, pair_restitution
from engines.unity.scene import (
    check_representable,
    episode_parameters,
    make_layout,
    scene_parameters,
)
from factory.contract.sampling import sample_episode
from factory.errors import EngineUnsupported, RecipeError
from factory.recipe.loader import parse_recipe

pytestmark = pytest.mark.unity
R = 0.1  # ball radius, m
G = 9.81


def engine(bodies: str) -> dict:
    return {"file_name": BUILD, "base_port": free_base_port(), "timeout_wait": 10,
            "args": ["--bodies", bodies, "--agents", "1"]}


def drop(e_ball: float, e_ground: float | None, h: float, steps: int):
    """A ball released at rest with its bottom h above the ground."""
    ground = {"friction": 0.5} | ({} if e_ground is None else {"restitution": e_ground})
    ball = {"name": "ball", "shape": {"type": "sphere", "radius": R}, "restitution": e_ball, "pos": [0, 0, R + h]}
    return head_on(engine("ball"), steps=steps, dt=0.004, n_envs=1, episodes=1,
                   scene={"ground": ground, "objects": [ball]})


@pytest.mark.parametrize("e_ball, e_ground, h, steps", [
    (0.9, 0.5, 1.0, 220),  # the mean, 0.7
    (0.7, None, 1.0, 180),  # a ground without restitution counts as 0: 0.35
    (0.6, 0.6, 0.05, 60),  # a 1 m/s impact, under Unity's default 2 m/s bounce threshold, still bounces
])
def test_dropped_ball_rebounds_to_e_squared_h(e_ball, e_ground, h, steps):
    r = drop(e_ball, e_ground, h, steps)
    (ro,), eng = run(r, [0])
    z = eng.layout.field(ro.states, "ball", "pos")[:, 2].astype(float)
    vz = eng.layout.field(ro.states, "ball", "vel")[:, 2].astype(float)
    bounce = int(np.argmax(vz > 0))
    assert bounce > 0, "the ball must bounce"
    e = pair_restitution(e_ball, e_ground or 0.0)
    rebound = z[bounce:].max() - R
    assert rebound == pytest.approx(e ** 2 * h, rel=0.01)
    energy = 0.5 * vz ** 2 + G * (z - R)  # per kg, above rest; the ball neither slides nor spins
    assert (np.diff(energy) <= 1e-5 * energy[0]).all(), "energy grew"
    assert energy[-1] <= e ** 2 * energy[0] * 1.001  # the bounce took its share, 1 - e^2


def test_head_on_collision_never_gains_energy_and_loses_exactly_what_e_says():
    """The peer's impulse contacts only take kinetic energy, step by step, in all ½·μ·v²·(1 − e²) for the
    pair's mean e (which test_physics_laws.py checks on every engine)."""
    balls = [{"name": name, "shape": {"type": "sphere", "radius": R}, "mass": m, "restitution": e,
              "pos": [x, 0, 0], "vel": [v, 0, 0]}
             for name, m, e, x, v in [("a", 1.0, 0.9, -0.5, 2.0), ("b", 2.0, 0.5, 0.5, -1.0)]]
    r = head_on(engine("a,b"), steps=150, dt=0.004, n_envs=1, episodes=1,
                scene={"gravity": [0.0, 0.0, 0.0], "ground": None, "objects": balls})
    (ro,), eng = run(r, [0])
    va, vb = (eng.layout.field(ro.states, o, "vel")[:, 0].astype(float) for o in "ab")
    assert (va[0], vb[0]) == (2.0, -1.0) and vb[-1] > va[-1], "the balls must meet and part"
    kinetic = 0.5 * 1.0 * va ** 2 + 0.5 * 2.0 * vb ** 2
    assert (np.diff(kinetic) <= 1e-6).all(), "kinetic energy grew"
    reduced, approach, e = 1.0 * 2.0 / 3.0, 3.0, (0.9 + 0.5) / 2
    assert kinetic[0] - kinetic[-1] == pytest.approx(0.5 * reduced * approach ** 2 * (1 - e ** 2), rel=1e-4)


def test_restitution_and_bounce_threshold_travel_as_parameters():
    r = drop(0.9, 0.5, 1.0, 10)
    params = episode_parameters(r, sample_episode(r, 0))
    assert (params["ball.restitution"], params["ground.restitution"]) == (0.9, 0.5)
    assert scene_parameters(r)[KEY_BOUNCE_THRESHOLD] == pytest.approx(2 * G * r.dt)  # two steps of fall


def test_drawn_restitution_is_sent_only_if_the_episodes_table_records_it():
    """Whatever the sampler does, Unity never gets a value the dataset does not record."""
    r = drop(0.5, 0.5, 1.0, 10)
    data = r.model_dump()
    data["scene"]["objects"][0]["restitution"] = {"type": "uniform", "low": 0.2, "high": 0.9}
    r = type(r).model_validate(data)
    spec = sample_episode(r, 3)
    if "ball.restitution" in spec.params:
        check_representable(r, make_layout(r))
        assert episode_parameters(r, spec)["ball.restitution"] == spec.params["ball.restitution"]
    else:
        with pytest.raises(EngineUnsupported, match=r"scene.objects.0.restitution: the factory does not draw "
                                                    r"restitution per episode"):
            check_representable(r, make_layout(r))


DROP = """\
name: drop
engine: genesis
seed: 1
episodes: 1
steps: 10
dt: 0.01
n_envs: 1
scene:
  ground: {friction: 0.5, restitution: 1.5}
  objects:
    - name: ball
      shape: {type: sphere, radius: 0.1}
      pos: [0, 0, 1]
"""


def test_ground_restitution_out_of_range_is_a_located_recipe_error():
    with pytest.raises(RecipeError) as info:
        parse_recipe(DROP, "r.yaml")
    assert any(re.search(r"line 9: scene.ground.restitution: must be >= 0.0 and <= 1.0, but can take 1.5", p)
               for p in info.value.problems), info.value.problems


def test_genesis_honours_ground_restitution_too():
    """Genesis takes the ground's restitution under the same pair rule (engines/genesis/restitution.py)."""
    from engines.genesis import restitution
    from engines.genesis.scene import check_representable as genesis_check
    from engines.genesis.scene import contact_dampratios

    recipe = parse_recipe(DROP.replace("restitution: 1.5", "restitution: 0.5"))
    genesis_check(recipe)
    zetas = contact_dampratios(recipe)
    ball = recipe.scene.objects[0].restitution or 0.0
    assert restitution.restitution_of((zetas["ball"] + zetas["ground"]) / 2) == pytest.approx((ball + 0.5) / 2)
