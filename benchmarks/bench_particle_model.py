"""Training steps/s of the particle model (fluid / cloth) on a dataset, with the plain message
passing (gather whole latents, edge function on the concatenation) against the factored one the
model uses (`factory.model.graph.InteractionBlock`), and the radius graph of one step's batch by
all pairs (`torch.cdist`, the GPU path) against the k-d tree the CPU path uses, side by side in one
process: the variants take turns on the same batches, so a shared machine's load falls on all alike.

    .venv/bin/python benchmarks/bench_particle_model.py /tmp/gns/fluid32 /tmp/gns/cloth32 --steps 40
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from factory import open_dataset
from factory.model.particle_data import iter_point_episodes
from factory.model.particle_train import CLOTH, ParticleConfig, Windows, build_model, is_cloth
from factory.model.particles import radius_graph
from factory.model.split import quality_options, split_episodes


def all_pairs(pos: torch.Tensor, radius: float) -> torch.Tensor:
    """The radius graph by all pairs, as `radius_graph` builds it off the CPU."""
    n = pos.shape[1]
    close = (torch.cdist(pos, pos) < radius) & ~torch.eye(n, dtype=torch.bool)
    graph, src, dst = close.nonzero(as_tuple=True)
    return torch.stack([graph * n + src, graph * n + dst])


def graph_ms(fn, batches: list, radius: float, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for b in batches:
            fn(b[0][:, :, -1], radius)
        best = min(best, (time.perf_counter() - start) / len(batches))
    return best * 1e3


def bench(path: str, steps: int, rounds: int) -> list[str]:
    ds = open_dataset(path)
    split = split_episodes(ds.episodes(), quality_options(ds, None).holdout, seed=0)
    pc = CLOTH if is_cloth(ds) else ParticleConfig()
    eps = list(iter_point_episodes(ds, split.train))
    data = Windows(eps, pc.history, ds.layout.record_dt, is_cloth(ds))
    models = {}
    for factored in (False, True):
        torch.manual_seed(0)
        model = build_model(ds, eps, pc)
        for block in model.net.blocks:
            block.factored = factored
        models[factored] = model, torch.optim.AdamW(model.parameters(), lr=pc.lr)
    rows = np.random.default_rng(0).permutation(len(data))[:steps * pc.graphs].reshape(steps, pc.graphs)
    batches = [data.batch(r.tolist()) for r in rows]
    edges = np.mean([models[True][0].graph(b[0], *b[2:]).senders.numel() for b in batches[:5]])
    seconds = {False: [], True: []}
    for _ in range(rounds):
        for factored, (model, opt) in models.items():
            start = time.perf_counter()
            for win, nxt, *inputs in batches:
                loss = model.loss(win, nxt, pc.noise, *inputs)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
            seconds[factored].append(time.perf_counter() - start)
    plain, fact = steps / min(seconds[False]), steps / min(seconds[True])
    radius = models[True][0].radius
    pairs, tree = graph_ms(all_pairs, batches, radius, rounds), graph_ms(radius_graph, batches, radius, rounds)
    return [f"| {ds.manifest['recipe']['name']} | {data.batch([0])[0].shape[1]} | {edges:,.0f} | {pc.hidden} | "
            f"{plain:.1f} | {fact:.1f} | {fact / plain:.2f}× | {pairs:.1f} | {tree:.1f} |"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("datasets", nargs="+")
    p.add_argument("--steps", type=int, default=40, help="optimizer steps per timed round")
    p.add_argument("--rounds", type=int, default=3, help="timed rounds per variant (best kept)")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"load average {os.getloadavg()[0]:.1f}, torch threads {args.threads}, best of {args.rounds} rounds")
    print("| dataset | points | edges / step | width | plain steps/s | factored steps/s | factored / plain "
          "| radius graph, all pairs (ms) | k-d tree (ms) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for path in args.datasets:
        print("\n".join(bench(path, args.steps, args.rounds)), flush=True)


if __name__ == "__main__":
    main()
