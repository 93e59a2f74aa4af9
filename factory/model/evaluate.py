"""`factory evaluate`: the model against trivial baselines on held-out episodes.

One-step error is the mean squared error of the predicted state change divided by the spread of
that change, per state field (so positions, quaternions and spins count alike); rollout error is the
position RMSE in metres after feeding each predictor its own output for 1..H steps. Given episode
weights (a guided dataset's importance weights), every mean over transitions, windows and episodes is
weighted by its episode's, so the numbers estimate the recipe's own distribution.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from factory.checks import Body, bodies_for, label_readouts
from factory.contract.rollout import STATE_FIELDS, STATE_PER_OBJECT, Layout
from factory.labels import LabelContext, RobotLabelContext, label_context
from factory.model.baselines import Predictor
from factory.model.pieces import EpisodeArrays, iter_chunks, iter_episodes
from factory.model.stats import scale
from factory.recipe.schema import Recipe
from factory.storage.dataset import Dataset


def one_step(predictors: list[Predictor], ds: Dataset, episodes: list[int], stats: dict,
             weights: dict[int, float] | None = None) -> dict:
    """Per predictor: normalized one-step MSE and physical RMSE per state field.

    `nmse` pools each field (pos, quat, vel, ang_vel) over objects: squared error over the variance
    of that field's change, averaged over fields. Pooling keeps the jitter of resting bodies, whose
    per-feature variance is tiny, from dominating; `nmse_per_feature` is the unpooled mean.
    """
    _, ds_std = scale(stats, "delta")
    groups = field_groups(ds.layout)
    sq = {p.name: np.zeros(ds.layout.state_size) for p in predictors}
    rows, weight = 0, 0.0
    for chunk in iter_chunks(ds, episodes):
        rows += len(chunk)
        w = episode_weights(chunk.episode, weights)
        weight += float(w.sum())
        for p in predictors:
            err = p.predict(chunk.state, chunk.action, chunk.episode) - chunk.next_state
            sq[p.name] += (w[:, None] * err.astype(np.float64) ** 2).sum(0)
    out = {}
    for name, s in sq.items():
        mse = s / max(weight, 1e-300) if rows else s
        var = ds_std.astype(np.float64) ** 2
        out[name] = {"nmse": float(np.mean([mse[idx].sum() / var[idx].sum() for idx in groups.values()])),
                     "nmse_per_feature": float((mse / var).mean()),
                     "rmse": {g: float(np.sqrt(mse[idx].mean())) for g, idx in groups.items()},
                     "transitions": rows}
    return out


def episode_weights(episode: np.ndarray, weights: dict[int, float] | None) -> np.ndarray:
    """Each row's episode weight (all ones without weights)."""
    if weights is None:
        return np.ones(len(episode))
    return np.array([weights[int(e)] for e in episode], np.float64)


def field_groups(layout: Layout) -> dict[str, np.ndarray]:
    """State indices of each field (pos, quat, vel, ang_vel) across all objects, and with robots of their joint
    positions, joint velocities, tool points and hand quaternions across all robots."""
    names = layout.state_names
    split = len(layout.objects) * STATE_PER_OBJECT
    groups = {f: np.array([i for i, n in enumerate(names[:split]) if n.split(".")[1] == f]) for f, _ in STATE_FIELDS}
    spans: dict[str, list[int]] = {"joint_q": [], "joint_dq": [], "tool_pos": [], "tool_quat": []}
    for block in layout.robots:
        start, _ = layout.robot_span(block.name)
        n = len(block.joints)
        for name, (a, b) in zip(spans, ((0, n), (n, 2 * n), (2 * n, 2 * n + 3), (2 * n + 3, 2 * n + 7)), strict=True):
            spans[name] += range(start + a, start + b)
    return groups | {k: np.array(v) for k, v in spans.items() if v}


def rollout(predictor: Predictor, state0: np.ndarray, actions: np.ndarray, episode: np.ndarray) -> np.ndarray:
    """Feed a predictor its own output: (N, S) start states, (N, H, A) actions, (N,) episodes → (N, H+1, S)."""
    states = [state0]
    for h in range(actions.shape[1]):
        nxt = predictor.predict(states[-1], actions[:, h], episode)
        states.append(np.clip(np.nan_to_num(nxt, posinf=1e6, neginf=-1e6), -1e6, 1e6))
    return np.stack(states, 1)


def episode_rollouts(predictor: Predictor, episodes: list[EpisodeArrays]) -> list[np.ndarray]:
    """Whole-episode rollouts from each first state, episodes of one length batched together."""
    out: dict[int, np.ndarray] = {}
    for length in sorted({len(e.actions) for e in episodes}):
        group = [e for e in episodes if len(e.actions) == length]
        run = rollout(predictor, np.stack([e.states[0] for e in group]), np.stack([e.actions for e in group]),
                      np.array([e.index for e in group]))
        out.update({e.index: r for e, r in zip(group, run, strict=True)})
    return [out[e.index] for e in episodes]


