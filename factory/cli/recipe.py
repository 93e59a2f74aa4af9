"""Commands on a recipe: `factory run`, `factory validate`, `factory schema`."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

from factory.cli.guide import add_guide_options, guide_recipe
from factory.cli.options import add_preview_option, add_storage_options, load, preview_card, where, worker_count
from factory.errors import RecipeError, StorageError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="simulate a recipe and write its dataset",
                       description="Simulate every episode of RECIPE and write the dataset.")
    p.add_argument("recipe", type=Path, help="YAML recipe file")
    p.add_argument("--out", help="dataset folder or fsspec URL such as s3://bucket/path "
                   "(default: outputs/<recipe name>)")
    p.add_argument("--episodes", type=int, help="override the recipe's episode count")
    p.add_argument("--overwrite", action="store_true",
                   help="start over: delete what --out holds (by default a rerun resumes it)")
    p.add_argument("--backend", choices=["cpu", "gpu"], help="override the Genesis backend")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_preview_option(p)
    p.add_argument("--verbose", action="store_true", help="show the engine's own output (kernel compilation, "
                   "warnings) instead of keeping it in OUT/.factory/engine.log, and a failure's traceback")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=worker_count, metavar="N|auto",
                       help="run shards on a local dask cluster of N worker processes (auto: one per core this run "
                       "may use). Without it a run steps in one process with a helper writing beside it, except "
                       "a fluid or cloth recipe with several shards: one worker per core")
    where.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                       help="run shards on an existing dask cluster (workers must see --out at the same path, "
                       "or --out is a URL)")
    add_storage_options(p)
    add_guide_options(p)
    p.set_defaults(func=_run)

    p = sub.add_parser("validate", help="check a recipe; write nothing",
                       description="Validate RECIPE and report every problem with its YAML line.")
    p.add_argument("recipe", type=Path)
    p.set_defaults(func=_validate)

    p = sub.add_parser("schema", help="print the recipe JSON Schema (for editor autocompletion)")
    p.add_argument("--out", type=Path, help="write to this file instead of stdout")
    p.set_defaults(func=_schema)


def _run(args: argparse.Namespace) -> int:
    from factory.generate.engine_log import LOG_FILE, engine_output_to_log
    from factory.generate.plain import PlainExecutor
    from factory.generate.resume import STATE_DIR
    from factory.generate.runner import Executor, run

    recipe = load(args.recipe)
    if args.episodes is not None and args.episodes < 1:
        raise RecipeError(str(args.recipe), ["--episodes must be at least 1"])
    if args.backend:
        if recipe.engine.type != "genesis":
            raise RecipeError(str(args.recipe), [f"--backend applies to Genesis recipes; this one runs on "
                                                 f"{recipe.engine.type}"])
        recipe = recipe.model_copy(update={"engine": recipe.engine.model_copy(update={"backend": args.backend})})
    out = where(args.out or str(Path("outputs") / recipe.name), args)
    if args.guided_by:
        recipe = guide_recipe(recipe, args, out)
    elif args.balance:
        raise RecipeError(str(args.recipe), ["--balance needs --guided-by DATASET: the episodes its classifier "
                                             "learns from"])
    with contextlib.suppress(StorageError):  # a URL: a failure's details go to the temporary folder
        args.log_dir = out.local_path() / STATE_DIR
    total = args.episodes or recipe.episodes
    with engine_output_to_log(out, args.verbose) as terminal:
        args.engine_output = terminal  # a failure's details name its log where it is not kept under OUT

        def say(message: str) -> None:
            print(message, file=terminal.err, flush=True)

        executor: Executor = PlainExecutor(say)  # the cores this run owns: see factory.generate.plain
        if args.workers or args.scheduler:
            from factory.generate.distributed import DaskExecutor

            executor = DaskExecutor(args.workers, args.scheduler, say=say)
        bar = None if args.quiet else _progress_bar(recipe, total, terminal.err)
        try:
            manifest = run(recipe, out, episodes=args.episodes, overwrite=args.overwrite,
                           progress=bar.progress if bar else None, recipe_path=str(args.recipe),
                           executor=executor, say=say)
        finally:
            if bar:
                bar.close()
    if terminal.log:
        _say(f"engine output of this run: {terminal.log}")
    c = manifest["counts"]
    quarantined = f" ({c['quarantined']} quarantined, see `factory inspect`)" if c["quarantined"] else ""
    log = "" if args.verbose else f"; engine output in {out}/{LOG_FILE}"
    print(f"wrote {c['episodes']} episodes{quarantined}, {c['transitions']} transitions, {c['contacts']} "
          f"contacts to {out}{log}")
    preview_card(out, args)
    return 0


def _progress_bar(recipe, total: int, stream):
    """A tqdm bar whose postfix tells the scene build apart from the stepping speed."""
    from tqdm import tqdm

    class Bar(tqdm):
        steps, build_s = 0, 0.0

        def progress(self, episodes: int, sim_steps: int, build_s: float = 0.0) -> None:
            if sim_steps == 0 and not build_s:  # episodes finished by an earlier run: not part of this run's rate
                self.initial += episodes
            self.steps += sim_steps
            self.build_s += build_s
            self.update(episodes)
            stepping = max(self.format_dict["elapsed"] - self.build_s, 1e-9)
            built = f"scene built in {self.build_s:.0f} s, " if self.build_s else ""
            self.set_postfix_str(f"{built}{self.steps / stepping:,.0f} env-steps/s" if self.steps else built)

    bar = Bar(total=total, unit="ep", desc=recipe.name, dynamic_ncols=True, file=stream)
    genesis = recipe.engine.type == "genesis"
    hint = " (a machine's first Genesis run compiles kernels: a minute or more)" if genesis else ""
    bar.set_postfix_str(f"building the {recipe.engine.type} scene{hint}")
    return bar


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _validate(args: argparse.Namespace) -> int:
    from engines import load_engine
    from factory.errors import EngineNotInstalled
    from factory.generate.plan import check_scale

    recipe = load(args.recipe)
    try:
        layout = load_engine(recipe.engine.type)(recipe).layout  # the engine's refusals, before anything is built
        check_scale(recipe, recipe.episodes, layout, str(args.recipe))
        checked = ""
    except EngineNotInstalled as exc:
        checked = f" (engine checks skipped: {exc})"
    objects = ", ".join(o.name for o in recipe.scene.objects)
    print(f"{args.recipe}: ok — {recipe.name}: {recipe.episodes} episodes × {recipe.steps} steps on "
          f"{recipe.engine.type}, objects: {objects}{checked}")
    return 0


def _schema(args: argparse.Namespace) -> int:
    from factory.recipe.schema import Recipe

    text = json.dumps(Recipe.model_json_schema(), indent=2) + "\n"
    if args.out:
        args.out.write_text(text)
    else:
        sys.stdout.write(text)
    return 0
