"""Liquid (SPH) and cloth (PBD) on a batched Genesis scene: build, place per episode, move, record.

The particle entity is built once per scene variant at the nominal position; each env's episode
shifts it as a whole (`set_particles_pos`), kinematic movers follow their per-episode velocity,
and a fixed random subset of particles or vertices is recorded every recorded step.
"""

from __future__ import annotations

import math

import numpy as np

from engines.genesis.bounds import check_inside, cloth_domain
from engines.genesis.cup import TiltPath
from factory.contract.sampling import EpisodeSpec, episode_rng
from factory.errors import EngineUnsupported
from factory.recipe.containers import CupShape, Tilt, container_cavity, movers, rotation_matrices
from factory.recipe.distributions import nominal
from factory.recipe.generated import MugShape
from factory.recipe.scene_fields import scene_fields
from factory.recipe.schema import Recipe

CLOTH_MESH_SIZE = 0.5  # metres: edge of Genesis' meshes/cloth.obj
# Genesis' SPH liquid (`gs.materials.SPH.Liquid` defaults): rest density, stiffness and exponent of
# the WCSPH state equation p = stiffness·((rho/rho0)^exponent - 1), so sound travels at
# c = sqrt(stiffness·exponent/rho0) = 18.7 m/s
SOUND_SPEED = (50_000.0 * 7.0 / 1000.0) ** 0.5
CFL = 0.4  # dt_sub·c/d, the usual WCSPH bound; longer substeps stay finite but move the labels (README)
# Vertical squeeze of a lattice at spacing d to the number density the liquid rests at ('rest' sampling).
# Genesis' clamping walls: its particle mass 0.8·rho0·d³ gives rest at 0.8 in the bulk. Walls of liquid
# (engines/genesis/sph_walls.py): a block filling its tank's footprint rests at 0.86 of a lattice's volume
# per particle from lattice sampling and from this squeeze alike (d = 2 cm, WCSPH, README "Fluid and cloth").
REST_SQUEEZE = {"clamp": 0.8, "liquid": 0.83}


def solver_options(gs, recipe: Recipe) -> dict:
    """Extra `gs.Scene` options for the particle solver, if the recipe has one."""
    fluid, cloth = recipe.scene.fluid, recipe.scene.cloth
    if fluid is not None:
        return {"sph_options": gs.options.SPHOptions(particle_size=fluid.particle_size,
                                                     pressure_solver=fluid.pressure_solver,
                                                     lower_bound=tuple(fluid.tank.lower),
                                                     upper_bound=tuple(fluid.tank.upper))}
    if cloth is not None:
        domain = cloth_domain(recipe)  # Genesis takes the hash grid's size in metres and rounds it up to cells
        size = tuple(domain.cell * (n - 0.5) for n in domain.slots)
        return {"pbd_options": gs.options.PBDOptions(particle_size=cloth.particle_size, lower_bound=domain.lower,
                                                     upper_bound=domain.upper, hash_grid_cell_size=domain.cell,
                                                     hash_grid_res=size)}
    return {}


def substeps(recipe: Recipe) -> int:
    """The recipe's substeps, or for a liquid the fewest within the CFL bound."""
    fluid, cloth = recipe.scene.fluid, recipe.scene.cloth
    if fluid is not None:
        return fluid.substeps or math.ceil(recipe.dt * SOUND_SPEED / (CFL * nominal(fluid.particle_size)))
    return cloth.substeps if cloth is not None else 1


def containers(recipe: Recipe) -> list[int]:
    """Indices of the scene's cups and mugs (any open container, the basin too): with walls of liquid their
    floors and walls count as liquid as the tank's do (`engines.genesis.sph_walls`)."""
    return [i for i, o in enumerate(recipe.scene.objects) if isinstance(o.shape, (CupShape, MugShape))]


def _cavity_pose(pos: np.ndarray, quat: np.ndarray) -> np.ndarray:
    """(B, 12): origins and row-major rotations of one container per env, as the walled solver reads them."""
    return np.concatenate([pos, rotation_matrices(quat).reshape(len(pos), 9)], axis=1)


