"""The Unity adapter driving the protocol peer through the real `UnityEnvironment` over gRPC.

Each test launches the peer as a build (engines/unity/peer_build/PhysicsPeer.x86_64, started by
ML-Agents itself with --mlagents-port) or as the Editor (started here, connecting to the port).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import numpy as np
import pytest

pytest.importorskip("mlagents_envs")

from helpers import ROOT
from unity_peer import BUILD, recipe, run

from engines.unity import UnityEngine
from engines.unity.scene import episode_parameters, make_layout
from factory.contract.sampling import sample_episode
from factory.errors import EngineUnsupported, SimulationError

pytestmark = pytest.mark.unity


@pytest.fixture(scope="module")
def reference():
    """Episodes 0..4 run in one batch on a 2-agent build: chunks of 2, 2 and 1 (padded)."""
    r = recipe()
    rollouts, _ = run(r, range(5))
    return r, {ro.index: ro for ro in rollouts}


def test_handshake_parameters_and_initial_states(tmp_path):
    log = tmp_path / "peer.jsonl"
    r = recipe(["--record", str(log)], {"time_scale": 7})
    rollouts, engine = run(r, [3])
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert {"event": "config", "time_scale": 7.0, "target_frame_rate": -1} in events
    params = [e["params"] for e in events if e["event"] == "reset"][-1]
    spec = sample_episode(r, 3)
    expected = episode_parameters(r, spec)
    for name in ("left.mass", "right.mass", "left.vel.x", "right.vel.x", "factory.episode", "factory.seed"):
        assert params[f"0/{name}"] == np.float32(expected[name])
    assert params["factory.dt"] == pytest.approx(r.dt)
    s0 = rollouts[0].states[0]
    layout = engine.layout
    for body in spec.bodies:
        np.testing.assert_allclose(layout.field(s0, body.name, "pos"), body.pos, rtol=1e-6)
        np.testing.assert_allclose(layout.field(s0, body.name, "vel"), body.vel, rtol=1e-6)
    assert engine.info().to_dict() == {"name": "unity", "version": "mlagents-envs 0.28.0",
                                       "backend": f"build:{BUILD}"}


def test_triples_and_contacts_of_a_head_on_collision(reference):
    r, rollouts = reference
    ro = rollouts[0]
    layout = make_layout(r)
    assert ro.states.shape == (61, 26) and ro.actions.shape == (60, 6) and not ro.actions.any()
    pair = (ro.contacts.body_a == 1) & (ro.contacts.body_b == 2)
    assert pair.any(), "the spheres must meet"
    first = ro.contacts.step[pair].min()
    assert ((ro.contacts.force_on_a[pair][:, 0]) < 0).all()  # left is pushed back along -x
    on_ground = ro.contacts.body_a == 0
    assert set(ro.contacts.step[on_ground]) == set(range(1, 61))  # resting spheres touch every step
    momentum = sum(sample_episode(r, 0).bodies[i].mass * layout.field(ro.states, o, "vel")[:, 0]
                   for i, o in enumerate(layout.objects))
    assert momentum[first + 1] == pytest.approx(momentum[first - 1], rel=0.02)  # only slight floor friction
    vel = layout.field(ro.states, "left", "vel")[:, 0]
    assert vel[first + 1] < vel[first - 1]


def test_episodes_do_not_depend_on_slot_chunk_or_batch(reference):
    r, rollouts = reference
    again, _ = run(r, [4, 1])  # 4 was alone in a padded chunk, now in slot 0; 1 was in slot 1
    for ro in again:
        np.testing.assert_array_equal(ro.states, rollouts[ro.index].states)
        np.testing.assert_array_equal(ro.contacts.force_on_a, rollouts[ro.index].contacts.force_on_a)


def test_observation_mapping_reads_a_build_with_another_body_order(reference):
    r, rollouts = reference
    names = make_layout(r).state_names
    swapped = recipe(["--bodies", "right,left"], {"observation": names[13:] + names[:13]})
    again, _ = run(swapped, [0])
    np.testing.assert_array_equal(again[0].states, rollouts[0].states)


def test_actions_reach_the_build_as_impulses():
    r = recipe(actions=[{"type": "push", "object": "left", "at": [5], "impulse": [0.0, 0.5, 0.0]}])
    (ro,), engine = run(r, [0])
    mass = sample_episode(r, 0).bodies[0].mass
    vy = engine.layout.field(ro.states, "left", "vel")[:, 1]
    assert vy[5] == 0 and vy[6] == pytest.approx(0.5 / mass, rel=1e-3)
    assert ro.actions[5, 1] == pytest.approx(0.5)


def test_crashed_build_is_restarted_and_its_chunk_redone(reference, tmp_path):
    _r, rollouts = reference
    crashing = recipe(["--crash-at-step", "30", "--fault-once", str(tmp_path / "crashed")])
    again, engine = run(crashing, range(5))
    assert engine.restarts == 1 and (tmp_path / "crashed").exists()
    assert [ro.index for ro in again] == list(range(5))
    for ro in again:
        np.testing.assert_array_equal(ro.states, rollouts[ro.index].states)


def test_hung_build_is_restarted(reference, tmp_path):
    _r, rollouts = reference
    hanging = recipe(["--hang-at-step", "5", "--fault-once", str(tmp_path / "hung")], {"timeout_wait": 5})
    again, engine = run(hanging, [2])
    assert engine.restarts == 1
    np.testing.assert_array_equal(again[0].states, rollouts[2].states)


def test_build_that_keeps_crashing_fails_the_run():
    r = recipe(["--crash-at-step", "1"], {"max_restarts": 1})
    with pytest.raises(SimulationError, match=r"failed 2 times on episodes \[0\].*shut down with return code 3"):
        run(r, [0])


def test_wrong_behavior_name_is_a_clear_error():
    with pytest.raises(EngineUnsupported, match=r"no behavior 'FactoryScen' \(did you mean 'FactoryScene'\?\); "
                                                r"it has: FactoryScene\?team=0"):
        run(recipe(engine={"behavior_name": "FactoryScen"}), [0])


def test_protocol_version_mismatch_is_a_clear_error():
    with pytest.raises(SimulationError, match=r"another ML-Agents protocol.*Unity API: 2.0.0.*com.unity.ml-agents 2"):
        run(recipe(["--api-version", "2.0.0"]), [0])


def test_observation_size_mismatch_is_a_clear_error():
    with pytest.raises(EngineUnsupported, match=r"observes \[\(15,\)\], but the recipe expects one vector of 28"):
        run(recipe(["--bodies", "left"]), [0])


def test_editor_mode_connects_to_a_running_scene(reference):
    _r, rollouts = reference
    editor = recipe(engine={"file_name": None})
    peer = subprocess.Popen([sys.executable, "-m", "engines.unity.peer", "--port", str(editor.engine.base_port),
                             "--bodies", "left,right", "--agents", "2"], cwd=ROOT)
    try:
        again, engine = run(editor, [1])
    finally:
        peer.wait(timeout=30)
    assert engine.info().backend == "editor" and peer.returncode == 0  # the scene was told to quit
    np.testing.assert_array_equal(again[0].states, rollouts[1].states)


def test_parallel_workers_get_distinct_ports_and_same_episodes(reference):
    r, rollouts = reference
    results, ports = {}, []

    def work(worker_episodes):
        engine = UnityEngine(r)  # same recipe, as every scheduler worker has: the engine finds a free id
        try:
            for ro in engine.run_batch([sample_episode(r, i) for i in worker_episodes]):
                results[ro.index] = ro
            ports.append(engine.port)
        finally:
            engine.close()

    threads = [threading.Thread(target=work, args=(eps,)) for eps in ([0, 1], [2, 3])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(ports)) == 2 and sorted(results) == [0, 1, 2, 3]
    for i, ro in results.items():
        np.testing.assert_array_equal(ro.states, rollouts[i].states)
