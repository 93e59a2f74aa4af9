"""Guided against uniform data at an equal episode budget (docs/guided.md).

For each recipe (shipped, run on MuJoCo, without its out-of-distribution holdout so every episode may
train) and each seed: a uniform dataset U0 of N0 episodes trains the first model M0; then two datasets
of N0 + N1 episodes each train a model with the same settings and number of steps: U0 plus N1 more uniform
episodes, and U0 merged with N1 episodes guided by M0 (`factory run --guided-by`). Every model is scored by
its 20-step rollout position error (m, mean over episodes) on one fixed uniform test set per recipe and on
the worst decile of a uniform pool as M0 saw it (the pool's episodes where M0's own error was highest).
Then `--balance` on push_target's `touched__ball__target`: the share of its rare value in a balanced
dataset against the uniform one.

    .venv/bin/python benchmarks/bench_guided.py            # 2 recipes × 3 seeds (under 10 minutes, 2 cores)
    .venv/bin/python benchmarks/bench_guided.py --quick    # 1 recipe × 1 seed, smaller and shorter
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from factory.export.merge import merge
from factory.generate.runner import run
from factory.guide.select import GuideSettings, guided_recipe
from factory.model.episode_errors import episode_errors
from factory.model.rigid_train import train_relational
from factory.model.split import Split, episode_info, split_episodes
from factory.model.train import TrainConfig
from factory.recipe.loader import load_recipe
from factory.recipe.schema import Recipe
from factory.storage.opener import open_dataset

HORIZON = 20
STRIDE = 10  # rollout windows every 10 recorded steps
HELD_OUT = 0.5  # of M0's episodes: the guide's error model learns from these
BATCH = 256  # rollout windows per step: on a CPU a step costs little more than one of 64


@dataclass(frozen=True)
class Sizes:
    first: int  # N0: the uniform dataset that trains M0
    added: int  # N1: episodes each arm adds
    test: int  # the fixed uniform test set
    pool: int  # uniform pool whose worst decile (by M0) is the second test set
    train_steps: int
    balance_guide: int  # uniform episodes the --balance classifier learns from


FULL = Sizes(first=48, added=48, test=64, pool=320, train_steps=120, balance_guide=1024)
QUICK = Sizes(first=48, added=48, test=32, pool=160, train_steps=60, balance_guide=256)


def bench_recipe(name: str) -> Recipe:
    """The shipped recipe on MuJoCo, every episode trainable; restitution within MuJoCo's calibrated 0.95."""
    data = load_recipe(name).model_dump()
    for obj in data["scene"]["objects"]:
        if obj.get("restitution") is not None and obj["restitution"] > 0.9:
            obj["restitution"] = 0.9
    data |= {"engine": {"type": "mujoco", "threads": 1}, "quality": {},
             "outputs": data["outputs"] | {"formats": ["parquet"], "shard_size": 64}}
    return Recipe.model_validate(data)


def with_seed(recipe: Recipe, seed: int) -> Recipe:
    return recipe.model_copy(update={"seed": seed})


def train(path: Path, steps: int, seed: int, held_out: float) -> Path:
    """A relational model of the dataset at `path` saved to its report/model.pt: `held_out` of the episodes
    left for validation and test (M0 leaves HELD_OUT, whose errors teach the guide), the arms only 10%.
    `steps` optimizer steps, whatever else the machine runs: a time budget would give a model fewer
    steps when the machine is busier, as large a difference as the data makes."""
    ds = open_dataset(path)
    table = ds.episodes()
    split = split_episodes(table, {}, seed=seed, val=0.1, test=held_out - 0.1)
    if held_out <= 0.1:
        split = Split(train=sorted(split.train + split.test), val=split.val, test=[], ood=[])
    out = path / "report" / "model.pt"
    config = TrainConfig(seed=seed, epochs=10_000, max_steps=steps, batch_size=BATCH)
    train_relational(ds, split, episode_info(table), config, out=out)
    return out


def error(test: Path, model: Path, episodes: list[int] | None = None) -> tuple[float, np.ndarray]:
    ds = open_dataset(test)
    ids = episodes if episodes is not None else ds.episodes()["episode"].to_pylist()
    errors = episode_errors(ds, model, ids, HORIZON, STRIDE)
    return float(errors.rollout.mean()), errors.rollout


def one_seed(recipe: Recipe, seed: int, sizes: Sizes, tests: tuple[Path, Path], work: Path) -> dict:
    base = with_seed(recipe, recipe.seed + 1000 * (seed + 1))
    first, uniform, guided, merged = (work / f"{n}-{seed}" for n in ("first", "uniform", "guided", "merged"))
    run(base, first, episodes=sizes.first)
    m0 = train(first, sizes.train_steps, seed, held_out=HELD_OUT)
    run(base, uniform, episodes=sizes.first + sizes.added)
    settings = GuideSettings(seed=seed)
    chosen = guided_recipe(base, recipe.name, open_dataset(first), sizes.added, settings)
    run(chosen, guided)
    merge([first, guided], merged)
    models = {"first": m0, "uniform": train(uniform, sizes.train_steps, seed, 0.1),
              "guided": train(merged, sizes.train_steps, seed, 0.1)}
    test, pool = tests
    _, pool_errors = error(pool, m0)
    ids = open_dataset(pool).episodes()["episode"].to_numpy()
    worst = sorted(ids[pool_errors >= np.quantile(pool_errors, 0.9)].tolist())
    fit = chosen.guided.guide["fit"] if chosen.guided else {}
    return {"test": {k: error(test, m)[0] for k, m in models.items()},
            "worst": {k: error(pool, m, worst)[0] for k, m in models.items()},
            "regressor": fit.get("regressor"), "scores": fit.get("scores", {})}


