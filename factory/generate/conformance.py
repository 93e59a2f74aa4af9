"""One check that any engine adapter keeps the contract (in the spirit of Gymnasium's `check_env`).

`check_engine(name, recipe)` builds the engine, runs a full batch and each of a few episodes alone,
and raises `ConformanceError` listing every broken rule: layout shapes and dtypes, finite states,
actions equal to the sampled impulses, contact indices in range and steps in 1..T, the same bytes
for an episode alone and in a full batch, the label columns every collision dataset has, and
`close()` safe twice. `check_refuses(name, recipe, field)` checks a refusal names its field.
"""

from __future__ import annotations

import numpy as np

from engines import load_engine
from factory.contract.rollout import Contacts, Rollout
from factory.contract.sampling import sample_episode, transition_impulses
from factory.errors import EngineUnsupported, FactoryError
from factory.labels import label_context, label_rollouts
from factory.recipe.schema import Recipe


class ConformanceError(FactoryError):
    """An engine adapter broke the engine ↔ storage contract."""


def check_engine(name: str, recipe: Recipe, alone: int = 2) -> list[Rollout]:
    """Run `recipe.n_envs` episodes as one batch and the first `alone` again one by one; return the batch."""
    engine = load_engine(name)(recipe)
    problems: list[str] = []
    try:
        specs = [sample_episode(recipe, i) for i in range(recipe.n_envs)]
        batch = engine.run_batch(specs)
        singles = [engine.run_batch([spec])[0] for spec in specs[:alone]]
        info = engine.info().to_dict()
    finally:
        engine.close()
    engine.close()  # twice: must be harmless
    layout = engine.layout
    if set(info) != {"name", "version", "backend"} or info["name"] != name:
        problems.append(f"info(): {info} should name engine '{name}' with a version and backend")
    if [r.index for r in batch] != [s.index for s in specs]:
        problems.append("run_batch: rollouts must come back in the order of their specs, with their index")
    n_rec = recipe.recorded_steps
    for spec, r in zip(specs, batch, strict=True):
        problems += _rollout_problems(r, layout, n_rec, recipe)
        if recipe.kind == "collision":
            expected = transition_impulses(spec.forces, recipe.dt, recipe.outputs.record_every)
            if not np.array_equal(r.actions, expected):
                problems.append(f"episode {r.index}: actions differ from the sampled impulses")
    for single, r in zip(singles, batch[:len(singles)], strict=True):
        if not _same(single, r):
            problems.append(f"episode {r.index}: different bytes alone than in a full batch")
    if recipe.kind == "collision":
        records = label_rollouts(batch, [s.params for s in specs], label_context(recipe, layout))
        missing = {"came_to_rest", "rest_step"} - set(records[0].episode_labels)
        if missing:
            problems.append(f"labels: missing {sorted(missing)}")
    if problems:
        raise ConformanceError(f"engine '{name}' breaks the contract:\n" + "\n".join(f"  - {p}" for p in problems))
    return batch


def _rollout_problems(r: Rollout, layout, n_rec: int, recipe: Recipe) -> list[str]:
    out = []
    if r.states.dtype != np.float32 or r.states.shape != (n_rec + 1, layout.state_size):
        out.append(f"episode {r.index}: states {r.states.dtype}{r.states.shape}, "
                   f"expected float32({n_rec + 1}, {layout.state_size})")
    if r.actions.dtype != np.float32 or r.actions.shape != (n_rec, layout.action_size):
        out.append(f"episode {r.index}: actions {r.actions.dtype}{r.actions.shape}, "
                   f"expected float32({n_rec}, {layout.action_size})")
    if not np.isfinite(r.states).all():
        out.append(f"episode {r.index}: non-finite states in a plain episode")
    quat = layout.fields(r.states, "quat")
    if not np.allclose(np.linalg.norm(quat, axis=-1), 1.0, atol=1e-3):
        out.append(f"episode {r.index}: orientations are not unit quaternions")
    c = r.contacts
    dtypes = {"step": np.int32, "body_a": np.int16, "body_b": np.int16, "position": np.float32,
              "normal": np.float32, "force_on_a": np.float32, "penetration": np.float32}
    for col, dtype in dtypes.items():
        if getattr(c, col).dtype != dtype or len(getattr(c, col)) != len(c):
            out.append(f"episode {r.index}: contacts.{col} is {getattr(c, col).dtype}, expected {np.dtype(dtype)}")
    n_bodies = len(layout.bodies)
    if len(c) and not (((c.body_a >= 0) & (c.body_a < n_bodies) & (c.body_b >= 0) & (c.body_b < n_bodies)).all()):
        out.append(f"episode {r.index}: contact body indices outside 0..{n_bodies - 1}")
    if len(c) and not ((c.step >= 1) & (c.step <= n_rec)).all():
        out.append(f"episode {r.index}: contact steps outside 1..{n_rec}")
    if len(c) and (c.penetration < 0).any():
        out.append(f"episode {r.index}: negative penetration depths")
    if len(c) and not np.allclose(np.linalg.norm(c.normal, axis=-1), 1.0, atol=1e-3):
        out.append(f"episode {r.index}: contact normals are not unit vectors")
    return out


def _same(a: Rollout, b: Rollout) -> bool:
    return (np.array_equal(a.states, b.states, equal_nan=True) and np.array_equal(a.actions, b.actions)
            and all(np.array_equal(getattr(a.contacts, col), getattr(b.contacts, col)) for col in Contacts.COLUMNS))


def check_refuses(name: str, recipe: Recipe, field: str) -> EngineUnsupported:
    """The engine must refuse `recipe` at construction, naming `field`; returns the error."""
    try:
        engine = load_engine(name)(recipe)
    except EngineUnsupported as exc:
        if field not in str(exc):
            raise ConformanceError(f"engine '{name}' refused the recipe without naming {field}: {exc}") from exc
        return exc
    engine.close()
    raise ConformanceError(f"engine '{name}' accepted a recipe it should refuse ({field})")