def _rest_sampled(recipe: Recipe) -> bool:
    return recipe.scene.fluid is not None and recipe.scene.fluid.sampling == "rest"


def add_particle_entity(gs, scene, recipe: Recipe):
    fluid, cloth = recipe.scene.fluid, recipe.scene.cloth
    if fluid is not None:  # a rest-sampled block is sampled taller and squeezed down at the start
        (x, y, z), (sx, sy, sz) = (nominal(v) for v in fluid.block.pos), (nominal(s) for s in fluid.block.size)
        if fluid.walls == "liquid":
            from engines.genesis.sph_walls import use_walled_solver  # imports Genesis' solver

            shapes = [recipe.scene.objects[i].shape for i in containers(recipe)]
            use_walled_solver(scene, [container_cavity(s) for s in shapes if isinstance(s, (CupShape, MugShape))])
        if _rest_sampled(recipe):
            squeeze = REST_SQUEEZE[fluid.walls]
            z, sz = z - sz / 2 + sz / squeeze / 2, sz / squeeze
            if z + sz / 2 > fluid.tank.upper[2]:
                raise EngineUnsupported(f"scene.fluid.sampling: 'rest' samples the block {sz:.3f} m tall before "
                                        "squeezing it, above the tank's top; raise tank.upper or use 'lattice'")
        return scene.add_entity(
            morph=gs.morphs.Box(pos=(x, y, z), size=(sx, sy, sz)),
            material=gs.materials.SPH.Liquid(mu=fluid.viscosity), name="liquid")
    if cloth is not None:
        return scene.add_entity(
            morph=gs.morphs.Mesh(file="meshes/cloth.obj", scale=nominal(cloth.size) / CLOTH_MESH_SIZE,
                                 pos=tuple(nominal(v) for v in cloth.pos)),
            material=gs.materials.PBD.Cloth(stretch_compliance=cloth.stretch_compliance,
                                            bending_compliance=cloth.bending_compliance),
            name="cloth")
    return None


