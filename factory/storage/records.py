"""Records checked against the layout before any format writes them, every problem at once.

Writers take a shard's columns from its records: Arrow builds an episodes table's columns from the
first record (a key only later records have is dropped, one they lack becomes null) while HDF5
refuses, so without this check the two formats would disagree on the same shard. After it, a
record that reaches a writer has what every other record of its shard has, in the layout's shapes.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from factory.contract.rollout import Contacts, EpisodeRecord, Layout
from factory.errors import StorageError

MAX_LISTED = 20  # problems named one by one; the rest are counted


def check_records(records: list[EpisodeRecord], layout: Layout) -> None:
    """Raise one StorageError listing every way `records` do not fit `layout` or each other."""
    problems = [f"record {i}: a {type(r).__name__}, not an EpisodeRecord"
                for i, r in enumerate(records) if not isinstance(r, EpisodeRecord)]
    records = [r for r in records if isinstance(r, EpisodeRecord)]
    if records:
        problems += _shared_keys(records)
        twice = sorted(i for i, n in Counter(r.index for r in records).items() if n > 1)
        if twice:
            problems.append(f"episodes {twice[:10]} appear more than once")
        first = records[0]
        fine: dict[tuple, tuple[list[str], int | None, tuple[str, ...], bool]] = {}
        for r in records:  # shapes found fine are not checked again for records of the same kind
            key = _signature(r)
            shaped = fine.get(key) or _shape_problems(r, layout, first)  # (problems name its own shapes)
            if not shaped[0]:
                fine[key] = shaped
            problems += [f"episode {r.index}: {p}" for p in shaped[0] + _value_problems(r, layout, *shaped[1:])]
    if problems:
        listed = problems[:MAX_LISTED] + ([f"... and {len(problems) - MAX_LISTED} more"]
                                          if len(problems) > MAX_LISTED else [])
        noun = "problem" if len(problems) == 1 else "problems"
        raise StorageError(f"{len(problems)} {noun} in the records of one shard; nothing written:\n"
                           + "\n".join(f"  - {p}" for p in listed))


def _shared_keys(records: list[EpisodeRecord]) -> list[str]:
    """Parameter and label names must be the same in every record of a shard (they become columns)."""
    problems = []
    for what in ("params", "episode_labels", "step_labels"):
        want = list(getattr(records[0], what))
        for r in records[1:]:
            have = list(getattr(r, what))
            if have != want:
                missing, extra = [k for k in want if k not in have], [k for k in have if k not in want]
                parts = ([f"lacks {', '.join(missing)}"] if missing else []) + \
                    ([f"has extra {', '.join(extra)}"] if extra else [])
                detail = "; ".join(parts) or "keys in another order"
                problems.append(f"episode {r.index}: {what} {detail} (episode {records[0].index} has "
                                f"{', '.join(want) or 'none'})")
    return problems


def record_problems(r: EpisodeRecord, layout: Layout, first: EpisodeRecord) -> list[str]:
    """What is wrong with one record alone, and where its dtypes differ from `first`'s."""
    problems, T, bodies, steps = _shape_problems(r, layout, first)
    return problems + _value_problems(r, layout, T, bodies, steps)


def _signature(r: EpisodeRecord) -> tuple:
    """What `_shape_problems` finds depends on: the records of a shard share it, but for how many
    contacts each has (only whether each contact column has as many rows as `step`, and whether any)."""
    ro, c = r.rollout, r.rollout.contacts
    arrays = [ro.actions, ro.states, ro.point_index, *r.step_labels.values(), *ro.points.values()]
    n = len(c.step) if isinstance(c.step, np.ndarray) else None
    return (tuple(r.step_labels), tuple(ro.points), n == 0,
            tuple((a.shape, a.dtype) if isinstance(a, np.ndarray) else type(a) for a in arrays),
            tuple((a.ndim and a.shape[0] == n, a.shape[1:], a.dtype) if isinstance(a, np.ndarray) else type(a)
                  for a in (getattr(c, k) for k in Contacts.COLUMNS)))


