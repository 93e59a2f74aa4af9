"""`factory train`: fit the rigid-body model on a dataset's training episodes, save a checkpoint."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np
import torch

from factory.model.loader import TripleStream, make_loader
from factory.model.rigid import RigidModel
from factory.model.split import Split
from factory.storage.dataset import Dataset

M = TypeVar("M", bound=torch.nn.Module)


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 20
    batch_size: int = 256
    lr: float = 2e-3
    hidden: int = 256
    layers: int = 3
    noise: float = 0.05  # velocity input noise, in state-std units (see RigidModel.loss)
    seed: int = 0
    workers: int = 0
    device: str = "auto"
    threads: int = 1  # CPU threads for torch: a small MLP gains nothing from more, and a shared box loses
    max_seconds: float | None = None  # stop training past this budget (the schedule fits it)
    max_steps: int | None = None  # stop after this many optimizer steps (the schedule fits it): a budget that,
    # unlike seconds, does not shrink when the machine is busy, for comparing models trained apart

    def progress(self, epoch: float, seconds: float, steps: float) -> float:
        """How much of the training is done (0..1+): of the epochs, the time budget or the step budget,
        whichever is furthest along."""
        return max(epoch / self.epochs, seconds / self.max_seconds if self.max_seconds else 0.0,
                   steps / self.max_steps if self.max_steps else 0.0)


@dataclass
class TrainResult(Generic[M]):
    model: M  # the fitted model: rigid, relational or particle
    checkpoint: Path | None
    history: dict[str, list[float]] = field(default_factory=dict)
    steps: int = 0
    seconds: float = 0.0

    @property
    def steps_per_second(self) -> float:
        return self.steps / max(self.seconds, 1e-9)


def pick_device(device: str) -> str:
    return ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device


def train(ds: Dataset, split: Split, stats: dict, config: TrainConfig = TrainConfig(),
          out: Path | None = None) -> TrainResult[RigidModel]:
    device = pick_device(config.device)
    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    model = RigidModel.for_dataset(ds.layout, stats, hidden=config.hidden, layers=config.layers).to(device)
    stream = TripleStream(ds, config.batch_size, episodes=split.train, seed=config.seed)
    loader = make_loader(stream, config.workers)

    def batches(epoch: int):
        stream.set_epoch(epoch)
        return loader

    def loss_of(batch) -> torch.Tensor:
        state, action, next_state = (batch[k].to(device) for k in ("state", "action", "next_state"))
        return model.loss(state, action, next_state, noise=config.noise)

    return fit(model, "rigid", config, config.lr, batches, loss_of,
               lambda: validation_loss(model, ds, split.val, device), out, ds, split)


def fit(model: M, kind: str, config: TrainConfig, lr: float, batches: Callable[[int], Iterable],
        loss_of: Callable[[object], torch.Tensor], validate: Callable[[], float], out: Path | None,
        ds: Dataset, split: Split, extra: dict | None = None) -> TrainResult[M]:
    """The training loop every model shares: AdamW, a cosine schedule over the epochs, the time budget
    or the step budget, whichever runs out first (so a budget cut ends at a low learning rate, not
    mid-schedule), one validation per epoch, and the checkpoint with its provenance."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-5)
    history: dict[str, list[float]] = {"epoch": [], "train_loss": [], "val_loss": [], "seconds": []}
    steps, start = 0, time.perf_counter()
    for epoch in range(config.epochs):
        model.train()
        losses: list[float] = []
        for group in opt.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * epoch / config.epochs))
        for batch in batches(epoch):
            if config.max_seconds is not None or config.max_steps is not None:
                done = config.progress(epoch, time.perf_counter() - start, steps)
                if done >= 1.0 and losses:
                    break
                for group in opt.param_groups:
                    group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * min(done, 1.0)))
            loss = loss_of(batch)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
            steps += 1
        elapsed = time.perf_counter() - start
        history["epoch"].append(epoch + 1)
        history["train_loss"].append(float(np.mean(losses)) if losses else float("nan"))
        history["val_loss"].append(validate())
        history["seconds"].append(elapsed)
        if config.progress(epoch + 1, elapsed, steps) >= 1.0 and (config.max_seconds or config.max_steps):
            break
    seconds = time.perf_counter() - start
    result = TrainResult(model.eval(), None, history, steps, seconds)
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"kind": kind, "config": model.config, "state_dict": model.state_dict(), "dataset": str(ds.root),
                    "format": ds.format, "split": split.to_dict(), "train_config": asdict(config), **(extra or {}),
                    "history": history, "layout": ds.layout.to_dict(), "steps": steps, "seconds": seconds}, out)
        result.checkpoint = out
    return result


@torch.no_grad()
def validation_loss(model: RigidModel, ds: Dataset, episodes: list[int], device: str) -> float:
    """Mean training loss (normalized-correction MSE) over every transition of `episodes`."""
    if not episodes:
        return float("nan")
    model.eval()
    total, rows = 0.0, 0
    for batch in TripleStream(ds, 4096, episodes=episodes, shuffle=False):
        s, a, n = (batch[k].to(device) for k in ("state", "action", "next_state"))
        total += float(((model(s, a) - model.target(s, n)) ** 2).mean(-1).sum())
        rows += len(s)
    return total / max(rows, 1)
