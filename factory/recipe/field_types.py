"""Field types every part of the recipe schema shares."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from factory.recipe.distributions import Distribution, support

Num = Annotated[float | Distribution, Field(union_mode="left_to_right")]
"""A number, or a distribution each episode draws from."""
Vec3 = Annotated[list[Num], Field(min_length=3, max_length=3)]
FixedVec3 = Annotated[list[float], Field(min_length=3, max_length=3)]
Name = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=32)]


class Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


def require_range(value: Num, name: str, low: float, high: float = float("inf"), low_open: bool = True) -> None:
    """Check every value `value` can take lies in the physical range of field `name`."""
    lo, hi = support(value)
    below = lo <= low if low_open else lo < low
    if below or hi > high:
        bound = f"> {low}" if low_open else f">= {low}"
        rng = f"{bound}" + (f" and <= {high}" if high != float("inf") else "")
        what = f"{lo}" if lo == hi else f"values in [{lo}, {hi}]"
        raise ValueError(f"{name}: must be {rng}, but can take {what}")
