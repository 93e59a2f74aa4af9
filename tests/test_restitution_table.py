"""The shipped restitution table and the per-body solve of the pair rule (no engine needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engines.genesis import restitution
from factory.recipe.loader import load_recipe
from factory.recipe.scene_fields import pin_scene, scene_fields


def test_table_is_monotone_and_covers_the_target_range():
    zeta, e = restitution.table()
    assert np.all(np.diff(zeta) > 0) and np.all(np.diff(e) < 0)
    assert e[-1] < 0.05 and e[0] > 0.99
    for target in (0.2, 0.5, 0.95):
        assert restitution.restitution_of(restitution.dampratio_for(target)) == pytest.approx(target, abs=1e-9)


def test_one_value_per_role_gives_every_pair_its_mean():
    """Billiards: balls 0.95, cushions 0.65, cloth 0.05 → ball-ball 0.95, ball-cushion 0.8, ball-cloth 0.5."""
    values = {"cue": 0.95, "b1": 0.95, "b2": 0.95, "rail_n": 0.65, "rail_s": 0.65, "ground": 0.05}
    zetas, worst = restitution.body_dampratios(values, movable={"cue", "b1", "b2"})
    assert worst < 1e-6
    pair = lambda a, b: float(restitution.restitution_of((zetas[a] + zetas[b]) / 2))  # noqa: E731
    assert [pair("cue", "b1"), pair("b2", "rail_s"), pair("b1", "ground")] == pytest.approx([0.95, 0.8, 0.5])


def test_three_movable_values_cannot_all_be_met_and_say_so():
    _, worst = restitution.body_dampratios({"a": 0.9, "b": 0.5, "c": 0.2}, movable={"a", "b", "c"})
    assert worst > restitution.PAIR_TOLERANCE
    _, worst = restitution.body_dampratios({"a": 0.9, "b": 0.5, "ground": 0.8}, movable={"a", "b"})
    assert worst < 1e-6  # two bodies and the ground: three pairs, three unknowns


def test_impacts_are_resolved_in_substeps():
    n, sub_dt = restitution.substep_dt(0.004)
    assert n * sub_dt == pytest.approx(0.004) and sub_dt <= restitution.CONTACT_TIME / restitution.SUBSTEPS_PER_CONTACT
    params = restitution.sol_params(0.02, sub_dt)
    timeconst, zeta = params[:2]
    assert zeta == 0.02 and params[2] == params[3]  # constant impedance
    assert np.pi * timeconst * zeta / np.sqrt(1 - zeta ** 2) == pytest.approx(restitution.SUBSTEPS_PER_CONTACT * sub_dt)


def test_restitution_is_a_scene_field_and_pins():
    recipe = load_recipe(Path(__file__).resolve().parent.parent / "recipes/collision/billiards.yaml")
    names = {f.name for f in scene_fields(recipe)}
    assert {"cue.restitution", "cushion_n.restitution", "ground.restitution"} <= names
    pinned = pin_scene(recipe, {"cue.restitution": 0.7, "ground.restitution": 0.3})
    assert pinned.scene.objects[0].restitution == 0.7 and pinned.scene.ground.restitution == 0.3


def test_contacts_between_records_are_kept_once_per_pair_as_last_seen():
    """An impact over between two recorded states still reaches the record (elastic scenes)."""
    from engines.genesis.contacts import ContactReader
    from factory.contract.rollout import Contacts

    def read(pairs: list[tuple[int, int, int]], force: float):
        n = len(pairs)
        c = Contacts(np.zeros(n, np.int32), np.array([p[1] for p in pairs], np.int16),
                     np.array([p[2] for p in pairs], np.int16), np.zeros((n, 3), np.float32),
                     np.zeros((n, 3), np.float32), np.full((n, 3), force, np.float32), np.zeros(n, np.float32))
        return np.array([p[0] for p in pairs]), c

    reads = [read([(0, 1, 2), (1, 0, 1)], 1.0), read([(0, 2, 1), (0, 0, 1), (0, 0, 1)], 2.0), read([], 0.0)]
    env, c = ContactReader.latest(reads, step=7)
    rows = sorted(zip(env.tolist(), c.body_a.tolist(), c.body_b.tolist(), c.force_on_a[:, 0].tolist(), strict=True))
    assert rows == [(0, 0, 1, 2.0), (0, 0, 1, 2.0), (0, 2, 1, 2.0), (1, 0, 1, 1.0)]
    assert (c.step == 7).all()
    assert restitution.contact_reads(0.004) == (4, 10) and restitution.contact_reads(0.001) == (1, 10)


def test_an_unreachable_pair_rule_is_refused_before_anything_runs():
    from engines.genesis import GenesisEngine
    from factory.errors import EngineUnsupported
    from factory.recipe.loader import parse_recipe

    balls = "\n".join(f"    - {{name: b{i}, shape: {{type: sphere, radius: 0.1}}, restitution: {e}, "
                      f"pos: [{i}, 0, 0.1]}}"
                      for i, e in enumerate((0.9, 0.5, 0.2)))
    recipe = parse_recipe(f"name: r\nengine: genesis\nseed: 0\nepisodes: 1\nsteps: 10\ndt: 0.004\n"
                          f"scene:\n  ground: null\n  objects:\n{balls}\n")
    with pytest.raises(EngineUnsupported, match=r"scene\.objects: Genesis averages the contact parameters"):
        GenesisEngine(recipe)