def _shape_problems(r: EpisodeRecord, layout: Layout, first: EpisodeRecord
                    ) -> tuple[list[str], int | None, tuple[str, ...], bool]:
    """What is wrong with a record's arrays' types, shapes and dtypes; then what `_value_problems`
    takes: its T, the body columns in shape, and whether to check the contacts' steps."""
    ro, c = r.rollout, r.rollout.contacts
    problems: list[str] = []
    T = _check_array(problems, "actions", ro.actions, (None, layout.action_size), "f")
    _check_array(problems, "states", ro.states, (None if T is None else T + 1, layout.state_size), "f")
    for name, values in r.step_labels.items():
        if _check_array(problems, f"step label {name}", values, (T,), "biuf") is not None:
            theirs = first.step_labels.get(name)
            if theirs is not None and np.asarray(theirs).dtype != np.asarray(values).dtype:
                problems.append(f"step label {name}: dtype {np.asarray(values).dtype}, episode "
                                f"{first.index} has {np.asarray(theirs).dtype}")
    if sorted(ro.points) != sorted(layout.points):
        problems.append(f"point fields {sorted(ro.points)}, the layout has {sorted(layout.points)}")
    for name in layout.points:
        if name in ro.points:
            _check_array(problems, f"points {name}", ro.points[name],
                         (None if T is None else T + 1, layout.n_points, 3), "f")
    if layout.points:
        _check_array(problems, "point_index", ro.point_index, (layout.n_points,), "iu")
    elif ro.point_index is not None:
        problems.append("point_index given, but the layout records no points")
    before = len(problems)
    n = _check_array(problems, "contacts.step", c.step, (None,), "iu")
    bodies = []  # body columns in shape, whose indices `_value_problems` checks
    for name, shape, kinds in (("body_a", (n,), "iu"), ("body_b", (n,), "iu"), ("position", (n, 3), "f"),
                               ("normal", (n, 3), "f"), ("force_on_a", (n, 3), "f"), ("penetration", (n,), "f")):
        if _check_array(problems, f"contacts.{name}", getattr(c, name), shape, kinds) is not None \
                and name.startswith("body"):
            bodies.append(name)
    steps = bool(n) and T is not None and len(problems) == before  # contacts in shape: check their steps
    return problems, T, tuple(bodies), steps


def _value_problems(r: EpisodeRecord, layout: Layout, T: int | None, bodies: tuple[str, ...],
                    steps: bool) -> list[str]:
    """What is wrong with a record's values: parameters and labels not numbers, contacts naming
    bodies or steps outside the layout (in the columns `_shape_problems` found in shape)."""
    problems: list[str] = []
    for name, value in {**r.params, **r.episode_labels}.items():
        if not isinstance(value, _SCALARS) and (np.ndim(value) != 0 or np.asarray(value).dtype.kind not in "biuf"):
            problems.append(f"{name}: {value!r} is not a number or a bool")
    c = r.rollout.contacts
    outside = [f"contacts.{name}: body indices outside 0..{len(layout.bodies) - 1}" for name in bodies
               if len(c.step) and not (np.min(getattr(c, name)) >= 0 and np.max(getattr(c, name)) < len(layout.bodies))]
    if steps and not outside and not (c.step.min() >= 0 and c.step.max() <= T):
        outside.append(f"contacts.step: steps outside 0..{T}")
    return problems + outside


def _check_array(problems: list[str], what: str, value: object, shape: tuple[int | None, ...],
                 kinds: str) -> int | None:
    """Append what is wrong with `value` (None in `shape`: any length); its first dimension if its shape is right."""
    if not isinstance(value, np.ndarray):
        problems.append(f"{what}: a {type(value).__name__}, not a numpy array")
        return None
    wrong_shape = value.ndim != len(shape) or any(w is not None and w != s
                                                  for w, s in zip(shape, value.shape, strict=True))
    if wrong_shape:
        want = "(" + ", ".join("n" if w is None else str(w) for w in shape) + ("," if len(shape) == 1 else "") + ")"
        problems.append(f"{what}: shape {value.shape}, expected {want}")
    if value.dtype.kind not in kinds:
        problems.append(f"{what}: dtype {value.dtype}, expected {_KINDS[kinds]}")
    return None if wrong_shape else value.shape[0]


_SCALARS = (bool, int, float, np.bool_, np.integer, np.floating)  # the common case, without numpy's slower checks
_KINDS = {"f": "floats", "iu": "integers", "biuf": "numbers or bools"}
