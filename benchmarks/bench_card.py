"""What a dataset's card costs: the run on MuJoCo, then measuring its certificate, drawing its preview and
rendering its card, beside the bare read of the same episodes (the certificate's one pass reads each
episode once: the read is the floor under it).

    .venv/bin/python benchmarks/bench_card.py [--quick] [--recipes push_target,billiards,push_cube]
                                              [--episodes 64]

Each recipe runs `--episodes` episodes on MuJoCo into a temporary folder with `factory.run` (which
measures and writes the certificate and card itself); the steps are then timed again apart, on the
written dataset: every record read (`Dataset.records`), the certificate (`certificate`), the card's
preview (`card_preview`, 12 frames; in brackets the process's first, which imports matplotlib, as a
`factory run` does) and the card rendered and written with a certificate already measured. Wall
seconds on a machine that may be shared. `--quick`: 8 episodes of push_target.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

PATHS = {"push_target": "collision/push_target.yaml", "billiards": "collision/billiards.yaml",
         "sliding_box": "collision/sliding_box.yaml", "head_on": "collision/head_on.yaml",
         "mesh_drop": "collision/mesh_drop.yaml", "push_cube": "robot/push_cube.yaml"}
RECIPES = Path(__file__).resolve().parent.parent / "recipes"


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def bench(name: str, episodes: int, folder: Path) -> dict[str, float]:
    from factory.certify.certificate import certificate
    from factory.certify.documents import stored_certificate, write_documents
    from factory.generate.runner import run
    from factory.preview import card_preview
    from factory.recipe.loader import load_recipe
    from factory.recipe.schema import Recipe
    from factory.storage.dataset import Dataset
    from factory.storage.location import location

    recipe = load_recipe(RECIPES / PATHS[name])
    recipe = Recipe.model_validate(recipe.model_dump(mode="json") | {"episodes": episodes,
                                                                      "engine": {"type": "mujoco"}})
    out = folder / name
    run_s, manifest = timed(lambda: run(recipe, out))
    ds = Dataset(out)
    read_s, _ = timed(lambda: sum(1 for _ in ds.records()))
    cert_s, _ = timed(lambda: certificate(ds))
    cold_s, _ = timed(lambda: card_preview(location(out)))  # matplotlib imported by the first only
    preview_s, _ = timed(lambda: card_preview(location(out)))
    card_s, _ = timed(lambda: write_documents(location(out), ds.manifest, stored_certificate(location(out))))
    return {"transitions": manifest["counts"]["transitions"], "run": run_s, "read": read_s, "certificate": cert_s,
            "preview cold": cold_s, "preview": preview_s, "card": card_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="8 episodes of push_target")
    parser.add_argument("--recipes", default="push_target,billiards,push_cube")
    parser.add_argument("--episodes", type=int, default=64)
    args = parser.parse_args()
    names, episodes = (["push_target"], 8) if args.quick else (args.recipes.split(","), args.episodes)
    print(f"{'recipe':<12} {'episodes':>8} {'transitions':>11} {'run s':>7} {'read s':>7} {'certificate s':>13} "
          f"{'preview s (first)':>17} {'card s':>7}")
    with tempfile.TemporaryDirectory(prefix="bench-card-") as folder:
        for name in names:
            r = bench(name, episodes, Path(folder))
            print(f"{name:<12} {episodes:>8} {r['transitions']:>11} {r['run']:>7.2f} {r['read']:>7.2f} "
                  f"{r['certificate']:>13.2f} {r['preview']:>9.2f} ({r['preview cold']:>5.2f}) {r['card']:>7.2f}")


if __name__ == "__main__":
    main()
