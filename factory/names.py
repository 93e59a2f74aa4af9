"""Every name the data is written and read under: tables, columns, parameters and labels.

Writers and readers, labels and their checks all build and parse names here, so a rule is spelled
once and a producer and its consumers cannot drift apart. Standard library only: every layer of
the factory imports it.

Three spellings of one episode parameter:
- name `ball.pos.x`: how a recipe and an `EpisodeRecord` call it, and an HDF5 field (`param.ball.pos.x`)
- key `ball__pos__x`: the name as an identifier (no quoting in SQL), what readers of rows hand out
- column `param__ball__pos__x`: its column in the episodes table
A name with SEP in it would not come back from its key.

An episode label about bodies is its family and the bodies, joined by SEP: `touched__ball__target`,
`max_speed__ball`; a label about the whole scene (`came_to_rest`) is its own family.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import TypeVar

V = TypeVar("V")

SEP = "__"
"""Joins the parts of a column name: a label family and its bodies, the parts of a parameter key."""

PARAM = "param"
LABEL = "label"
PARAM_PREFIX = PARAM + SEP
"""Starts every parameter column of the episodes table."""

TABLES = ("transitions", "episodes", "contacts")
TRANSITION_COLUMNS = ("episode", "step", "t", "state", "action", "next_state", "is_first", "is_last", "is_terminal")
"""The transitions table's fixed columns; point fields (and their next_ twins) and step labels follow."""
EPISODE_COLUMNS = ("episode", "shard", "transitions", "point_index", "transitions_offset")
"""The episodes table's own columns; the others are parameter columns and episode labels."""

# Episode columns of a guided dataset (`factory run --guided-by`), beside the labels
IMPORTANCE_WEIGHT = "importance_weight"  # p(θ)/q(θ), normalized to mean 1 over the dataset
GUIDED_CANDIDATE = "guided_candidate"  # which candidate of the recipe's candidate stream the episode ran
GUIDED_COLUMNS = (IMPORTANCE_WEIGHT, GUIDED_CANDIDATE)

# Families of episode labels about a pair of bodies (`family__a__b`)
TOUCHED = "touched"
FIRST_CONTACT = "first_contact"
IMPACTS = "impacts"
FIRST_HIT = "first_hit"  # first_hit__striker__ball
# Families of episode labels about one body (`family__body`)
LEFT_SUPPORT = "left_support"
LEFT_SUPPORT_STEP = "left_support_step"
MAX_SPEED = "max_speed"
FRICTION_COS = "friction_cos"
CONTACT_RANK = "contact_rank"
CUSHION_BOUNCES = "cushion_bounces"
MOVED = "moved"
FINAL_X = "final_x"
FINAL_Y = "final_y"
# Families of robot labels: about a robot (`family__arm`), a robot and a body, or the body it moved
TRACKING_ERROR = "tracking_error"  # also a step label
MAX_TRACKING_ERROR = "max_tracking_error"
MEAN_TRACKING_ERROR = "mean_tracking_error"
FIRST_ROBOT_CONTACT = "first_robot_contact"  # first_robot_contact__arm__cube
DISPLACEMENT = "displacement"
DISPLACEMENT_HEADING_DEG = "displacement_heading_deg"
GOAL_MISS = "goal_miss"
PUSHED_TO_TARGET = "pushed_to_target"
REACH_ERROR = "reach_error"
REACHED = "reached"
REACH_STEP = "reach_step"
GRASPED = "grasped"
GRASP_STEP = "grasp_step"
DROPPED = "dropped"
PLACED = "placed"
PLACE_MISS = "place_miss"
TILT_DEG = "tilt_deg"  # of a container a robot tilts, at the end
LIP_DRIFT = "lip_drift"  # how far its lip strayed from where it started, m
SPILLED = "spilled"  # of what the container held: it ended outside
SPILL_STEP = "spill_step"
REST_POSE = "rest_pose"  # of a mesh body: upright 1, on its side 0, upside down -1
UP_COS = "up_cos"
TOPPLED = "toppled"
# Episode labels about the whole scene
CAME_TO_REST = "came_to_rest"
REST_STEP = "rest_step"
BALLS_MOVED = "balls_moved"


def label(family: str, *bodies: str) -> str:
    """The label of `family` about `bodies`: `label(TOUCHED, "a", "b")` is `touched__a__b`."""
    return SEP.join((family, *bodies))


def pair_label(family: str, a: str, b: str) -> str:
    return label(family, a, b)


def body_label(family: str, body: str) -> str:
    return label(family, body)


def label_prefix(family: str, *bodies: str) -> str:
    """What every label of `family` (about `bodies` and then others) starts with."""
    return label(family, *bodies) + SEP


def label_family(name: str) -> str:
    """The family of a label (`touched__a__b` → `touched`); a scene label is its own family."""
    return name.split(SEP, 1)[0]


def param_key(name: str) -> str:
    """Parameter `ball.pos.x` → key `ball__pos__x`."""
    return name.replace(".", SEP)


def param_name(key: str) -> str:
    """Parameter key `ball__pos__x` (or name `ball.pos.x`) → name `ball.pos.x`."""
    return key.replace(SEP, ".")


def param_column(name: str) -> str:
    """Parameter `ball.pos.x` (or its key) → episodes-table column `param__ball__pos__x`."""
    return PARAM_PREFIX + param_key(name)


def is_param_column(column: str) -> bool:
    return column.startswith(PARAM_PREFIX)


def column_key(column: str) -> str:
    """Parameter column `param__ball__pos__x` → key `ball__pos__x`."""
    return column.removeprefix(PARAM_PREFIX)


def episode_row(row: Mapping[str, V], index: Collection[str] = EPISODE_COLUMNS
                ) -> tuple[dict[str, V], dict[str, V]]:
    """A row of the episodes table → (its parameters by key, its labels): every column but `index`."""
    params = {column_key(k): v for k, v in row.items() if is_param_column(k)}
    labels = {k: v for k, v in row.items() if not is_param_column(k) and k not in index}
    return params, labels


def next_column(name: str) -> str:
    """The transitions column of a per-state column's value after the step: `pos` → `next_pos`."""
    return f"next_{name}"


def fixed_transition_columns(points: Iterable[str]) -> set[str]:
    """The transitions columns that are not step labels, given the layout's point fields."""
    points = list(points)
    return set(TRANSITION_COLUMNS) | set(points) | {next_column(p) for p in points}


def hdf5_field(kind: str, name: str) -> str:
    """An HDF5 `/episodes` field of a parameter or label (`kind` PARAM or LABEL): `param.ball.mass`."""
    return f"{kind}.{name}"


def hdf5_split(field: str) -> tuple[str, str]:
    """An HDF5 `/episodes` field → (PARAM or LABEL, the parameter or label name); ("", field) otherwise."""
    kind, dot, name = field.partition(".")
    return (kind, name) if dot and kind in (PARAM, LABEL) else ("", field)
