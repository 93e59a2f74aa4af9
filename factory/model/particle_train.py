"""`factory train` on fluid and cloth datasets: fit the particle model on the training episodes.

Training episodes are held in memory (positions only: a 1,000-episode, 512-particle, 50-step fluid
dataset is about 300 MB); each step draws a few (episode, transition) windows as separate graphs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from factory.model.mesh import batch_edges, mesh_edges
from factory.model.particle_data import PointEpisode, iter_point_episodes, scene_bounds
from factory.model.particles import ParticleModel
from factory.model.split import Split
from factory.model.train import TrainConfig, TrainResult, fit, pick_device
from factory.storage.dataset import Dataset


@dataclass(frozen=True)
class ParticleConfig:
    history: int = 3  # velocity frames fed to the model
    radius_factor: float = 2.5  # graph radius, in median nearest-neighbour distances at the first state
    hidden: int = 64
    steps: int = 3  # message-passing steps
    graphs: int = 2  # windows per optimizer step
    lr: float = 1e-3
    noise: float = 0.3  # random-walk input noise, in velocity-std units (see ParticleModel.loss)
    rest_bounds: bool = True  # where each point sat in the first state's shape (see ParticleModel.node_features)
    focus: float = 0.5  # share of windows drawn in proportion to their acceleration energy (see draw_windows)
    weighted: bool = True  # weight focused draws by 1 / (W · p): the same objective, less gradient noise


# A sheet's mesh edges carry its structure, so its radius (world) edges only need to reach
# contacts (MeshGraphNets keeps the world radius small); a narrower network trains twice as many
# steps in the same budget, which on cloth mattered more than width (README, Fluid and cloth).
# The drape has no start-up burst and its error is spread over the contact steps: drawing by
# energy and the rest-shape bounds do not help there, and one graph a step (more steps in the same
# time) does as well as two.
CLOTH = ParticleConfig(radius_factor=1.5, hidden=32, lr=3e-3, graphs=1, rest_bounds=False, focus=0.0)


class Windows:
    """Every transition of some episodes as model inputs: padded histories, movers, actions, and
    with `mesh` each episode's rest shape and mesh edges (built once per episode)."""

    def __init__(self, episodes: list[PointEpisode], history: int, dt: float, mesh: bool = False):
        self.episodes, self.history = episodes, history
        self.padded = [torch.from_numpy(e.padded(history, dt)) for e in episodes]
        self.index = [(k, t) for k, e in enumerate(episodes) for t in range(len(e.actions))]
        self.mesh = [mesh_edges(e.pos[0]) for e in episodes] if mesh else None

    def __len__(self) -> int:
        return len(self.index)

    def energy(self) -> np.ndarray:
        """Σ |acceleration|² of every window's points: constant velocity's squared error on it."""
        h = self.history
        p = self.padded
        return np.array([float(((p[k][t + h + 1] - 2 * p[k][t + h] + p[k][t + h - 1]) ** 2).sum())
                         for k, t in self.index])

    def batch(self, rows: list[int]) -> tuple[torch.Tensor | None, ...]:
        """(window (G, N, h+1, 3), target (G, N, 1, 3), movers where the step leaves them (scripted,
        so known) (G, K, 3 + shape), action (G, A), age
        (G,), rest (G, N, 3) and mesh edges (2, E) over flat node ids (None without a mesh)) for `rows`."""
        picks = [self.index[r] for r in rows]
        h = self.history
        win = torch.stack([self.padded[k][t:t + h + 1].transpose(0, 1) for k, t in picks])
        nxt = torch.stack([self.padded[k][t + h + 1:t + h + 2].transpose(0, 1) for k, t in picks])
        movers = torch.stack([torch.from_numpy(self.episodes[k].movers[t + 1]) for k, t in picks])
        action = torch.stack([torch.from_numpy(self.episodes[k].actions[t]) for k, t in picks])
        age = torch.tensor([t for _, t in picks])
        rest = torch.stack([torch.from_numpy(self.episodes[k].pos[0]) for k, _ in picks])
        if self.mesh is None:
            return win, nxt, movers, action, age, rest, None
        mesh = torch.from_numpy(batch_edges([self.mesh[k] for k, _ in picks], win.shape[1]))
        return win, nxt, movers, action, age, rest, mesh


def graph_radius(episodes: list[PointEpisode], factor: float) -> float:
    """`factor` × the median nearest-neighbour distance of the first states: a few neighbours each."""
    d = []
    for e in episodes[:8]:
        p = torch.from_numpy(e.pos[0])
        dist = torch.cdist(p, p).fill_diagonal_(float("inf"))
        d.append(dist.min(1).values.median().item())
    return factor * float(np.median(d))