class PointsDriver:
    """Per-batch life of the particle entity and the kinematic movers of one built scene."""

    def __init__(self, built, recipe: Recipe):
        self.recipe = recipe
        self.entity = built.points
        self.objects = {o.name: (i, e)
                        for i, (o, e) in enumerate(zip(recipe.scene.objects, built.objects, strict=True))}
        section = recipe.scene.fluid or recipe.scene.cloth
        total = self.entity.n_particles if self.entity is not None else 0
        if section is not None and section.record_points > total:
            kind = "fluid" if recipe.scene.fluid else "cloth"
            scene = ", ".join(f"{f.name}={f.value:g}" for f in scene_fields(recipe) if f.name.startswith(kind))
            raise EngineUnsupported(f"scene.{kind}.record_points: asks for {section.record_points} points but "
                                    f"Genesis made {total} for the scene with {scene}; use at most {total} "
                                    "(every scene variant must have that many)")
        rng = episode_rng(0, 0, "points.subset")  # a function of the scene alone: engines are reused across seeds
        self.index = np.sort(rng.choice(total, section.record_points, replace=False)) if section else None
        self.domain = cloth_domain(recipe)[:2] if recipe.scene.cloth is not None else None
        self.moves = movers(recipe.actions)
        self._base = self.entity.get_particles_pos().clone() if self.entity is not None else None
        if _rest_sampled(recipe):  # squeezed towards the block's bottom face to the rest number density
            fluid = recipe.scene.fluid
            assert fluid is not None and self._base is not None
            bottom = nominal(fluid.block.pos[2]) - nominal(fluid.block.size[2]) / 2
            self._base[..., 2] = bottom + (self._base[..., 2] - bottom) * REST_SQUEEZE[fluid.walls]
        walled = recipe.scene.fluid is not None and recipe.scene.fluid.walls == "liquid"
        self.cups = containers(recipe) if walled else []
        self._cup_pose: np.ndarray | None = None  # (n_cups, B, 12) where the walled solver's containers are, this step
        self.corner = None
        if recipe.scene.cloth is not None and recipe.scene.cloth.grasp == "corner":
            pos0 = self.entity.get_particles_pos()[0].cpu().numpy()
            self.corner = int(np.argmin(pos0[:, 0] + pos0[:, 1]))  # the (-x, -y) corner

    def start(self, specs: list[EpisodeSpec]) -> None:
        """Place each env's liquid or sheet and remember where movers start."""
        import torch

        if self.entity is not None:
            # set_particles_pos acts at once (set_position only queues a target for the next step,
            # so the first recorded state would show the unshifted sheet and the step a jolt)
            shifts = torch.as_tensor(np.array([s.points_shift for s in specs]), dtype=torch.float32)
            assert self._base is not None
            self.entity.set_particles_pos(self._base + shifts[:, None, :])
            if self.corner is not None:
                self.entity.fix_particles(torch.tensor([self.corner]))
                self._corner_pos = self.entity.get_particles_pos()[:, self.corner].cpu().numpy().astype(np.float64)
        if self.cups:
            self._cup_pose = np.stack([_cavity_pose(np.array([s.bodies[i].pos for s in specs], np.float64),
                                                    np.array([s.bodies[i].quat for s in specs], np.float64))
                                       for i in self.cups])
            self.entity.solver.set_cavity_poses(self._cup_pose)
        self._mover_pos, self._tilts = {}, {}
        for move in self.moves:
            if move.object == "cloth":
                continue
            i, _ = self.objects[move.object]
            pos = np.array([s.bodies[i].pos for s in specs], np.float64)
            if isinstance(move, Tilt):
                quat = np.array([s.bodies[i].quat for s in specs], np.float64)
                cup = self.recipe.scene.objects[i].shape
                assert isinstance(cup, (CupShape, MugShape))  # the recipe tilts cups and mugs only
                self._tilts[move.object] = TiltPath(cup, move.lip, pos, quat)
            else:
                self._mover_pos[move.object] = pos

    def before_step(self, step: int, velocities: np.ndarray) -> None:
        """Advance every mover by its velocity over one step; `velocities` is (B, n_moves, 3), m/s for a
        move and rad/s for a tilt.

        Rigid movers are held on their path every step (at rest too), so the liquid cannot push them.
        """
        import torch

        dt, f32 = self.recipe.dt, torch.float32
        for k, move in enumerate(self.moves):
            v = velocities[:, k]
            if isinstance(move, Tilt):  # placed where this step starts, turning at its rigid velocity
                _, entity = self.objects[move.object]
                path = self._tilts[move.object]
                pos, quat = path.pose()
                entity.set_pos(torch.as_tensor(pos, dtype=f32))
                entity.set_quat(torch.as_tensor(quat, dtype=f32))
                entity.set_dofs_velocity(torch.as_tensor(path.velocity(v), dtype=f32))
                path.turned += v * dt
                if self._cup_pose is not None:  # its walls, as liquid, where the step starts
                    i, _ = self.objects[move.object]
                    self._cup_pose[self.cups.index(i)] = _cavity_pose(pos, quat)
            elif move.object == "cloth":
                self._corner_pos += v * dt
                self.entity.set_particles_pos(torch.as_tensor(self._corner_pos[:, None], dtype=torch.float32),
                                              torch.tensor([self.corner]))
            else:  # placed where this step starts; the step itself carries it v*dt further
                _, entity = self.objects[move.object]
                entity.set_pos(torch.as_tensor(self._mover_pos[move.object], dtype=torch.float32))
                entity.set_dofs_velocity(torch.as_tensor(np.concatenate([v, np.zeros_like(v)], axis=1),
                                                         dtype=torch.float32))
                self._mover_pos[move.object] += v * dt
        if self._cup_pose is not None:
            self.entity.solver.set_cavity_poses(self._cup_pose)

    def read(self) -> tuple[np.ndarray, np.ndarray]:
        """Positions and velocities of the recorded points: two (B, n_points, 3) arrays; a cloth
        that reached its domain walls raises `SimulationError`."""
        every = self.entity.get_particles_pos().cpu().numpy()
        if self.domain is not None:
            check_inside(every, *self.domain, tolerance=1e-4)
        pos = every[:, self.index]
        vel = self.entity.get_particles_vel().cpu().numpy()[:, self.index]
        return pos.astype(np.float32), vel.astype(np.float32)
