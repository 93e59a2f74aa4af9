"""How much a liquid is compressed, from a random subset of its particle centres: `volume_ratio`.

The liquid's volume is its particle count times its volume per particle, and only the second can
change; so the ratio to step 0 is the volume per recorded point now over that at step 0, and the
subset's share and the particle count cancel (the same subset is recorded at every state). Around
each recorded point, the part of a ball of radius `R` (fixed at step 0) that the liquid fills, over
the other recorded points in it, is a local volume per point; both are weighted by a taper that
falls smoothly to 0 at `R`, so that on the lattice the engine samples at step 0 the count does not
jump with the radius (a hard ball's count does, from one subset to another). The part filled is the
ball cut by a box along the principal axes of the points within `SHAPE`·`R` (a wider ball: its
moments are less noisy, so the bulk is not cut by chance), its faces placed so that the ball ∩ slab,
filled evenly, has those points' mean and variance along each axis, the variance widened by
`spacing²/12` because each particle fills a cell of its spacing around its centre (m layers of
centres a spacing apart make a box m spacings thick, exactly). A point in the bulk keeps the whole
ball; at a free surface, a wall or in a pool two particles deep the box cuts it there. This resolves
layers thinner than the subset's own spacing, where hulls of the recorded centres (alpha shapes) see
almost no volume. The part outside the tank, or for a point in a container's cavity (a cup, a basin:
`Cavity`, posed per state) beyond that cavity's floor and walls, is no liquid (centres pressed onto
a clamping or rigid wall gain no shell beyond it: a liquid packed in a cup would read looser than it
is). Points whose tapered count is under `MIN_WEIGHT` (lone drops, whose size a subset cannot
tell) are left out: spray counts at the density of the rest. Checked on hand-made
arrays and Genesis states (README "Volume"); known limit: drops closer than `SHAPE`·`R` read as
one sparse blob (too high).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from factory.recipe.containers import in_cavity_frame

# a plane the liquid stays on one side of: (unit normal towards the liquid, offset, the points it bounds);
# a point p is on the liquid's side when normal·p >= offset
Wall = tuple[np.ndarray, float, np.ndarray | bool]

NEIGHBOURS = 20  # the probe radius is the median distance to the 20th nearest recorded point at step 0
OFF_SHELL = 1.0137  # nudges the radius off a lattice's exact neighbour distances (step 0 is a lattice)
ROUND_WALL_PLANES = 16  # a round cavity's wall as tangent planes: 2% of its radius off the circle at most
SHAPE = 1.6  # the ball the liquid's local shape is read from, in probe radii
MIN_POINTS = 4  # recorded points at step 0 below which there is nothing to tell
MIN_WEIGHT = 2.0  # tapered count of a ball (the point itself 1) below which its point is spray, left out
PAIRS_AT_ONCE = 2_000_000  # neighbour pairs held at once, at most, per slice of the points


def _unit_ball(n: int = 512) -> np.ndarray:
    """Fixed pseudo-random points filling the unit ball evenly: the volume quadrature."""
    cube = np.random.default_rng(20261202).uniform(-1, 1, (2 * n, 3))
    return cube[np.einsum("ij,ij->i", cube, cube) <= 1][:n]


MEAN_STEP, STD_STEP = 0.01, 0.005  # the slab lookup's grid, in units of the shape ball's radius


def _slab_grid(n: int = 161) -> tuple[np.ndarray, np.ndarray]:
    """Slabs [lo, hi] of the unit ball by the mean and standard deviation of the ball ∩ slab along the
    slab's normal (weight 1 - z², the area of the ball's cross-section): for each node of a grid of
    (mean, std), the slab of n × n candidates whose moments lie nearest."""
    lo, hi = (g.ravel() for g in np.meshgrid(*2 * [np.linspace(-1, 1, n)], indexing="ij"))
    keep = hi - lo > 0.02
    lo, hi = lo[keep], hi[keep]
    moments = [lambda z: z - z**3 / 3, lambda z: z**2 / 2 - z**4 / 4, lambda z: z**3 / 3 - z**5 / 5]
    m0, m1, m2 = (f(hi) - f(lo) for f in moments)
    mean = m1 / m0
    slabs = cKDTree(np.stack([mean, np.sqrt(np.maximum(m2 / m0 - mean**2, 0))], axis=1))
    nodes = np.stack(np.meshgrid(np.arange(-1, 1 + MEAN_STEP / 2, MEAN_STEP), np.arange(0, 0.6, STD_STEP),
                                 indexing="ij"), axis=-1)
    _, nearest = slabs.query(nodes.reshape(-1, 2))
    return lo[nearest].reshape(nodes.shape[:2]), hi[nearest].reshape(nodes.shape[:2])


def _taper(r: np.ndarray) -> np.ndarray:
    """The weight of a point at r probe radii: 1 at the centre, smoothly 0 at the ball's edge (and
    beyond), so counts on a lattice do not jump as the radius crosses a shell of neighbours."""
    return np.where(r < 1, (1 - np.minimum(r, 1) ** 2) ** 2, 0.0)


_BALL = _unit_ball()
_BALL_WEIGHT = _taper(np.linalg.norm(_BALL, axis=1))
_SLAB_LO, _SLAB_HI = _slab_grid()


def _slabs(mean: np.ndarray, std: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The slab with (about) these moments: (lo, hi), each shaped like `mean`."""
    i = np.clip(np.rint((mean + 1) / MEAN_STEP).astype(int), 0, _SLAB_LO.shape[0] - 1)
    j = np.clip(np.rint(std / STD_STEP).astype(int), 0, _SLAB_LO.shape[1] - 1)
    return _SLAB_LO[i, j], _SLAB_HI[i, j]


