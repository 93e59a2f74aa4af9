"""`factory train` on fluid and cloth datasets: fit the particle model on the training episodes.

Training episodes are held in memory (positions only: a 1,000-episode, 512-particle, 50-step fluid
dataset is about 300 MB); each step draws a few (episode, transition) windows as separate graphs.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from factory.dataset import Dataset
from factory.model.particle_data import PointEpisode, iter_point_episodes, scene_bounds
from factory.model.particles import ParticleModel, save_checkpoint
from factory.model.split import Split
from factory.model.train import TrainConfig, TrainResult, pick_device


@dataclass(frozen=True)
class ParticleConfig:
    history: int = 3  # velocity frames fed to the model
    radius_factor: float = 2.5  # graph radius, in median nearest-neighbour distances at the first state
    hidden: int = 64
    steps: int = 3  # message-passing steps
    graphs: int = 2  # windows per optimizer step
    lr: float = 1e-3
    noise: float = 0.3  # random-walk input noise, in velocity-std units (see ParticleModel.loss)


class Windows:
    """Every transition of some episodes as model inputs: padded histories, movers, actions."""

    def __init__(self, episodes: list[PointEpisode], history: int, dt: float):
        self.episodes, self.history = episodes, history
        self.padded = [torch.from_numpy(e.padded(history, dt)) for e in episodes]
        self.index = [(k, t) for k, e in enumerate(episodes) for t in range(len(e.actions))]

    def __len__(self) -> int:
        return len(self.index)

    def batch(self, rows: list[int]) -> tuple[torch.Tensor, ...]:
        """(window (G, N, h+1, 3), target (G, N, 1, 3), movers (G, K, 3), action (G, A)) for `rows`."""
        picks = [self.index[r] for r in rows]
        h = self.history
        win = torch.stack([self.padded[k][t:t + h + 1].transpose(0, 1) for k, t in picks])
        nxt = torch.stack([self.padded[k][t + h + 1:t + h + 2].transpose(0, 1) for k, t in picks])
        movers = torch.stack([torch.from_numpy(self.episodes[k].movers[t]) for k, t in picks])
        action = torch.stack([torch.from_numpy(self.episodes[k].actions[t]) for k, t in picks])
        return win, nxt, movers, action


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
                          actions=ds.layout.action_size, lower=lower, upper=upper)
    dt = ds.layout.record_dt
    positions = torch.cat([torch.from_numpy(e.padded(pc.history, dt)).transpose(0, 1) for e in train_eps])
    model.set_normalization(positions[None], torch.from_numpy(np.concatenate([e.actions for e in train_eps])))
    return model


def train_particles(ds: Dataset, split: Split, config: TrainConfig = TrainConfig(),
                    pc: ParticleConfig = ParticleConfig(), out: Path | None = None) -> TrainResult:
    device = pick_device(config.device)
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    train_eps = list(iter_point_episodes(ds, split.train))
    data = Windows(train_eps, pc.history, ds.layout.record_dt)
    val = Windows(list(iter_point_episodes(ds, split.val)), pc.history, ds.layout.record_dt)
    model = build_model(ds, train_eps, pc).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=pc.lr, weight_decay=1e-5)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=config.epochs)
    rng = np.random.default_rng(config.seed)
    history: dict[str, list[float]] = {"epoch": [], "train_loss": [], "val_loss": [], "seconds": []}
    steps, start = 0, time.perf_counter()
    for epoch in range(config.epochs):
        model.train()
        losses = []
        order = rng.permutation(len(data))
        for i in range(0, len(order), pc.graphs):
            win, nxt, movers, action = (x.to(device) for x in data.batch(order[i:i + pc.graphs].tolist()))
            loss = model.loss(win, nxt, pc.noise, movers, action)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            steps += 1
        sched.step()
        elapsed = time.perf_counter() - start
        history["epoch"].append(epoch + 1)
        history["train_loss"].append(float(np.mean(losses)) if losses else float("nan"))
        history["val_loss"].append(validation_loss(model, val, device))
        history["seconds"].append(elapsed)
        if config.max_seconds is not None and elapsed > config.max_seconds:
            break
    seconds = time.perf_counter() - start
    result = TrainResult(model.eval(), None, history, steps, seconds)
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        save_checkpoint(out, model, {"dataset": str(ds.root), "format": ds.format, "split": split.to_dict(),
                                     "train_config": asdict(config), "particle_config": asdict(pc),
                                     "history": history, "layout": ds.layout.to_dict(), "steps": steps,
                                     "seconds": seconds})
        result.checkpoint = out
    return result


@torch.no_grad()
def validation_loss(model: ParticleModel, data: Windows, device: str) -> float:
    """Mean training loss without noise over every transition of the validation episodes."""
    if not len(data):
        return float("nan")
    model.eval()
    total = 0.0
    for i in range(0, len(data), 8):
        rows = list(range(i, min(i + 8, len(data))))
        win, nxt, movers, action = (x.to(device) for x in data.batch(rows))
        total += float(model.loss(win, nxt, 0.0, movers, action)) * len(rows)
    return total / len(data)
