"""Fluid and cloth labels on hand-made particle arrays whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from factory.labels.cloth import (
    ClothContext,
    cloth_episode_labels,
    covered_fraction,
    edge_strain,
    neighbour_edges,
    sphere_contact_fraction,
)
from factory.labels.fluid import (
    FluidContext,
    conserved,
    fluid_episode_labels,
    fluid_step_labels,
    settle_step,
    surface_height,
    volume_ratio,
)

FLUID = FluidContext(tank_lower=np.array([-1.0, -1, 0]), tank_upper=np.array([1.0, 1, 1]),
                     target_lower=np.array([0.0, -1, 0]), target_upper=np.array([1.0, 1, 1]),
                     source_lower=np.array([-1.0, -1, 0]), source_upper=np.array([-0.5, 1, 1]),
                     particle_size=0.02, record_dt=0.1, settle_speed=0.05)


def grid(n: int, spacing: float, z: float = 0.0) -> np.ndarray:
    xs = np.arange(n) * spacing
    x, y = np.meshgrid(xs, xs, indexing="ij")
    return np.stack([x.ravel(), y.ravel(), np.full(n * n, z)], axis=-1)


def test_fluid_labels_on_a_block_that_moves_across():
    start = grid(10, 0.02, 0.1) + np.array([-0.7, 0, 0])
    end = grid(10, 0.02, 0.05) + np.array([0.5, 0, 0])
    pos = np.stack([start, (start + end) / 2, end, end])
    vel = np.zeros_like(pos)
    vel[1] = 1.0
    labels = fluid_episode_labels(pos, vel, FLUID)
    assert labels["in_target_fraction"] == 1.0 and labels["spilled_fraction"] == 0.0
    assert labels["surface_height"] == pytest.approx(0.05)
    assert labels["max_splash_height"] == pytest.approx(0.1)
    assert labels["settled"] and labels["settle_step"] == 2 and labels["settle_time"] == pytest.approx(0.2)
    assert labels["particles_conserved"]


def test_spill_counts_what_is_neither_in_source_nor_in_target():
    start = grid(4, 0.1, 0.1) + np.array([-0.9, 0, 0])  # x in [-0.9, -0.6]: the source container
    end = start.copy()
    end[:4, 0] = -0.3  # 4 of 16 particles end between source and target
    end[4:6, 0] = 0.5  # 2 in the target
    pos = np.stack([start, end])
    labels = fluid_episode_labels(pos, np.zeros_like(pos), FLUID)
    assert labels["spilled_fraction"] == pytest.approx(4 / 16)
    assert labels["in_target_fraction"] == pytest.approx(2 / 16)
    no_source = FluidContext(**{**FLUID.__dict__, "source_lower": None, "source_upper": None})
    assert "spilled_fraction" not in fluid_episode_labels(pos, np.zeros_like(pos), no_source)


def test_conservation_check_catches_leaks_and_nan():
    pos = np.zeros((3, 5, 3)) + 0.5
    assert conserved(pos, FLUID)
    leaked = pos.copy()
    leaked[2, 0, 2] = -0.5  # through the floor
    assert not conserved(leaked, FLUID)
    broken = pos.copy()
    broken[1, 1] = np.nan
    assert not conserved(broken, FLUID)


def test_settle_step_and_surface():
    speeds = np.array([[1.0], [0.5], [0.01], [0.0]])[:, :, None] * np.ones((1, 1, 3)) / np.sqrt(3)
    assert settle_step(speeds, 0.05) == 2
    assert settle_step(np.ones((3, 2, 3)), 0.05) == -1
    assert surface_height(np.array([[0, 0, z] for z in np.linspace(0, 1, 101)]), 0.0) == pytest.approx(0.95)


def test_edge_strain_of_a_stretched_grid():
    flat = grid(5, 0.1)
    edges, rest = neighbour_edges(flat)
    assert len(edges) == 2 * 5 * 4 + 2 * 4 * 4  # structural + both diagonals
    stretched = flat * [1.1, 1.0, 1.0]
    strain = edge_strain(np.stack([flat, stretched]), edges, rest)
    assert strain[0].max() == pytest.approx(0.0)
    assert strain[1].max() == pytest.approx(0.1)


def test_contact_and_cover_on_a_sphere():
    center, r = np.array([0.0, 0, 0.2]), 0.15
    cap = np.array([[x, y, 0.2 + np.sqrt(max(r ** 2 - x ** 2 - y ** 2, 0)) + 0.005]
                    for x in np.linspace(-0.1, 0.1, 21) for y in np.linspace(-0.1, 0.1, 21)])
    far = cap + np.array([0, 0, 1.0])
    assert sphere_contact_fraction(cap, center, r, 0.02) == 1.0
    assert sphere_contact_fraction(far, center, r, 0.02) == 0.0
    # a cap of half-width 0.1 covers the cells of the r=0.15 disk inside |x|,|y| <= 0.1
    covered = covered_fraction(cap, center, r, top=0.35)
    assert 0.4 < covered < 0.75
    assert covered_fraction(far + np.array([2, 0, 0]), center, r, top=0.35) == 0.0


def test_cloth_slid_off_only_when_it_lies_on_the_floor():
    ctx = ClothContext(object_center=np.array([0.0, 0, 0.2]), object_radius=0.15, object_top=0.35,
                       contact_distance=0.02, ground_height=0.0)
    sheet = grid(10, 0.05, 0.5)
    on_floor = grid(10, 0.05, 0.005) + np.array([1.0, 0, 0])
    labels = cloth_episode_labels(np.stack([sheet, on_floor]), ctx)
    assert labels["slid_off"] and labels["contact_fraction"] == 0.0
    assert labels["final_height_max"] == pytest.approx(0.005)
    hanging = sheet.copy()
    hanging[:, 2] = 0.3
    assert not cloth_episode_labels(np.stack([sheet, hanging]), ctx)["slid_off"]


def test_volume_ratio_labels_are_the_estimator_at_the_recipes_spacing_in_the_tank():
    """The estimator itself is tested on hand-made arrays in test_labels_volume.py."""
    axis = np.arange(12) * 0.02 + 0.01
    block = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).reshape(-1, 3)[::3]
    pos = np.stack([block, block * [1, 1, 0.5], block + np.array([0.3, 0, 0])])
    expected = volume_ratio(pos, FLUID.particle_size, (FLUID.tank_lower, FLUID.tank_upper))
    assert expected[1] == pytest.approx(0.5, abs=0.1) and expected[2] == pytest.approx(1, abs=0.01)
    assert np.allclose(fluid_step_labels(pos, FLUID)["volume_ratio"], expected[1:])
    labels = fluid_episode_labels(pos[:2], np.zeros((2, len(block), 3)), FLUID)
    assert labels["volume_ratio"] == pytest.approx(expected[1])
