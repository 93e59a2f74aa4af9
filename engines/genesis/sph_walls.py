"""Tank walls that count as liquid: Genesis' SPH solver with the kernel mass its walls cut away.

Genesis' SPH tank walls only clamp positions. A particle near a wall finds no neighbours beyond it,
reads too low a density (a layer touching the floor reads 0.78 of a bulk particle), has no pressure
(Genesis clamps density below rest to rest) and packs until it does: a 12 cm block filling its
tank's footprint settled to about half its height. This solver adds, for every tank wall within
the kernel's support, what a half-space of liquid at rest density beyond it would add: to the
density, the kernel's volume beyond the walls, 1 - prod_k (1 - Phi(x_k,lo) - Phi(x_k,hi)), with
Phi(x) = integral of W over the half-space beyond a plane at distance x (Phi(0) = 1/2; the product
counts the region beyond two walls at an edge once, as it would be for a separable kernel); to the pressure force, the mirrored pressure's push, 2·rho0·(p/rho²)·sigma(x)
along the wall's normal, sigma being Genesis' own `cubic_kernel_plane_integral` (the derivative of
-Phi). Both are the continuum limit of boundary particles mirroring the liquid (Koschier & Bender's
density maps, with the plane's closed form). WCSPH only: DFSPH's own density solver keeps Genesis'.
"""

from __future__ import annotations

import genesis as gs
import quadrants as qd
from genesis.engine.solvers.sph_solver import SPHSolver


@qd.data_oriented
class WalledSPHSolver(SPHSolver):
    """`SPHSolver` whose six domain walls add the density and pressure push of liquid beyond them."""

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
                    inside *= 1.0 - self._wall_volume(pos[k] - qd.static(float(self._lower_bound[k]))) - self._wall_volume(
                        qd.static(float(self._upper_bound[k])) - pos[k])
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
                    i_p, self.particles_reordered.pos, self._support_radius, acc, self._task_compute_pressure_forces, i_b
                )
                pos = self.particles_reordered[i_p, i_b].pos
                push = 2.0 * self.particles_info_reordered[i_p, i_b].rho * self.particles_reordered[i_p, i_b].p
                push = push / self.particles_reordered[i_p, i_b].rho ** 2
                for k in qd.static(range(3)):
                    acc[k] += push * self.cubic_kernel_plane_integral(
                        qd.max(pos[k] - qd.static(float(self._lower_bound[k])), 0.0))
                    acc[k] -= push * self.cubic_kernel_plane_integral(
                        qd.max(qd.static(float(self._upper_bound[k])) - pos[k], 0.0))
                self.particles_reordered[i_p, i_b].acc += acc


def use_walled_solver(scene) -> None:
    """Swap the scene's SPH solver for `WalledSPHSolver` (before `scene.build`)."""
    solver = scene.sim.sph_solver
    if solver._pressure_solver != "WCSPH":
        raise ValueError("tank walls that count as liquid need the WCSPH pressure solver")
    solver.__class__ = WalledSPHSolver
