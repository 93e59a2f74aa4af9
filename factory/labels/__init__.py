"""Auto-labels: pure functions from recorded arrays to per-step and per-episode labels."""

from __future__ import annotations

from factory.labels.collision import LabelContext, episode_labels, step_labels
from factory.recipe import Recipe
from factory.rollout import EpisodeRecord, Layout, Rollout


def label_context(recipe: Recipe, layout: Layout) -> LabelContext:
    ground = recipe.scene.ground
    return LabelContext(
        layout=layout,
        fixed=frozenset(o.name for o in recipe.scene.objects if o.fixed),
        ground_height=ground.height if ground else float("-inf"),
        ground_size=tuple(ground.size) if ground and ground.size else None,
        rest_speed=recipe.labels.rest_speed,
        min_impact_force=recipe.labels.min_impact_force,
    )


def label_rollout(rollout: Rollout, params: dict[str, float], ctx: LabelContext) -> EpisodeRecord:
    return EpisodeRecord(
        rollout=rollout,
        params=params,
        step_labels=step_labels(rollout.contacts, rollout.transitions),
        episode_labels=episode_labels(rollout.states, rollout.contacts, ctx),
    )


__all__ = ["LabelContext", "label_context", "label_rollout"]
