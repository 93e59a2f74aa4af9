"""`volume_ratio` on hand-made particle arrays whose volumes are known: a random subset of a lattice
block (the engine samples a block, and records a fixed random subset of its particles), moved,
squashed, shrunk, jittered, spread into a pool two particles deep, splashed, and pressed onto a floor,
the tank's or a tilted cup's."""

from __future__ import annotations

import numpy as np
import pytest

from factory.labels import volume
from factory.labels.volume import Cavity, probe_radius, volume_ratio
from factory.meshes.generated import mug_cavity
from factory.recipe.containers import CupShape, rotation_matrices

D = 0.02  # particle spacing
TANK = (np.array([-1.0, -1.0, 0.0]), np.array([2.0, 2.0, 2.0]))


def lattice(nx: int, ny: int, nz: int, spacing: float = D) -> np.ndarray:
    """Centres of an nx × ny × nz lattice whose cells fill [0, n·spacing] on each axis."""
    axes = [(np.arange(n) + 0.5) * spacing for n in (nx, ny, nz)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)


BLOCK = lattice(14, 14, 14)  # 2,744 particles
N = len(BLOCK)
POOL = lattice(38, 37, 2)[:N]  # the same particles two layers deep on the floor: the same volume
DROPS = (lattice(6, 6, 6, 0.15)[:, None] + lattice(3, 3, 3)[None] + [0, 0, 0.3]).reshape(-1, 3)  # 27 each


def states(rng: np.random.Generator) -> dict[str, np.ndarray]:
    splashed = POOL.copy()
    splashed[-270:] = DROPS[:270]  # a tenth of the liquid flew off in 10 drops of 27
    return {"block": BLOCK, "moved": BLOCK + np.array([0.3, -0.1, 0.2]),
            "jittered": BLOCK + rng.normal(0, 0.15 * D, BLOCK.shape),
            "squashed": BLOCK * [1, 1, 0.5], "shrunk": BLOCK * 0.8, "pool": POOL,
            "disordered pool": POOL + rng.normal(0, 0.15 * D, POOL.shape), "splashed": splashed,
            "pressed pool": POOL * [1, 1, 0.5]}


@pytest.mark.parametrize("share", [0.29, 0.19])  # dam_break_256 records 256 of ~880 particles
def test_volume_ratio_reads_compression_and_not_shape(share):
    rng = np.random.default_rng(1)
    named = states(rng)
    sub = np.sort(rng.choice(N, int(share * N), replace=False))
    ratio = dict(zip(named, volume_ratio(np.stack([s[sub] for s in named.values()]), D, TANK), strict=True))
    assert ratio["block"] == 1 and ratio["moved"] == pytest.approx(1, abs=0.01)
    for same in ("jittered", "pool", "disordered pool", "splashed"):  # the same volume, another shape
        assert ratio[same] == pytest.approx(1, abs=0.1), same
    assert ratio["squashed"] == pytest.approx(0.5, abs=0.05)
    assert ratio["shrunk"] == pytest.approx(0.512, abs=0.08)  # 0.8 in every direction
    assert ratio["pressed pool"] == pytest.approx(0.5, abs=0.17)  # the pool squashed onto the floor


def test_the_tank_bounds_the_liquid():
    """Centres pressed onto a clamping floor gain no half-spacing shell below it."""
    pressed = np.stack([BLOCK, POOL * [1, 1, 0.5]])[:, ::4]
    assert volume_ratio(pressed, D, TANK)[1] < volume_ratio(pressed, D)[1] - 0.05


def _turned(deg: float) -> np.ndarray:
    """The rotation by `deg` about +y (a cup tilted about its x lip)."""
    half = np.radians(deg) / 2
    return rotation_matrices(np.array([[np.cos(half), 0.0, np.sin(half), 0.0]]))[0]


