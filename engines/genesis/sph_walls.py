"""Tank walls that count as liquid: Genesis' SPH solver with the kernel mass its walls cut away.

Genesis' SPH tank walls only clamp positions. A particle near a wall finds no neighbours beyond it,
reads too low a density, has no pressure (Genesis clamps density below rest to rest) and packs until
it does: a block filling its tank's footprint settles to about half its height. This solver adds,
for every tank wall within the kernel's support, what a half-space of liquid at rest density beyond it would add: to the
density, the kernel's volume beyond the walls, 1 - prod_k (1 - Phi(x_k,lo) - Phi(x_k,hi)), with
Phi(x) = integral of W over the half-space beyond a plane at distance x (Phi(0) = 1/2; the product
counts the region beyond two walls at an edge once, as it would be for a separable kernel); to the
pressure force, the mirrored pressure's push, 2·rho0·(p/rho²)·sigma(x) along the wall's normal,
sigma being Genesis' own `cubic_kernel_plane_integral` (the derivative of -Phi). Both are the
continuum limit of boundary particles mirroring the liquid (Koschier & Bender's density maps, with the
plane's closed form). WCSPH only: DFSPH's own density solver keeps Genesis'.

Rigid containers (cups, basins) get the same five planes, floor and walls of their cavity (a mug's round
wall as the plane tangent to it nearest the particle), for the
particles whose centres are in it below the rim (or pressed `PRESSED` of a particle into a wall), in
the container's frame as the engine poses it each step (`set_cavity_poses`): Genesis' rigid coupling
only pushes particles out of a body, so liquid in a cup would pack against its floor and walls as it
does against the tank's, and creep (README "Fluid and cloth").
"""

from __future__ import annotations

from collections.abc import Sequence

import genesis as gs
import numpy as np
import quadrants as qd
from genesis.engine.solvers.sph_solver import SPHSolver
from quadrants.lang.util import to_numpy_type

PRESSED = 0.25  # particle sizes a centre may sit inside a container's wall and still count as in its cavity