def balance(sizes: Sizes, work: Path) -> dict:
    """A --balance dataset of push_target's touched__ball__target beside the uniform guide it learned from."""
    recipe = bench_recipe("push_target")
    label = "touched__ball__target"
    guide = work / "balance-guide"
    run(recipe, guide, episodes=sizes.balance_guide)
    chosen = guided_recipe(recipe, recipe.name, open_dataset(guide), sizes.added,
                           GuideSettings(balance=label))
    run(chosen, work / "balanced")
    rates = {}
    for name in ("balance-guide", "balanced"):
        ds = open_dataset(work / name)
        table = ds.episodes()
        values = np.asarray(table[label].to_numpy(zero_copy_only=False), float)
        w = ds.importance_weights(table)
        rates[name] = (values.mean(), float((w * values).sum() / w.sum()))
    rare = rates["balance-guide"][0] < 0.5
    share = {k: (v[0] if rare else 1 - v[0], v[1] if rare else 1 - v[1]) for k, v in rates.items()}
    return {"label": label, "rare": rare, "share": share, "fit": chosen.guided.guide["fit"] if chosen.guided else {}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int)
    parser.add_argument("--recipes", default="push_target,elastic_collision")
    parser.add_argument("--work", type=Path, help="keep the datasets here (default: a temporary folder)")
    parser.add_argument("--sizes", help="N0,N1,test,pool,train_steps,balance_guide instead of the preset")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    if args.sizes:
        n0, n1, test, pool, steps, guide = args.sizes.split(",")
        sizes = Sizes(int(n0), int(n1), int(test), int(pool), int(steps), int(guide))
    seeds = args.seeds or (1 if args.quick else 3)
    names = args.recipes.split(",")[:1] if args.quick and args.recipes == parser.get_default("recipes") \
        else args.recipes.split(",")
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench_guided_") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        results = {}
        for name in names:
            recipe = bench_recipe(name)
            test, pool = work / f"{name}-test", work / f"{name}-pool"
            run(with_seed(recipe, recipe.seed + 500_000), test, episodes=sizes.test)
            run(with_seed(recipe, recipe.seed + 600_000), pool, episodes=sizes.pool)
            results[name] = [one_seed(recipe, s, sizes, (test, pool), work / name) for s in range(seeds)]
        balanced = balance(sizes, work)
    print_tables(results, balanced, sizes, time.perf_counter() - start)


def change(new: float, old: float) -> str:
    return f"{100 * (new / old - 1):+.0f}%"


def print_tables(results: dict[str, list[dict]], balanced: dict, sizes: Sizes, seconds: float) -> None:
    print(f"\nN0 = {sizes.first} uniform episodes train M0; each arm adds {sizes.added}; every model "
          f"{sizes.train_steps} training steps of {BATCH} windows; {HORIZON}-step rollout position error (m)\n")
    print("| recipe | seed | uniform test: M0 | uniform | guided | guided vs uniform "
          "| worst decile: M0 | uniform | guided | guided vs uniform | error model (CV R², rank corr.) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, rows in results.items():
        for s, r in enumerate(rows):
            t, w = r["test"], r["worst"]
            sc = r["scores"].get(r["regressor"], {})
            print(f"| {name} | {s} | {t['first']:.4f} | {t['uniform']:.4f} | {t['guided']:.4f} | "
                  f"{change(t['guided'], t['uniform'])} | {w['first']:.4f} | {w['uniform']:.4f} | {w['guided']:.4f} | "
                  f"{change(w['guided'], w['uniform'])} | {r['regressor']} ({sc.get('r2', float('nan')):.2f}, "
                  f"{sc.get('spearman', float('nan')):.2f}) |")
        mean = {k: {a: float(np.mean([r[k][a] for r in rows])) for a in ("first", "uniform", "guided")}
                for k in ("test", "worst")}
        t, w = mean["test"], mean["worst"]
        print(f"| **{name}** | mean | {t['first']:.4f} | {t['uniform']:.4f} | {t['guided']:.4f} | "
              f"**{change(t['guided'], t['uniform'])}** | {w['first']:.4f} | {w['uniform']:.4f} | {w['guided']:.4f} | "
              f"**{change(w['guided'], w['uniform'])}** | |")
    print("\nregressors' cross-validated R² (per recipe, seed 0):")
    for name, rows in results.items():
        print(f"  {name}: " + ", ".join(f"{k} {v['r2']:.2f}" for k, v in rows[0]["scores"].items()))
    share = balanced["share"]
    print(f"\n--balance {balanced['label']} (rare value {balanced['rare']}): share "
          f"{share['balance-guide'][0]:.2f} in the uniform dataset, {share['balanced'][0]:.2f} in the balanced one "
          f"(importance-weighted: {share['balanced'][1]:.2f}); classifier {balanced['fit'].get('regressor')}, "
          f"expected share {balanced['fit'].get('expected_share', float('nan')):.2f}")
    print(f"\n{seconds:.0f} s in all")


if __name__ == "__main__":
    main()