def windows(episodes: Iterable[EpisodeArrays], horizon: int, stride: int
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (H+1)-state window starting each `stride` steps: states (N, H+1, S), actions (N, H, A),
    episodes (N,)."""
    states, actions, index = [], [], []
    for ep in episodes:
        for t0 in range(0, len(ep.actions) - horizon + 1, stride):
            states.append(ep.states[t0:t0 + horizon + 1])
            actions.append(ep.actions[t0:t0 + horizon])
            index.append(ep.index)
    return np.stack(states), np.stack(actions), np.array(index)


def rollout_error(predictors: list[Predictor], episodes: list[EpisodeArrays], layout: Layout,
                  horizon: int, stride: int = 5, weights: dict[int, float] | None = None) -> dict[str, list[float]]:
    """Position RMSE (m) at horizons 1..H, per predictor."""
    horizon = min(horizon, min(len(e.actions) for e in episodes))
    true, actions, index = windows(episodes, horizon, stride)
    pos = field_groups(layout)["pos"]
    out = {}
    for p in predictors:
        pred = rollout(p, true[:, 0], actions, index)
        err = ((pred[:, 1:, pos] - true[:, 1:, pos]) ** 2).reshape(len(true), horizon, -1, 3).sum(-1).mean(2)
        mean = err.mean(0) if weights is None else np.average(err, axis=0, weights=episode_weights(index, weights))
        out[p.name] = np.sqrt(mean).tolist()
    return out


def label_accuracy(predictors: list[Predictor], episodes: list[EpisodeArrays], labels: dict[int, dict],
                   bodies: dict[int, dict[str, Body]], ctx: LabelContext,
                   weights: dict[int, float] | None = None) -> dict:
    """Accuracy of yes/no labels read out of whole-episode rollouts from the first state.

    'truth-readout' applies the same readout to the recorded states: the ceiling a perfect model
    would reach; 'majority' always answers the commonest label value.
    """
    def read(states: np.ndarray, ep: EpisodeArrays) -> dict[str, object]:
        return label_readouts(states, ctx, bodies[ep.index])

    names = sorted(k for k, v in read(episodes[0].states, episodes[0]).items()
                   if isinstance(v, bool) and k in labels[episodes[0].index])
    truth = np.array([[bool(labels[ep.index][n]) for n in names] for ep in episodes])
    runs: dict[str, list[np.ndarray]] = {"truth-readout": [ep.states for ep in episodes]}
    for p in predictors:
        runs[p.name] = episode_rollouts(p, episodes)
    w = episode_weights(np.array([ep.index for ep in episodes]), weights)
    share = lambda hits: float(w @ hits) / float(w.sum())  # noqa: E731 - a plain share when every weight is 1
    out: dict[str, dict[str, float]] = {}
    for run, trajectories in runs.items():
        got = np.array([[read(s, ep)[n] for n in names] for s, ep in zip(trajectories, episodes, strict=True)])
        out[run] = {n: share(got[:, j] == truth[:, j]) for j, n in enumerate(names)}
    rate = {n: share(truth[:, j]) for j, n in enumerate(names)}
    out["majority"] = {n: max(r, 1 - r) for n, r in rate.items()}
    out["positive_rate"] = rate
    return out


def evaluate(predictors: list[Predictor], ds: Dataset, split_sets: dict[str, list[int]], stats: dict,
             episode_info: dict[int, dict], horizon: int = 20, weights: dict[int, float] | None = None) -> dict:
    """All metrics on each held-out set ('test', 'ood'): one-step, rollout, label readouts; `weights`
    (episode → importance weight) weight every mean."""
    recipe = ds.manifest["recipe"]
    ctx = label_context(Recipe.model_validate(recipe), ds.layout)
    if isinstance(ctx, RobotLabelContext):  # the objects' labels are read out; the arm is what acts
        ctx = ctx.base
    assert isinstance(ctx, LabelContext)  # the rigid-body model's datasets are collision ones
    out = {}
    for set_name, ids in split_sets.items():
        if not ids:
            continue
        eps = list(iter_episodes(ds, ids))
        bodies = {e.index: bodies_for(recipe, episode_info[e.index]["params"]) for e in eps}
        labels = {e.index: episode_info[e.index]["labels"] for e in eps}
        out[set_name] = {
            "episodes": len(eps),
            "one_step": one_step(predictors, ds, ids, stats, weights),
            "rollout": rollout_error(predictors, eps, ds.layout, horizon, weights=weights),
            "labels": label_accuracy(predictors, eps, labels, bodies, ctx, weights),
        }
    return out