@qd.data_oriented
class WalledSPHSolver(SPHSolver):
    """`SPHSolver` whose six domain walls, and the floor and walls of each container's cavity, add the
    density and pressure push of liquid beyond them."""

    _cavities: tuple = ()  # (lower, upper, radius; 0: a box) of each container's cavity in its frame, set before build

    def build(self):
        super().build()
        # per container and env: its origin (3) and rotation (9, row-major, frame → world), set every step
        self._cavity_pose = qd.field(gs.qd_float, shape=(max(len(self._cavities), 1), self._B, 12))

    def set_cavity_poses(self, pose: np.ndarray) -> None:
        """Where each container is, per env: (n_containers, B, 12) origins and row-major rotations."""
        self._cavity_pose.from_numpy(np.ascontiguousarray(pose, dtype=to_numpy_type(gs.qd_float)))

    @qd.func
    def _cavity_rotation(self, c: qd.template(), i_b):  # type: ignore[valid-type]  # quadrants' own annotation
        """Container c's rotation (its frame → the world) in env i_b."""
        rot = qd.Matrix.zero(gs.qd_float, 3, 3)
        for a in qd.static(range(3)):
            for b in qd.static(range(3)):
                rot[a, b] = self._cavity_pose[c, i_b, 3 + 3 * a + b]
        return rot

    @qd.func
    def _cavity_local(self, c: qd.template(), i_b, rot, pos):  # type: ignore[valid-type]  # quadrants' own annotation
        """A world point in container c's frame."""
        rel = qd.Vector.zero(gs.qd_float, 3)
        for k in qd.static(range(3)):
            rel[k] = pos[k] - self._cavity_pose[c, i_b, k]
        return rot.transpose() @ rel

    @qd.func
    def _in_cavity(self, c: qd.template(), local):  # type: ignore[valid-type]  # quadrants' own annotation
        """Whether a point (in container c's frame) is in its cavity, below the rim: a centre pressed
        into a wall by up to `PRESSED` particle sizes still is; one outside a wall's outer face is not."""
        ok = 1
        for k in qd.static(range(3)):
            if local[k] < qd.static(self._cavities[c][0][k] - PRESSED * self._support_radius / 2):
                ok = 0
            if local[k] > qd.static(self._cavities[c][1][k] + (PRESSED * self._support_radius / 2 if k < 2 else 0.0)):
                ok = 0
        if qd.static(self._cavities[c][2] > 0.0):  # noqa: SIM102 - a compile-time branch stands alone
            # round: within the wall's radius (its box holds the circle)
            if self._radial(c, local).norm() > qd.static(self._cavities[c][2] + PRESSED * self._support_radius / 2):
                ok = 0
        return ok

    @qd.func
    def _radial(self, c: qd.template(), local):  # type: ignore[valid-type]  # quadrants' own annotation
        """A point's offset (x, y) from a round cavity's axis, in container c's frame."""
        return qd.Vector([local[0] - qd.static((self._cavities[c][0][0] + self._cavities[c][1][0]) / 2),
                          local[1] - qd.static((self._cavities[c][0][1] + self._cavities[c][1][1]) / 2)])

    @qd.func
    def _wall_volume(self, dist):
        """Phi: the cubic kernel's integral over the half-space beyond a plane at `dist` (≥ 0)."""
        res = gs.qd_float(0.0)
        q = qd.max(dist, 0.0) / self._support_radius
        q3 = q * q * q
        if q <= 0.5:
            res = 3.2 * q3 * q3 - 4.8 * q3 * q * q + 8.0 / 3.0 * q3 - 1.4 * q + 0.5
        elif q <= 1.0:
            res = -16.0 / 15.0 * q3 * q3 + 4.8 * q3 * q * q - 8.0 * q3 * q + 16.0 / 3.0 * q3 - 1.6 * q + 8.0 / 15.0
        return res

    @qd.kernel
    def _kernel_compute_rho(self, f: qd.i32):
        for i_p, i_b in qd.ndrange(self._n_particles, self._B):
            if self.particles_ng_reordered[i_p, i_b].active:
                rho = self._particle_volume * self.cubic_kernel(0.0)
                den = gs.qd_float(0.0)
                self.sh.for_all_neighbors(
                    i_p, self.particles_reordered.pos, self._support_radius, den, self._task_compute_rho, i_b
                )
                pos = self.particles_reordered[i_p, i_b].pos
                inside = gs.qd_float(1.0)  # the kernel's share inside the tank, as if it were separable
                for k in qd.static(range(3)):
                    inside *= 1.0 - self._wall_volume(pos[k] - qd.static(float(self._lower_bound[k]))) - \
                        self._wall_volume(qd.static(float(self._upper_bound[k])) - pos[k])
                for c in qd.static(range(len(self._cavities))):
                    local = self._cavity_local(c, i_b, self._cavity_rotation(c, i_b), pos)
                    if self._in_cavity(c, local) == 1:
                        if qd.static(self._cavities[c][2] > 0.0):  # a round wall, as the plane tangent nearest
                            inside *= 1.0 - self._wall_volume(
                                qd.static(self._cavities[c][2]) - self._radial(c, local).norm())
                        else:
                            for k in qd.static(range(2)):
                                inside *= 1.0 - self._wall_volume(local[k] - qd.static(self._cavities[c][0][k])) - \
                                    self._wall_volume(qd.static(self._cavities[c][1][k]) - local[k])
                        inside *= 1.0 - self._wall_volume(local[2] - qd.static(self._cavities[c][0][2]))  # open top
                self.particles_reordered[i_p, i_b].rho = (rho + den + 1.0 - inside) * self.particles_info_reordered[
                    i_p, i_b].rho

    @qd.kernel
    def _kernel_compute_pressure_forces(self, f: qd.i32):
        for i_p, i_b in qd.ndrange(self._n_particles, self._B):
            if self.particles_ng_reordered[i_p, i_b].active:
                rho0 = self.particles_info_reordered[i_p, i_b].rho
                stiff = self.particles_info_reordered[i_p, i_b].stiffness
                expnt = self.particles_info_reordered[i_p, i_b].exponent
                self.particles_reordered[i_p, i_b].rho = qd.max(self.particles_reordered[i_p, i_b].rho, rho0)
                self.particles_reordered[i_p, i_b].p = stiff * (
                    qd.pow(self.particles_reordered[i_p, i_b].rho / rho0, expnt) - 1.0
                )

        for i_p, i_b in qd.ndrange(self._n_particles, self._B):
            if self.particles_ng_reordered[i_p, i_b].active:
                acc = qd.Vector.zero(gs.qd_float, 3)
                self.sh.for_all_neighbors(
                    i_p, self.particles_reordered.pos, self._support_radius, acc, self._task_compute_pressure_forces,
                    i_b
                )
                pos = self.particles_reordered[i_p, i_b].pos
                push = 2.0 * self.particles_info_reordered[i_p, i_b].rho * self.particles_reordered[i_p, i_b].p
                push = push / self.particles_reordered[i_p, i_b].rho ** 2
                for k in qd.static(range(3)):
                    acc[k] += push * self.cubic_kernel_plane_integral(
                        qd.max(pos[k] - qd.static(float(self._lower_bound[k])), 0.0))
                    acc[k] -= push * self.cubic_kernel_plane_integral(
                        qd.max(qd.static(float(self._upper_bound[k])) - pos[k], 0.0))
                for c in qd.static(range(len(self._cavities))):
                    rot = self._cavity_rotation(c, i_b)
                    local = self._cavity_local(c, i_b, rot, pos)
                    if self._in_cavity(c, local) == 1:
                        out = qd.Vector.zero(gs.qd_float, 3)  # in the container's frame, away from its walls
                        if qd.static(self._cavities[c][2] > 0.0):  # towards a round wall's axis
                            radial = self._radial(c, local)
                            rho = qd.max(radial.norm(), 1e-9)
                            inward = self.cubic_kernel_plane_integral(qd.max(qd.static(self._cavities[c][2]) - rho,
                                                                             0.0))
                            out[0] = -inward * radial[0] / rho
                            out[1] = -inward * radial[1] / rho
                        else:
                            for k in qd.static(range(2)):
                                out[k] = self.cubic_kernel_plane_integral(
                                    qd.max(local[k] - qd.static(self._cavities[c][0][k]), 0.0)) - \
                                    self.cubic_kernel_plane_integral(
                                        qd.max(qd.static(self._cavities[c][1][k]) - local[k], 0.0))
                        out[2] = self.cubic_kernel_plane_integral(
                            qd.max(local[2] - qd.static(self._cavities[c][0][2]), 0.0))
                        acc += push * (rot @ out)
                self.particles_reordered[i_p, i_b].acc += acc


def use_walled_solver(scene, cavities: Sequence[tuple] = ()) -> None:
    """Swap the scene's SPH solver for `WalledSPHSolver` (before `scene.build`); `cavities`: each rigid
    container's cavity in its own frame, (lower, upper) of a box or (lower, upper, radius) of a round one
    (`factory.recipe.containers.Cavity`), posed later by `set_cavity_poses`."""
    solver = scene.sim.sph_solver
    if solver._pressure_solver != "WCSPH":
        raise ValueError("tank walls that count as liquid need the WCSPH pressure solver")
    solver.__class__ = WalledSPHSolver
    solver._cavities = tuple((tuple(map(float, c[0])), tuple(map(float, c[1])), float(c[2]) if len(c) == 3 else 0.0)
                             for c in cavities)
