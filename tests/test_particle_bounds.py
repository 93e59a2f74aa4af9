"""The PBD domain fitted to a cloth scene holds everything the episode can reach, and no more."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from engines.genesis.bounds import check_inside, cloth_domain
from engines.genesis.particles import substeps
from factory.errors import SimulationError
from factory.recipe.loader import load_recipe
from factory.recipe.schema import Recipe

ROOT = Path(__file__).resolve().parent.parent


def test_drape_domain_holds_the_sheet_the_ball_and_its_reach():
    recipe = load_recipe(ROOT / "recipes" / "cloth" / "drape.yaml")
    lower, upper, cell, slots = cloth_domain(recipe)
    lower, upper = np.array(lower), np.array(upper)
    size = 0.55  # the largest sheet
    # the ball (radius up to 0.16) slides up to 0.6 m/s for (100 - 40) steps of 4 ms from x = 0,
    # and the sheet can slide off it to land a sheet's size beyond it
    reach = 0.6 * 60 * 0.004 + 0.16 + size
    assert lower[0] <= -reach and upper[0] >= reach
    assert upper[0] - lower[0] < 2 * reach + 0.3  # fitted, not Genesis' ±100 m
    assert lower[2] < 0.0 < 0.5 < upper[2] < 1.0  # from below the floor to above the highest start
    assert 1.25 * 0.01 <= cell <= 0.03  # a few particle sizes: few vertices in a vertex's 27 cells
    assert slots == (32, 32, 32)  # a repeating grid: the domain spans more cells than that


def test_domain_follows_a_grasped_corner_and_a_fall_without_floor():
    recipe = load_recipe(ROOT / "recipes" / "cloth" / "corner_pull.yaml")
    _lower, upper, *_ = cloth_domain(recipe)
    # corner from (-0.25, -0.25, 0.02) at up to 0.8 m/s for 0.4 s, sheet hanging a diagonal from it
    assert upper[0] >= -0.25 + 0.8 * 0.4 + 0.5 * np.sqrt(2)
    free = Recipe.model_validate(recipe.model_dump() | {"scene": recipe.scene.model_dump() | {"ground": None}})
    fall = 0.5 * 9.81 * (100 * 0.004) ** 2
    assert cloth_domain(free)[0][2] <= 0.02 - fall


def test_points_at_the_domain_walls_are_refused():
    lower, upper = (-1.0, -1.0, 0.0), (1.0, 1.0, 1.0)
    pos = np.zeros((2, 5, 3)) + 0.5
    check_inside(pos, lower, upper, 1e-4)
    pos[1, 3, 2] = 1.0  # clamped at the top wall
    with pytest.raises(SimulationError, match=r"vertex 3 of env 1 reached the fitted PBD domain \(z = 1.000, "
                       r"domain \(-1.000, -1.000, 0.000\) .. \(1.000, 1.000, 1.000\)\)"):
        check_inside(pos, lower, upper, 1e-4)


def test_liquid_substeps_follow_the_cfl_bound():
    recipe = load_recipe(ROOT / "recipes" / "fluid" / "dam_break.yaml")
    fluid = recipe.scene.fluid.model_dump() | {"substeps": None, "particle_size": 0.02}
    auto = Recipe.model_validate(recipe.model_dump() | {"scene": recipe.scene.model_dump() | {"fluid": fluid}})
    assert substeps(auto) == 10  # ceil(0.004 s · 18.7 m/s / (0.4 · 0.02 m))
    fluid["particle_size"] = 0.04
    coarse = Recipe.model_validate(auto.model_dump() | {"scene": auto.scene.model_dump() | {"fluid": fluid}})
    assert substeps(coarse) == 5
    fluid["substeps"] = 12
    pinned = Recipe.model_validate(auto.model_dump() | {"scene": auto.scene.model_dump() | {"fluid": fluid}})
    assert substeps(pinned) == 12


@pytest.mark.genesis
def test_genesis_gets_the_fitted_hash():
    """The solver options carry the hash's cell and slot count (Genesis rounds the grid's metres up to cells)."""
    gs = pytest.importorskip("genesis")
    from engines.genesis.particles import solver_options

    recipe = load_recipe(ROOT / "recipes" / "cloth" / "drape.yaml")
    domain = cloth_domain(recipe)
    options = solver_options(gs, recipe)["pbd_options"]
    assert options.hash_grid_cell_size == domain.cell
    assert list(options._hash_grid_res) == list(domain.slots)
