"""A guided recipe's draws: which candidate each episode took and what it weighs (`factory run --guided-by`).

A guided dataset draws its episodes from the recipe's own distributions, reweighted toward where a
trained model errs (`factory.guide`). The candidates form a stream of their own: candidate j is
episode `CANDIDATE_BASE + j` of the recipe, so its values depend only on (recipe, seed, j), every
constraint of the recipe holds for it, and no candidate is an episode of the unguided dataset. The
selection is written into the resolved recipe, so the recipe still fixes every byte: workers,
resumes and `factory verify --replay` sample the same episodes without the guide.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from factory.recipe.field_types import Strict

CANDIDATE_BASE = 2**40
"""Episode index of candidate 0: past any dataset's own indices (`MAX_EPISODES`)."""


class Guided(Strict):
    """Per episode of the dataset, in order: the candidate it took and its importance weight p/q."""

    candidates: list[int] = Field(description="Episode i runs candidate candidates[i] of the candidate stream.")
    weights: list[float] = Field(description="Episode i's importance weight p(θ)/q(θ), normalized to mean 1: "
                                 "weighting each episode by it estimates the recipe's own distribution.")
    guide: dict[str, Any] = Field({}, description="Where the selection came from: the guide dataset's and model's "
                                  "hashes, the error model and every setting (written by `factory run --guided-by`).")

    @model_validator(mode="after")
    def _consistent(self) -> Guided:
        if len(self.candidates) != len(self.weights):
            raise ValueError(f"guided: {len(self.candidates)} candidates but {len(self.weights)} weights")
        if any(c < 0 or c >= CANDIDATE_BASE for c in self.candidates):
            raise ValueError(f"guided.candidates: each must lie in 0..{CANDIDATE_BASE - 1}")
        if any(not w > 0 for w in self.weights):
            raise ValueError("guided.weights: each must be positive")
        return self

    def source(self, index: int) -> int:
        """The episode index whose draws episode `index` of the guided dataset takes."""
        if not 0 <= index < len(self.candidates):
            raise IndexError(f"episode {index}: the guided selection covers episodes 0..{len(self.candidates) - 1}")
        return CANDIDATE_BASE + self.candidates[index]
