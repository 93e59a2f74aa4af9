"""Names of columns, parameters and labels: the exact strings datasets hold, and their parsers."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from factory import names as n


def test_known_names_are_spelled_as_datasets_hold_them():
    """Renaming any of these changes every dataset written from then on: these strings are the data."""
    assert n.pair_label(n.TOUCHED, "ball", "target") == "touched__ball__target"
    assert n.pair_label(n.FIRST_CONTACT, "a", "ground") == "first_contact__a__ground"
    assert n.pair_label(n.IMPACTS, "a", "b") == "impacts__a__b"
    assert n.pair_label(n.FIRST_HIT, "cue", "red") == "first_hit__cue__red"
    assert [n.body_label(f, "box") for f in (n.LEFT_SUPPORT, n.LEFT_SUPPORT_STEP, n.MAX_SPEED, n.FRICTION_COS)] == \
        ["left_support__box", "left_support_step__box", "max_speed__box", "friction_cos__box"]
    assert [n.body_label(f, "red") for f in (n.CONTACT_RANK, n.CUSHION_BOUNCES, n.MOVED, n.FINAL_X, n.FINAL_Y)] == \
        ["contact_rank__red", "cushion_bounces__red", "moved__red", "final_x__red", "final_y__red"]
    assert (n.CAME_TO_REST, n.REST_STEP, n.BALLS_MOVED) == ("came_to_rest", "rest_step", "balls_moved")
    assert n.param_column("box.pos.x") == "param__box__pos__x"
    assert n.param_key("ball.mass") == "ball__mass"
    assert n.hdf5_field(n.PARAM, "ball.mass") == "param.ball.mass"
    assert n.hdf5_field(n.LABEL, "touched__a__b") == "label.touched__a__b"
    assert n.next_column("pos") == "next_pos"
    assert n.TABLES == ("transitions", "episodes", "contacts")
    assert n.EPISODE_COLUMNS == ("episode", "shard", "transitions", "point_index", "transitions_offset")
    assert n.TRANSITION_COLUMNS == ("episode", "step", "t", "state", "action", "next_state",
                                    "is_first", "is_last", "is_terminal")


@pytest.mark.parametrize("name", ["ball.mass", "box.pos.x", "ground.friction", "push0.applied"])
def test_parameter_spellings_round_trip(name):
    column = n.param_column(name)
    assert n.is_param_column(column)
    assert n.param_name(n.column_key(column)) == name
    assert n.param_name(n.param_key(name)) == name
    assert n.param_name(name) == name  # a name already dotted stays as it is
    assert n.param_column(n.param_key(name)) == column
    assert n.hdf5_split(n.hdf5_field(n.PARAM, name)) == (n.PARAM, name)


def test_labels_parse_back_to_their_family():
    assert n.label_family(n.pair_label(n.TOUCHED, "a", "b")) == n.TOUCHED
    assert n.label_family(n.body_label(n.LEFT_SUPPORT_STEP, "a")) == n.LEFT_SUPPORT_STEP  # not LEFT_SUPPORT
    assert n.label_family(n.CAME_TO_REST) == n.CAME_TO_REST
    hit, prefix = n.pair_label(n.FIRST_HIT, "cue", "red"), n.label_prefix(n.FIRST_HIT, "cue")
    assert hit.startswith(prefix) and hit.removeprefix(prefix) == "red"
    assert not n.is_param_column(n.pair_label(n.TOUCHED, "param", "b"))


def test_hdf5_fields_split_by_kind():
    assert n.hdf5_split("label.touched__a__b") == (n.LABEL, "touched__a__b")
    assert n.hdf5_split("param.box.pos.x") == (n.PARAM, "box.pos.x")
    for other in ("episode", "transitions_offset", "point_index", "parameter.x", "param"):
        assert n.hdf5_split(other) == ("", other)


def test_an_episodes_row_splits_into_parameters_and_labels():
    row = {"episode": 3, "shard": 0, "transitions": 10, "param__ball__mass": 1.5, "touched__ball__target": True,
           "point_index": [0, 1], "transitions_offset": 0}
    assert n.episode_row(row) == ({"ball__mass": 1.5}, {"touched__ball__target": True})


def test_fixed_transition_columns_are_all_but_step_labels():
    assert n.fixed_transition_columns(["pos"]) == {*n.TRANSITION_COLUMNS, "pos", "next_pos"}


def test_names_imports_only_the_standard_library():
    """Every layer imports it, so it can import none of them."""
    tree = ast.parse(Path(n.__file__).read_text())
    imported = {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not {m for m in imported if m.split(".")[0] == "factory"}
