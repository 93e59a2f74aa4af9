"""Recipe sections for particle scenes: a liquid in a tank, a cloth sheet, and kinematic movers.

Where the liquid or cloth starts and how the movers move are drawn per episode. Particle spacing,
liquid volume, viscosity, sheet size and compliances shape the built scene: they are drawn per
scene variant (`Recipe.scene_variants`, see `factory.scene_variants`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from factory.recipe.field_types import FixedVec3, Name, Num, Strict, Vec3, require_range


class Region(Strict):
    """An axis-aligned box of space, `lower` to `upper` corner, in metres."""

    lower: FixedVec3
    upper: FixedVec3

    @model_validator(mode="after")
    def _ordered(self) -> Region:
        if any(lo >= hi for lo, hi in zip(self.lower, self.upper, strict=True)):
            raise ValueError("upper: every coordinate must exceed lower's")
        return self


class LiquidBlock(Strict):
    """The liquid at step 0: a block of particles; its centre varies per episode, its size per scene."""

    pos: Vec3 = Field(description="Centre in metres (per-episode values shift the block).")
    size: Vec3 = Field(description="Edge lengths in metres; sets the liquid volume and the particle count.")

    @model_validator(mode="after")
    def _physical(self) -> LiquidBlock:
        for axis, s in zip("xyz", self.size, strict=True):
            require_range(s, f"size.{axis}", 0.0)
        return self


class Fluid(Strict):
    """An SPH liquid inside a tank whose walls it cannot cross."""

    solver: Literal["sph"] = "sph"
    pressure_solver: Literal["WCSPH", "DFSPH"] = Field("WCSPH", description="Genesis SPH pressure solver; "
                                                      "DFSPH costs about twice as much per step.")
    particle_size: Num = Field(0.02, description="Particle spacing in metres (0.005-0.1).")
    tank: Region = Field(description="The container: the solver's domain, walls on all six sides.")
    block: LiquidBlock
    viscosity: Num = Field(0.01, description="Dynamic viscosity (Genesis SPH 'mu').")
    source: Region | None = Field(None, description="The container the liquid starts in (for labels).")
    target: Region | None = Field(None, description="Where the liquid should end up (for labels).")
    record_points: int = Field(ge=1, description="Particles recorded per state: a fixed random subset "
                               "(their indices are stored with every episode).")
    substeps: int | None = Field(None, ge=1, le=50, description="Solver substeps per step; default: the "
                                 "fewest that keep the acoustic CFL number dt_sub·c/d at most 0.4.")
    walls: Literal["liquid", "clamp"] = Field(
        "liquid", description="'liquid': the tank walls add the density and pressure push of liquid at rest "
        "beyond them, so layers at the walls and floor do not pack tighter (WCSPH only); 'clamp': Genesis' "
        "own walls, which only clamp positions (a block then settles to about half its height).")
    sampling: Literal["rest", "lattice"] = Field(
        "rest", description="'rest': the block starts at the number density the liquid rests at (measured, "
        "engines/genesis/particles.py: REST_SQUEEZE), sampled that much taller and squeezed to its height, so "
        "its volume holds from step 0; 'lattice': Genesis' own sampling at the spacing.")

    @model_validator(mode="after")
    def _physical(self) -> Fluid:
        require_range(self.particle_size, "particle_size", 0.005, 0.1, low_open=False)
        require_range(self.viscosity, "viscosity", 0.0, low_open=False)
        if self.walls == "liquid" and self.pressure_solver != "WCSPH":
            raise ValueError("walls: 'liquid' needs pressure_solver 'WCSPH' (DFSPH keeps Genesis' walls: "
                             "set walls: clamp)")
        return self


class Cloth(Strict):
    """A square sheet (Genesis' cloth mesh), dropped from `pos`; optionally held by one corner."""

    size: Num = Field(0.5, description="Edge length of the square sheet in metres (above 0.05, at most 3).")
    pos: Vec3 = Field(description="Centre of the sheet at step 0 (per-episode values shift it).")
    stretch_compliance: Num = Field(1e-7, description="PBD stretch compliance (inverse stiffness), >= 0.")
    bending_compliance: Num = Field(1e-5, description="PBD bending compliance, >= 0.")
    particle_size: Num = Field(0.01, description="PBD particle radius in metres (0.002-0.05).")
    grasp: Literal["none", "corner"] = Field("none", description="'corner': one corner follows a "
                                             "`move` action on object 'cloth'.")
    record_points: int = Field(ge=1, description="Vertices recorded per state: a fixed random subset "
                               "(their indices are stored with every episode); edge strain covers the "
                               "edges between recorded vertices.")
    substeps: int = Field(10, ge=1, le=50)

    @model_validator(mode="after")
    def _physical(self) -> Cloth:
        require_range(self.size, "size", 0.05, 3.0)
        require_range(self.stretch_compliance, "stretch_compliance", 0.0, low_open=False)
        require_range(self.bending_compliance, "bending_compliance", 0.0, low_open=False)
        require_range(self.particle_size, "particle_size", 0.002, 0.05, low_open=False)
        return self


class Move(Strict):
    """A kinematic mover: a fixed object (container, paddle) or the cloth's grasped corner moves
    at a velocity drawn per episode from step `start` until step `stop`; the velocity is the action."""

    type: Literal["move"]
    object: Name = Field(description="A fixed object of the scene, or 'cloth' for the grasped corner.")
    velocity: Vec3 = Field(description="m/s, world frame.")
    start: int = Field(0, ge=0)
    stop: int | None = Field(None, ge=1, description="Step at which it stops (default: the episode's end).")