def tank_walls(lower: np.ndarray, upper: np.ndarray) -> list[Wall]:
    """The six walls of an axis-aligned tank, bounding every point."""
    eye = np.eye(3)
    return [w for k in range(3) for w in ((eye[k], float(lower[k]), True), (-eye[k], -float(upper[k]), True))]


@dataclass(frozen=True)
class Cavity:
    """An open-topped cavity (a cup, a basin: a box; a mug: round) posed per state: its floor and walls bound
    the points inside it (within half a spacing: centres pressed onto a rigid wall sit on or in it)."""

    centre: np.ndarray  # (T+1, 3) the container's origin in the world
    rotation: np.ndarray  # (T+1, 3, 3) its frame's axes (columns) in the world
    lower: np.ndarray  # (3,) the cavity's corners in its frame: floor top to rim (a round one's box about it)
    upper: np.ndarray
    radius: float = 0.0  # > 0: round, about the vertical through the box's middle

    def walls(self, t: int, points: np.ndarray, spacing: float) -> list[Wall]:
        rot, centre = self.rotation[t], self.centre[t]
        local = (points - centre) @ rot
        cavity = (self.lower, self.upper, self.radius) if self.radius > 0 else (self.lower, self.upper)
        inside = in_cavity_frame(local, cavity, spacing / 2)
        if not inside.any():
            return []
        out: list[Wall] = [(rot[:, 2], float(rot[:, 2] @ centre + self.lower[2]), inside)]  # the floor; open top
        if self.radius > 0:  # the round wall as the polygon of planes tangent to it (every one bounds the cavity)
            axis = centre + rot[:, :2] @ ((self.lower[:2] + self.upper[:2]) / 2)
            for angle in np.arange(ROUND_WALL_PLANES) * 2 * np.pi / ROUND_WALL_PLANES:
                normal = -(rot[:, 0] * np.cos(angle) + rot[:, 1] * np.sin(angle))  # inwards
                out.append((normal, float(normal @ axis - self.radius), inside))
            return out
        for k in range(2):
            axis = rot[:, k]
            out += [(axis, float(axis @ centre + self.lower[k]), inside),
                    (-axis, float(-axis @ centre - self.upper[k]), inside)]
        return out


def probe_radius(points: np.ndarray) -> float:
    """The radius of the neighbourhoods: about `NEIGHBOURS` recorded points of the step-0 liquid."""
    k = min(NEIGHBOURS, len(points) - 1)
    return float(np.median(cKDTree(points).query(points, k + 1)[0][:, -1]) * OFF_SHELL)


