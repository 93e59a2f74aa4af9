"""Distributions a recipe can put on any numeric field, and how to draw from them.

A numeric recipe field holds either a plain number or one of these; sampling never depends
on anything but the generator it is handed, so callers control determinism.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Dist(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    def sample(self, rng: np.random.Generator) -> float:
        """One draw."""
        raise NotImplementedError

    def support(self) -> tuple[float, float]:
        """Smallest interval that holds every value this distribution can give."""
        raise NotImplementedError


class Constant(_Dist):
    type: Literal["constant"]
    value: float

    def sample(self, rng: np.random.Generator) -> float:
        return self.value

    def support(self) -> tuple[float, float]:
        return (self.value, self.value)


class Uniform(_Dist):
    type: Literal["uniform"]
    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if not self.low <= self.high:
            raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")
        return self

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.low, self.high))

    def support(self) -> tuple[float, float]:
        return (self.low, self.high)


class Normal(_Dist):
    """A normal distribution, optionally clipped to [low, high] so physical bounds hold."""

    type: Literal["normal"]
    mean: float
    std: float = Field(ge=0)
    low: float | None = None
    high: float | None = None

    def sample(self, rng: np.random.Generator) -> float:
        value = float(rng.normal(self.mean, self.std))
        return float(np.clip(value, self.low if self.low is not None else -np.inf,
                             self.high if self.high is not None else np.inf))

    def support(self) -> tuple[float, float]:
        lo = self.low if self.low is not None else (-math.inf if self.std > 0 else self.mean)
        hi = self.high if self.high is not None else (math.inf if self.std > 0 else self.mean)
        return (lo, hi)


class LogUniform(_Dist):
    type: Literal["log_uniform"]
    low: float = Field(gt=0)
    high: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> LogUniform:
        if not self.low <= self.high:
            raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")
        return self

    def sample(self, rng: np.random.Generator) -> float:
        return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))

    def support(self) -> tuple[float, float]:
        return (self.low, self.high)


class Choice(_Dist):
    type: Literal["choice"]
    values: list[float] = Field(min_length=1)
    weights: list[float] | None = None

    @model_validator(mode="after")
    def _weights_match(self) -> Choice:
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise ValueError(f"weights has {len(self.weights)} entries, values has {len(self.values)}")
            if any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
                raise ValueError("weights must be non-negative and not all zero")
        return self

    def sample(self, rng: np.random.Generator) -> float:
        p = None if self.weights is None else np.asarray(self.weights) / sum(self.weights)
        return float(self.values[int(rng.choice(len(self.values), p=p))])

    def support(self) -> tuple[float, float]:
        return (min(self.values), max(self.values))


Distribution = Annotated[
    Constant | Uniform | Normal | LogUniform | Choice, Field(discriminator="type")
]
DISTRIBUTION_TYPES = ("constant", "uniform", "normal", "log_uniform", "choice")


def sample(value: float | _Dist, rng: np.random.Generator) -> float:
    """Draw one value from a number-or-distribution field."""
    return float(value) if isinstance(value, (int, float)) else value.sample(rng)


def support(value: float | _Dist) -> tuple[float, float]:
    return (float(value), float(value)) if isinstance(value, (int, float)) else value.support()


def nominal(value: float | _Dist) -> float:
    """A representative value: what a scene is built with before each episode shifts it."""
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, Normal):
        return float(np.clip(value.mean, *value.support()))
    if isinstance(value, Choice):
        return float(value.values[0])
    lo, hi = value.support()
    return math.sqrt(lo * hi) if isinstance(value, LogUniform) else (lo + hi) / 2


def is_random(value: float | _Dist) -> bool:
    lo, hi = support(value)
    return lo != hi