@pytest.mark.parametrize("share", [0.29, 0.19])
def test_a_tilted_cup_bounds_the_liquid_in_it(share):
    """A cup's floor and walls, posed per state, bound the liquid inside it as the tank's do: the block
    stands in the upright cup; the cup tilts 30° with the same liquid spread over its floor two layers
    deep (true ratio 1), then pressed onto that floor at half the thickness (0.5: centres a quarter
    spacing off the floor gain no shell below it), then as a block in the floor–wall corner (1)."""
    cup = CupShape(type="cup", inner=[0.8, 0.8, 0.3], wall=0.02)
    lower, upper = cup.cavity()
    centre = np.array([0.5, 0.5, 0.6])
    on_floor = lower + np.array([0.02, 0.03, 0.0])
    shapes = [BLOCK - BLOCK.mean(axis=0) * [1, 1, 0] + [0, 0, lower[2]], POOL + on_floor,
              POOL * [1, 1, 0.5] + on_floor, BLOCK + lower]
    rotations = np.stack([_turned(0)] + 3 * [_turned(30)])
    pos = np.stack([s @ r.T for s, r in zip(shapes, rotations, strict=True)]) + centre
    sub = np.sort(np.random.default_rng(1).choice(N, int(share * N), replace=False))
    cavity = Cavity(np.repeat(centre[None], len(pos), axis=0), rotations, lower, upper)
    ratio = volume_ratio(pos[:, sub], D, TANK, [cavity])
    assert ratio[1] == pytest.approx(1, abs=0.1) and ratio[3] == pytest.approx(1, abs=0.02)
    assert ratio[2] == pytest.approx(0.5, abs=0.17)  # as the tank's floor reads it (0.57-0.61 there)
    assert ratio[2] < volume_ratio(pos[:, sub], D, TANK)[2] - 0.05  # without the cup it gains the shell below


def test_a_mug_s_round_wall_bounds_the_liquid_in_it():
    """A round cavity's wall, as its tangent planes, bounds the liquid pressed against it: a pool pressed
    onto a mug's floor reads compressed with the mug as on the tank's floor, and the block standing in it
    reads its true volume."""
    lower, upper, radius = mug_cavity(0.4, 0.3, 0.02, True)
    axis = (lower + upper) / 2
    centre = np.array([0.5, 0.5, 0.6])
    disk = POOL[np.linalg.norm(POOL[:, :2] - POOL[:, :2].mean(axis=0), axis=1) < 0.95 * radius]
    pool = disk - disk.mean(axis=0) * [1, 1, 0] + [axis[0], axis[1], lower[2]]
    block = BLOCK[:len(disk)] - BLOCK[:len(disk)].mean(axis=0) * [1, 1, 0] + [axis[0], axis[1], lower[2]]
    pos = np.stack([block, pool, pool * [1, 1, 0] + (pool * [0, 0, 1] - [0, 0, lower[2]]) * 0.5 + [0, 0, lower[2]]])
    pos = pos + centre
    sub = np.sort(np.random.default_rng(1).choice(len(disk), len(disk) // 4, replace=False))
    cavity = Cavity(np.repeat(centre[None], 3, axis=0), np.repeat(np.eye(3)[None], 3, axis=0), lower, upper, radius)
    ratio = volume_ratio(pos[:, sub], D, TANK, [cavity])
    assert ratio[1] == pytest.approx(1, abs=0.1)
    assert ratio[2] == pytest.approx(0.5, abs=0.17)
    walls = cavity.walls(0, pos[1], D)
    assert len(walls) == 1 + volume.ROUND_WALL_PLANES
    assert all((pos[1] @ n >= offset - D).all() for n, offset, _ in walls)  # every point on each wall's liquid side


def test_the_probe_follows_step_zero_and_spray_is_left_out():
    sub = BLOCK[::4]
    assert probe_radius(sub) == pytest.approx(probe_radius(sub + np.array([1, 2, 3])))
    flown = sub.copy()
    flown[-1] = [5.0, 5.0, 5.0]  # one particle flew far off: spray, counted at the liquid's density
    assert volume_ratio(np.stack([sub, flown]), D)[1] == pytest.approx(1, abs=0.01)
    assert np.isnan(volume_ratio(np.stack([sub[:3], sub[:3]]), D)).all()  # too few points to tell
    blown = flown.copy()
    blown[0] = np.nan
    assert np.isnan(volume_ratio(np.stack([sub, blown]), D)[1])
    assert np.isnan(volume_ratio(np.stack([blown, sub]), D)).all()


def test_pairs_found_in_slices_give_the_same_volumes(monkeypatch):
    """The neighbour pairs are found a bounded number at a time (memory); slicing changes no ratio."""
    rng = np.random.default_rng(2)
    pos = np.stack(list(states(rng).values()))[:, ::3]
    whole = volume_ratio(pos, D, TANK)
    monkeypatch.setattr(volume, "PAIRS_AT_ONCE", 40 * pos.shape[1])  # 40 rows of the points a slice
    assert np.allclose(volume_ratio(pos, D, TANK), whole, rtol=1e-12, atol=0)