def build_model(ds: Dataset, train_eps: list[PointEpisode], pc: ParticleConfig) -> ParticleModel:
    lower, upper = scene_bounds(ds.manifest["recipe"])
    model = ParticleModel(dims=3, history=pc.history, radius=graph_radius(train_eps, pc.radius_factor),
                          hidden=pc.hidden, steps=pc.steps, movers=len(ds.layout.objects),
                          actions=ds.layout.action_size, lower=lower, upper=upper, mesh=is_cloth(ds),
                          rest_bounds=pc.rest_bounds)
    dt = ds.layout.record_dt
    positions = torch.cat([torch.from_numpy(e.padded(pc.history, dt)).transpose(0, 1) for e in train_eps])
    model.set_normalization(positions[None], torch.from_numpy(np.concatenate([e.actions for e in train_eps])))
    model.set_clearance([torch.from_numpy(e.pos) for e in train_eps], [torch.from_numpy(e.movers) for e in train_eps])
    return model


def is_cloth(ds: Dataset) -> bool:
    """Cloth datasets get mesh edges: their points are a sheet's vertices, not a liquid's particles."""
    return ds.manifest["recipe"].get("kind") == "cloth"


def train_particles(ds: Dataset, split: Split, config: TrainConfig | None = None,
                    pc: ParticleConfig | None = None, out: Path | None = None) -> TrainResult[ParticleModel]:
    """`config` defaults to TrainConfig(); `pc` to ParticleConfig() for a liquid and CLOTH for a sheet."""
    config = config or TrainConfig()
    pc = pc or (CLOTH if is_cloth(ds) else ParticleConfig())
    device = pick_device(config.device)
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    train_eps = list(iter_point_episodes(ds, split.train))
    data = Windows(train_eps, pc.history, ds.layout.record_dt, is_cloth(ds))
    val = Windows(list(iter_point_episodes(ds, split.val)), pc.history, ds.layout.record_dt, is_cloth(ds))
    model = build_model(ds, train_eps, pc).to(device)
    rng = np.random.default_rng(config.seed)
    prob = draw_probabilities(data.energy(), pc.focus)
    weight = torch.from_numpy(1 / (len(data) * prob) if pc.weighted else np.ones(len(data))).float()

    def batches(epoch: int):
        order = rng.choice(len(data), len(data), p=prob) if pc.focus else rng.permutation(len(data))
        return ((data.batch(rows), weight[rows]) for rows in (order[i:i + pc.graphs].tolist()
                                                             for i in range(0, len(order), pc.graphs)))

    def loss_of(drawn) -> torch.Tensor:
        batch, w = drawn
        win, nxt, movers, action, age, rest, mesh = _to(batch, device)
        assert win is not None and nxt is not None
        return model.loss(win, nxt, pc.noise, movers, action, age, rest, mesh, weight=w.to(device))

    return fit(model, "particles", config, pc.lr, batches, loss_of, lambda: validation_loss(model, val, device),
               out, ds, split, {"particle_config": asdict(pc)})


def draw_probabilities(energy: np.ndarray, focus: float) -> np.ndarray:
    """Each window's chance per draw: a `focus` share in proportion to its acceleration energy
    (constant velocity's error, which the one-step metric's model error follows), the rest uniform.
    An SPH liquid's start-up burst in its first interval is a few windows but much of the energy:
    drawn uniformly, a short training would show the model each burst about once."""
    uniform = np.full(len(energy), 1 / len(energy))
    return (1 - focus) * uniform + focus * (energy / energy.sum() if energy.sum() > 0 else uniform)


@torch.no_grad()
def validation_loss(model: ParticleModel, data: Windows, device: str) -> float:
    """Mean training loss without noise over every transition of the validation episodes."""
    if not len(data):
        return float("nan")
    model.eval()
    total = 0.0
    for i in range(0, len(data), 8):
        rows = list(range(i, min(i + 8, len(data))))
        win, nxt, *inputs = _to(data.batch(rows), device)
        assert win is not None and nxt is not None
        total += float(model.loss(win, nxt, 0.0, *inputs)) * len(rows)
    return total / len(data)


def _to(batch: tuple[torch.Tensor | None, ...], device: str) -> list[torch.Tensor | None]:
    return [x if x is None else x.to(device) for x in batch]
