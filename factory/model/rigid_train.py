"""`factory train` on collision datasets: fit the relational model (with robots, the robot model) on short
rollout windows.

Training episodes are held in memory as (K+1)-state windows (a 1,000-episode, 3-body push dataset
is about 8 MB); each optimizer step unrolls a batch of windows K steps from noised first states.
Per-episode static node features (shape, size, mass, friction) come from the episodes' parameters.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from factory.model.bodies import Scene, static_features
from factory.model.pieces import EpisodeArrays, iter_episodes
from factory.model.relational import RelationalModel
from factory.model.robot import RobotModel
from factory.model.split import Split
from factory.model.train import TrainConfig, TrainResult, fit, pick_device
from factory.storage.dataset import Dataset


@dataclass(frozen=True)
class RelationalConfig:
    hidden: int = 64
    steps: int = 2  # message-passing steps
    horizon: int = 4  # rollout steps per training window, reached by doubling from 1 (see horizon_at)
    curriculum: bool = True
    noise: float = 0.5  # first-state noise, in output-std units (see RelationalModel.rollout_loss)
    lr: float = 2e-3


def dataset_scene(ds: Dataset) -> Scene:
    return Scene.of(ds.manifest["recipe"], ds.layout.objects)


def episode_statics(ds: Dataset, info: dict[int, dict]) -> dict[int, np.ndarray]:
    """Episode → its static node features (n_nodes, F)."""
    recipe, scene = ds.manifest["recipe"], dataset_scene(ds)
    return {e: static_features(recipe, i["params"], scene) for e, i in info.items()}


class Windows:
    """Every (K+1)-state window of some episodes, with its actions and its episode's static features."""

    def __init__(self, episodes: list[EpisodeArrays], statics: dict[int, np.ndarray], horizon: int):
        states, actions, static = [], [], []
        for ep in episodes:
            for t0 in range(len(ep.actions) - horizon + 1):
                states.append(ep.states[t0:t0 + horizon + 1])
                actions.append(ep.actions[t0:t0 + horizon])
                static.append(statics[ep.index])
        if not states:
            raise ValueError(f"no training episode has {horizon} transitions")
        self.states, self.actions, self.static = (torch.from_numpy(np.stack(x)) for x in (states, actions, static))

    def __len__(self) -> int:
        return len(self.states)

    def batches(self, size: int, generator: torch.Generator | None) -> list[tuple[torch.Tensor, ...]]:
        order = torch.randperm(len(self), generator=generator) if generator is not None else torch.arange(len(self))
        return [(self.states[i], self.actions[i], self.static[i]) for i in order.split(size)]


def horizon_at(progress: float, horizon: int) -> int:
    """Rollout length at a point (0..1) of training: 1, 2, 4, … up to `horizon`, each for an equal
    share of the budget. Short rollouts are cheap (a one-step batch costs a quarter of a 4-step one),
    so the model learns the local dynamics from many more windows first and the rollout loss then
    teaches it not to compound its errors."""
    stages = [2 ** i for i in range(max(horizon, 1).bit_length()) if 2 ** i < horizon] + [horizon]
    return stages[min(int(progress * len(stages)), len(stages) - 1)]


def train_relational(ds: Dataset, split: Split, info: dict[int, dict], config: TrainConfig | None = None,
                     model_config: RelationalConfig = RelationalConfig(), out=None
                     ) -> TrainResult[RelationalModel | RobotModel]:
    config = config or TrainConfig()
    device = pick_device(config.device)
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    statics = episode_statics(ds, info)
    train_eps = list(iter_episodes(ds, split.train))
    windows = Windows(train_eps, statics, model_config.horizon)
    val = Windows(list(iter_episodes(ds, split.val)), statics, 1) if split.val else None
    model: RelationalModel | RobotModel = (
        RobotModel.for_layout(dataset_scene(ds), ds.layout, hidden=model_config.hidden, steps=model_config.steps)
        if ds.layout.robots else
        RelationalModel.for_scene(dataset_scene(ds), ds.layout.record_dt, hidden=model_config.hidden,
                                  steps=model_config.steps))
    pairs = Windows(train_eps, statics, 1)
    model.set_normalization(pairs.states[:, 0], pairs.actions[:, 0], pairs.static, pairs.states[:, 1])
    model = model.to(device)
    gen = torch.Generator().manual_seed(config.seed)
    clock = {"epoch": 0, "start": time.perf_counter(), "steps": 0}

    def batches(epoch: int) -> list[tuple[torch.Tensor, ...]]:
        clock["epoch"] = epoch
        return windows.batches(config.batch_size, gen)

    def loss_of(batch) -> torch.Tensor:
        k = model_config.horizon
        if model_config.curriculum:  # the same progress measure as fit's learning-rate schedule
            k = horizon_at(config.progress(clock["epoch"], time.perf_counter() - clock["start"], clock["steps"]), k)
        clock["steps"] += 1
        states, actions, static = (x.to(device) for x in batch)
        return model.rollout_loss(states[:, :k + 1], actions[:, :k], static, noise=model_config.noise)

    @torch.no_grad()
    def validate() -> float:
        if val is None:
            return float("nan")
        model.eval()
        losses = []
        for b in val.batches(4096, None):
            states, actions, static = (x.to(device) for x in b)
            losses.append(float(model.rollout_loss(states, actions, static)) * len(b[0]))
        return sum(losses) / len(val)

    return fit(model, "robot" if ds.layout.robots else "relational", config, model_config.lr, batches,
               loss_of, validate, out, ds, split, extra={"model_config": model_config.__dict__})