def _neighbour_sums(points: np.ndarray, radius: float, reach: float) -> tuple[np.ndarray, ...]:
    """Per point of (N, 3), over the others within `reach`: their number plus one (the point itself), the
    sum of their offsets and of the offsets' outer products (in units of `reach`), and the tapered count
    within `radius` (the point itself weighing 1). Sums over pairs, not a padded (N, K) neighbour table:
    a k-nearest query padded to the fullest ball cost ten times the pair search, and sums are all the
    moments need. Pairs are found `PAIRS_AT_ONCE` at most at a time, so a dense state cannot exhaust memory."""
    n = len(points)
    tree = cKDTree(points)
    m, count = np.ones(n), np.ones(n)
    first, second = np.zeros((n, 3)), np.zeros((n, 3, 3))
    rows = max(1, PAIRS_AT_ONCE // n)
    for start in range(0, n, rows):
        pairs = cKDTree(points[start:start + rows]).sparse_distance_matrix(tree, reach, output_type="ndarray")
        i = pairs["i"] + start
        other = i != pairs["j"]  # a point is not its own neighbour (another at the same place is)
        i, j, dist = i[other], pairs["j"][other], pairs["v"][other]
        rel = (points[j] - points[i]) / reach
        m += np.bincount(i, minlength=n)
        count += np.bincount(i, _taper(dist / radius), minlength=n)
        for k in range(3):
            first[:, k] += np.bincount(i, rel[:, k], minlength=n)
            for c in range(k, 3):
                second[:, k, c] += np.bincount(i, rel[:, k] * rel[:, c], minlength=n)
    second = np.triu(second) + np.swapaxes(np.triu(second, 1), 1, 2)
    return m, first, second, count


def local_volumes(points: np.ndarray, radius: float, spacing: float,
                  walls: Sequence[Wall] = ()) -> tuple[np.ndarray, np.ndarray]:
    """Per point of (N, 3): the volume of its ball that the liquid fills, and the points in it."""
    n = len(points)
    reach = SHAPE * radius  # the shape is read from a wider ball than the count: fewer false cuts from noise
    m, first, second, count = _neighbour_sums(points, radius, reach)
    mean = first / m[:, None]  # the neighbours' mean offset (the point itself, at 0, among them)
    scatter = second - m[:, None, None] * mean[:, :, None] * mean[:, None, :]
    eig, axes = np.linalg.eigh(scatter)  # columns: principal axes; eigenvalues: the scatter along them
    mu = np.einsum("nk,nkc->nc", mean, axes)
    var = eig / np.maximum(m - 1, 1)[:, None] + (spacing / reach) ** 2 / 12  # unbiased, widened by the cells
    lo, hi = (SHAPE * x for x in _slabs(mu, np.sqrt(np.maximum(var, 0))))  # (N, 3), in units of R
    filled = np.ones((n, len(_BALL)), bool)  # (N, S): the quadrature points in the liquid, in each point's axes
    for k in range(3):
        filled &= (_BALL[:, k] >= lo[:, k, None]) & (_BALL[:, k] <= hi[:, k, None])
    for normal, offset, applies in walls:  # balls that reach a wall lose their part beyond it
        depth = points @ normal - offset  # how far inside the wall's liquid side
        near_wall = np.flatnonzero(applies & (depth < radius))
        out = (normal @ axes[near_wall]) @ _BALL.T  # (M, S): towards the liquid's side, in units of R
        filled[near_wall] &= out >= -depth[near_wall, None] / radius
    return (filled * _BALL_WEIGHT).mean(axis=1) * (4 / 3 * np.pi * radius**3), count


def volume_per_point(points: np.ndarray, radius: float, spacing: float, walls: Sequence[Wall] = ()) -> float:
    """The liquid's volume per recorded point: filled volume over the other points in the balls, summed
    over the non-spray (a point's own is always there: counting it would favour sparse neighbourhoods)."""
    if not np.isfinite(points).all():  # a blown-up state has no volume to tell
        return float("nan")
    volume, count = local_volumes(points, radius, spacing, walls)
    liquid = count >= MIN_WEIGHT
    return float(volume[liquid].sum() / (count[liquid] - 1).sum()) if liquid.any() else float("nan")


def volume_ratio(pos: np.ndarray, spacing: float, tank: tuple[np.ndarray, np.ndarray] | None = None,
                 cavities: Sequence[Cavity] = ()) -> np.ndarray:
    """Liquid volume at each state over that at step 0, from the recorded points: (T+1, N, 3) → (T+1,).

    `spacing` is the particle spacing (the recipe's `particle_size`); `tank` (lower, upper), if given,
    bounds where liquid can be, and so do the walls and floor of each of `cavities` (containers posed
    per state) for the points inside it. NaN where step 0 has too few points to tell, and at non-finite
    states.
    """
    if len(pos[0]) <= MIN_POINTS or not np.isfinite(pos[0]).all():
        return np.full(len(pos), np.nan)
    radius = probe_radius(pos[0])
    box = tank_walls(*tank) if tank is not None else []

    def walls(t: int, points: np.ndarray) -> list[Wall]:
        return box + [w for c in cavities for w in c.walls(t, points, spacing)]
    volumes = np.array([volume_per_point(p, radius, spacing, walls(t, p)) for t, p in enumerate(pos)])
    return volumes / volumes[0]
