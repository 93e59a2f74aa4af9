"""`factory train`, `factory evaluate` and `factory report`: parsers and handlers.

torch and matplotlib load only when a handler runs.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

from factory.cli.options import FORMAT_CHOICE
from factory.errors import FactoryError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train the baseline world model on a dataset",
                       description="Train the baseline model on DATASET's training episodes: the rigid-body "
                       "model for collision datasets, the particle model for fluid and cloth.")
    _common(p)
    p.add_argument("--out", type=Path, help="checkpoint path (default: DATASET/report/model.pt)")
    p.set_defaults(func=_train)

    p = sub.add_parser("evaluate", help="score a trained model against trivial baselines",
                       description="One-step, rollout and label-readout error of --model and of the "
                       "zero-motion, constant-velocity and linear baselines on held-out episodes.")
    p.add_argument("dataset")  # a str: a URL reaches open_dataset intact and gets its own error
    p.add_argument("--model", type=Path, required=True, help="checkpoint written by factory train")
    p.add_argument("--format", **FORMAT_CHOICE)
    p.add_argument("--horizon", type=int, default=20, help="rollout horizon in recorded steps")
    p.add_argument("--json", action="store_true", help="print every number as JSON")
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("report", help="checks + model + verdict → DATASET/report/index.html",
                       description="Check DATASET, train and evaluate the baseline model, and write "
                       "index.html, summary.json and figures with a pass/fail verdict.")
    _common(p)
    p.add_argument("--out", type=Path, help="report folder (default: DATASET/report)")
    p.add_argument("--horizon", type=int, default=20, help="rollout horizon in recorded steps")
    p.add_argument("--strict", action="store_true", help="exit 3 when the verdict fails")
    p.set_defaults(func=_report)

    p = sub.add_parser("probes", help="physical-reasoning questions and answers from a dataset's episodes",
                       description="Write one JSON line per question (friction direction, does A touch B, which "
                       "object moves first, does it come to rest, does it fall off, does the cloth slide off, "
                       "does the liquid reach the target), each with its episode, options, ground truth and a "
                       "plain-words description of the scene and the action.")
    p.add_argument("dataset")
    p.add_argument("--out", type=Path, required=True, help="JSON-lines file to write")
    p.add_argument("--format", **FORMAT_CHOICE)
    p.set_defaults(func=_probes)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset")  # a str: a URL reaches open_dataset intact and gets its own error
    p.add_argument("--format", **FORMAT_CHOICE)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=64, help="rollout windows (rigid) per step")
    p.add_argument("--train-seconds", type=float, default=300.0,
                   help="training time budget in seconds; the learning-rate schedule fits it (default 300)")
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    p.add_argument("--device", default="auto", help="cpu, cuda, or auto (cuda when present)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--holdout", action="append", default=[], metavar="PARAM=LOW:HIGH",
                   help="hold episodes with PARAM in [LOW, HIGH] out for the OOD test "
                   "(overrides the recipe's quality.holdout; repeat for several bands or parameters)")


def parse_holdout(items: list[str]) -> dict[str, list[list[float]]]:
    out: dict[str, list[list[float]]] = {}
    for item in items:
        try:
            name, rng = item.split("=")
            low, high = (float(v) for v in rng.split(":"))
        except ValueError:
            raise FactoryError(f"--holdout '{item}' is not PARAM=LOW:HIGH, e.g. ball.mass=0.8:1.0") from None
        out.setdefault(name, []).append([low, high])  # repeated: several bands of one parameter
    return out


def _config(args: argparse.Namespace):
    from factory.model.train import TrainConfig

    return TrainConfig(epochs=args.epochs, batch_size=args.batch_size, workers=args.workers,
                       device=args.device, seed=args.seed, max_seconds=args.train_seconds)


def _train(args: argparse.Namespace) -> int:
    from factory.model.particle_train import train_particles
    from factory.model.rigid_train import train_relational
    from factory.model.split import episode_info, quality_options, split_episodes
    from factory.report.build import is_particle_dataset
    from factory.storage.opener import open_dataset

    ds = open_dataset(args.dataset, args.format)
    quality = quality_options(ds, parse_holdout(args.holdout))
    table = ds.episodes()
    split = split_episodes(table, quality.holdout, seed=args.seed)
    out = args.out or ds.root / "report" / "model.pt"
    result = (train_particles(ds, split, _config(args), out=out) if is_particle_dataset(ds)
              else train_relational(ds, split, episode_info(table), _config(args), out=out))
    h = result.history
    print(f"trained {result.steps} steps in {result.seconds:.1f} s ({result.steps_per_second:.0f} steps/s) on "
          f"{len(split.train)} episodes; validation loss {h['val_loss'][-1]:.4g}; wrote {out}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    import torch

    from factory.model import particles
    from factory.model.relational import StepModel, load_relational
    from factory.model.robot import load_robot
    from factory.model.split import Split, episode_info, ood_bands, quality_options
    from factory.model.stats import load_stats
    from factory.report.build import evaluate_model, is_particle_dataset
    from factory.report.particle_build import evaluate_particle_model
    from factory.report.text import render_evaluation
    from factory.storage.opener import open_dataset

    ds = open_dataset(args.dataset, args.format)
    if is_particle_dataset(ds):
        model, ckpt = particles.load_checkpoint(args.model)
        result = evaluate_particle_model(ds, model, Split(**ckpt["split"]), args.horizon)
    else:
        ckpt = torch.load(args.model, map_location="cpu", weights_only=False)
        loaders: dict[str, Callable[[dict], StepModel]] = {"relational": load_relational, "robot": load_robot}
        if ckpt.get("kind") not in loaders:
            raise FactoryError(f"{args.model} is a '{ckpt.get('kind')}' checkpoint, not one `factory train` "
                               "writes for a collision dataset; train again")
        table, split = ds.episodes(), Split(**ckpt["split"])
        bands = {k: v for k, v in ood_bands(table, quality_options(ds).holdout).items() if set(v) <= set(split.ood)}
        result = evaluate_model(ds, loaders[ckpt["kind"]](ckpt), split, load_stats(ds), episode_info(table),
                                args.horizon, bands)
    print(json.dumps(result, indent=1) if args.json else render_evaluation(result))
    return 0


def _report(args: argparse.Namespace) -> int:
    from factory.report.build import make_report
    from factory.report.text import render_verdict

    summary = make_report(args.dataset, args.out, args.format, _config(args), parse_holdout(args.holdout),
                          args.horizon)
    out = args.out or Path(summary["dataset"]["path"]) / "report"
    print(render_verdict(summary))
    print(f"wrote {out / 'index.html'} and {out / 'summary.json'}")
    return 3 if args.strict and not summary["verdict"]["passed"] else 0


def _probes(args: argparse.Namespace) -> int:
    from factory.model.split import episode_info
    from factory.report.probe_build import dataset_probes, write_probes
    from factory.storage.opener import open_dataset

    ds = open_dataset(args.dataset, args.format)
    items = dataset_probes(ds, episode_info(ds.episodes()))
    write_probes(items, args.out)
    kinds = sorted({i["kind"] for i in items})
    print(f"wrote {len(items)} probes ({', '.join(kinds) or 'none'}) to {args.out}")
    return 0
