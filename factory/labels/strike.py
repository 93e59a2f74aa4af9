"""Labels of a strike (billiards): what the struck ball does to the others and to the cushions.

Pure functions of the per-pair first-contact and impact arrays (`collision.pair_contacts`) and
the states, for a recipe with `labels.striker` set. Balls are the movable objects; cushions the
fixed ones. Every label is flat and named like the collision labels:

- `first_hit__{striker}__{K}`: K is the first ball the striker touches (ties: lowest index)
- `contact_rank__{K}`: rank of ball K's first ball–ball contact (0 the earliest; ties share; -1 never)
- `cushion_bounces__{K}`: K's separate impacts with any cushion
- `moved__{K}`: K's centre went farther than MOVE_TOL from its start; `balls_moved`: how many did,
  the striker excluded
- `final_x__{K}`, `final_y__{K}`: where K ends
"""

from __future__ import annotations

import numpy as np

from factory.contract.rollout import Layout
from factory.names import (
    BALLS_MOVED,
    CONTACT_RANK,
    CUSHION_BOUNCES,
    FINAL_X,
    FINAL_Y,
    FIRST_HIT,
    MOVED,
    body_label,
    pair_label,
)

MOVE_TOL = 0.01  # m: farther than this from its start, a ball has moved


def strike_labels(states: np.ndarray, first: np.ndarray, impacts: np.ndarray, layout: Layout,
                  fixed: frozenset[str], striker: str) -> dict[str, list]:
    """Columns of strike labels for a batch: `states` (E, T+1, S); `first`, `impacts` (E, nb, nb)
    over `layout.bodies`, filled at [e, a, b] for a < b."""
    bodies = layout.bodies
    balls = [o for o in layout.objects if o not in fixed]
    cushions = [bodies.index(o) for o in layout.objects if o in fixed]
    first_sym = np.where(first >= 0, first, np.iinfo(np.int64).max)
    first_sym = np.minimum(first_sym, first_sym.swapaxes(1, 2))  # either order of the pair
    impacts_sym = impacts + impacts.swapaxes(1, 2)
    ball_idx = [bodies.index(b) for b in balls]
    s = bodies.index(striker)
    never = np.iinfo(np.int64).max
    out: dict[str, list] = {}
    others = [b for b in ball_idx if b != s]
    hit = first_sym[:, s, others] if others else np.full((len(states), 0), never)
    earliest = hit.min(axis=1, initial=never)
    first_ball = np.where(earliest < never, np.argmin(hit, axis=1), -1) if others else earliest * 0 - 1
    for j, b in enumerate(others):
        out[pair_label(FIRST_HIT, striker, bodies[b])] = (first_ball == j).tolist()
    sub = first_sym[:, ball_idx][:, :, ball_idx]  # (E, n_balls, n_balls)
    own = sub.min(axis=2)  # each ball's first contact with any other ball (diagonal is `never`)
    ranks = np.array([_rank(row) for row in own], np.int64).reshape(len(own), len(balls))
    for j, (name, b) in enumerate(zip(balls, ball_idx, strict=True)):
        out[body_label(CONTACT_RANK, name)] = ranks[:, j].tolist()
        out[body_label(CUSHION_BOUNCES, name)] = impacts_sym[:, b, cushions].sum(axis=1).tolist()
    out.update(motion_labels(states, layout, balls, striker))
    return out


def motion_labels(states: np.ndarray, layout: Layout, balls: list[str], striker: str) -> dict[str, list]:
    """`moved__K`, `final_x__K`, `final_y__K` of each ball and `balls_moved`, from states (E, T+1, S) alone."""
    pos = layout.fields(states, "pos")
    out: dict[str, list] = {}
    moved = np.zeros(len(states), np.int64)
    for name in balls:
        o = layout.objects.index(name)
        went = np.linalg.norm(pos[:, :, o] - pos[:, :1, o], axis=-1).max(axis=1) > MOVE_TOL
        out[body_label(MOVED, name)] = went.tolist()
        moved += went & (name != striker)
        out[body_label(FINAL_X, name)] = pos[:, -1, o, 0].astype(float).tolist()
        out[body_label(FINAL_Y, name)] = pos[:, -1, o, 1].astype(float).tolist()
    out[BALLS_MOVED] = moved.tolist()
    return out


def _rank(first_steps: np.ndarray) -> list[int]:
    """Dense rank of each finite first-contact step (0 the earliest, ties share); -1 for never."""
    steps = np.asarray(first_steps)
    seen = steps < np.iinfo(np.int64).max
    order = {v: k for k, v in enumerate(np.unique(steps[seen]))}
    return [order[v] if ok else -1 for v, ok in zip(steps.tolist(), seen, strict=True)]
