"""The `factory` command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from factory.errors import (
    EngineUnsupported,
    ExportError,
    FactoryError,
    MergeError,
    RecipeError,
)
from factory.storage.base import FORMATS

EPILOG = """\
typical session:
  factory validate recipes/collision/push_target.yaml      check a recipe, write nothing
  factory run recipes/collision/push_target.yaml           simulate → outputs/push_target/
  factory inspect outputs/push_target                      counts, schema, label summary
  factory run RECIPE --out s3://bucket/ds                  write to object storage (any fsspec URL)
  factory preview outputs/push_target --episode 3          animated GIF of one episode
  factory run recipes/fluid/dam_break.yaml                 fluid (SPH) and cloth (PBD) work the same way
  factory schema > recipe.schema.json                      JSON Schema for editor autocompletion
  factory export outputs/push_target -f lerobot --out DIR  also minari, hf (HF datasets), webdataset
  factory merge outputs/a outputs/b --out outputs/ab       one dataset from several of the same layout
  factory compare RECIPE --engines genesis,mujoco --out DIR the same episodes on two engines, side by side

a dataset holds one folder per format ({formats}) and manifest.json; open it with
factory.open_dataset(path), pandas, DuckDB, Polars, h5py or dask.
exit codes: 0 ok, 1 run or storage error, 2 bad recipe (or one its engine refuses) or arguments,
an export or merge destination in use, datasets of different layouts.
"""


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (RecipeError, EngineUnsupported, ExportError, MergeError) as exc:  # bad input: the recipe, what its engine
        # cannot do, an export or merge destination it must not touch, datasets of different layouts
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except FactoryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: finished shards are kept; run the same command again to resume", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="factory", description="Synthetic physics data factory: turn YAML recipes into labeled "
        f"state-action-result datasets ({' + '.join(FORMATS)}) from physics engines.",
        epilog=EPILOG.format(formats=", ".join(f"{f}/" for f in FORMATS)),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

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
    p.add_argument("--verbose", action="store_true", help="show the engine's own output (kernel compilation, "
                   "warnings) instead of keeping it in OUT/.factory/engine.log")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=_worker_count, metavar="N|auto",
                       help="run shards on a local dask cluster of N worker processes (auto: one per core this run "
                       "may use). Without it a run steps in one process with a helper writing beside it, except "
                       "a fluid or cloth recipe with several shards: one worker per core")
    where.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                       help="run shards on an existing dask cluster (workers must see --out at the same path, "
                       "or --out is a URL)")
    _storage_options(p)
    p.set_defaults(func=_run)

    p = sub.add_parser("verify", help="check a dataset against its manifest",
                       description="Re-hash every file against the manifest and check counts, schema and "
                       "episode indices (none missing, none twice). Exit 1 on any problem.")
    p.add_argument("dataset", help="dataset folder or URL")
    _storage_options(p)
    p.set_defaults(func=_verify)

    p = sub.add_parser("validate", help="check a recipe; write nothing",
                       description="Validate RECIPE and report every problem with its YAML line.")
    p.add_argument("recipe", type=Path)
    p.set_defaults(func=_validate)

    p = sub.add_parser("inspect", help="summarise a dataset",
                       description="Counts, schema and label summary of a dataset folder.")
    p.add_argument("dataset", help="dataset folder or URL")
    p.add_argument("--format", choices=list(FORMATS), help="which copy to read (default: the first the dataset holds)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    _storage_options(p)
    p.set_defaults(func=_inspect)

    p = sub.add_parser("preview", help="render one episode to an animated GIF or MP4",
                       description="Draw episode K of DATASET frame by frame (top and side views: bodies, "
                       "contacts, liquid particles or cloth vertices) into DATASET/previews/episode_K.gif "
                       "unless --out says otherwise.")
    p.add_argument("dataset", help="dataset folder or URL")
    p.add_argument("--episode", type=int, required=True, metavar="K", help="episode index")
    p.add_argument("--out", type=Path, metavar="FILE", help="output file (default: DATASET/previews/episode_K.gif)")
    p.add_argument("--format", choices=["gif", "mp4"],
                   help="default: --out's suffix, else gif; mp4 needs ffmpeg (imageio-ffmpeg ships one)")
    p.add_argument("--fps", type=int, default=15, help="frames per second (default 15; at most 60 frames)")
    p.set_defaults(func=_preview)

    p = sub.add_parser("schema", help="print the recipe JSON Schema (for editor autocompletion)")
    p.add_argument("--out", type=Path, help="write to this file instead of stdout")
    p.set_defaults(func=_schema)

    from factory.report.commands import register as register_model_commands

    register_model_commands(sub)  # train, evaluate, report
    from factory.export.commands import register as register_export_commands

    register_export_commands(sub)  # export, merge
    from factory.compare.command import register as register_compare

    register_compare(sub)  # compare
    return parser


def _storage_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--storage-option", dest="storage_options", action="append", type=_storage_option, default=[],
                   metavar="KEY=VALUE", help="fsspec option for a URL, repeatable (e.g. endpoint_url=http://host:9000; "
                   "VALUE is parsed as JSON when it can be); credentials are better left to the usual "
                   "environment variables (AWS_ACCESS_KEY_ID, …)")


def _storage_option(text: str) -> tuple[str, object]:
    from factory.storage.location import parse_storage_option

    try:
        return parse_storage_option(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _where(target: str, args: argparse.Namespace):
    from factory.storage.location import location

    return location(target, dict(args.storage_options))


def _load(path: Path, **overrides):
    from factory.recipe.loader import load_recipe

    recipe = load_recipe(path)
    return recipe.model_copy(update=overrides) if overrides else recipe


def _run(args: argparse.Namespace) -> int:
    from factory.generate.engine_log import LOG_FILE, engine_output_to_log
    from factory.generate.plain import PlainExecutor
    from factory.generate.runner import run

    recipe = _load(args.recipe)
    if args.episodes is not None and args.episodes < 1:
        raise RecipeError(str(args.recipe), ["--episodes must be at least 1"])
    if args.backend:
        if recipe.engine.type != "genesis":
            raise RecipeError(str(args.recipe), [f"--backend applies to Genesis recipes; this one runs on "
                                                 f"{recipe.engine.type}"])
        recipe = recipe.model_copy(update={"engine": recipe.engine.model_copy(update={"backend": args.backend})})
    out = _where(args.out or str(Path("outputs") / recipe.name), args)
    total = args.episodes or recipe.episodes
    with engine_output_to_log(out, args.verbose) as terminal:
        def say(message: str) -> None:
            print(message, file=terminal.err, flush=True)

        executor = PlainExecutor(say)  # the cores this run owns: see factory.generate.plain
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
    hint = " (a machine's first Genesis run compiles kernels: a minute or more)" if recipe.engine.type == "genesis" else ""
    bar.set_postfix_str(f"building the {recipe.engine.type} scene{hint}")
    return bar


def _worker_count(text: str) -> int:
    if text == "auto":
        from factory.generate.write_behind import usable_cores

        return usable_cores()
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a number of worker processes >= 1 or 'auto', got {text!r}")
    return int(text)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _verify(args: argparse.Namespace) -> int:
    from factory.storage.verify import verify

    problems = verify(_where(args.dataset, args))
    for problem in problems:
        print(f"{args.dataset}: {problem}", file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s); run the same `factory run` command again to redo the bad shards",
              file=sys.stderr)
        return 1
    print(f"{args.dataset}: ok")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from engines import load_engine
    from factory.errors import EngineNotInstalled
    from factory.generate.plan import check_scale

    recipe = _load(args.recipe)
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


def _inspect(args: argparse.Namespace) -> int:
    from factory.storage.inspect import render, summarize

    summary = summarize(_where(args.dataset, args), args.format)
    print(json.dumps(summary, indent=2) if args.json else render(summary))
    return 0


def _preview(args: argparse.Namespace) -> int:
    from factory.preview import render_preview

    if args.fps < 1:
        print("error: --fps must be at least 1", file=sys.stderr)
        return 2
    print(render_preview(args.dataset, args.episode, args.out, args.format, args.fps))
    return 0


def _schema(args: argparse.Namespace) -> int:
    from factory.recipe.schema import Recipe

    text = json.dumps(Recipe.model_json_schema(), indent=2) + "\n"
    if args.out:
        args.out.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
