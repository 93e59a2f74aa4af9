"""Commands on a dataset: `factory verify` (and replay), `factory card`, `factory inspect`, `factory preview`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from factory.cli.options import FORMAT_CHOICE, add_preview_option, add_storage_options, preview_card, where

if TYPE_CHECKING:
    from factory.storage.location import Location


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="check a dataset against its manifest",
                       description="Re-hash every file against the manifest and check counts, schema and "
                       "episode indices (none missing, none twice). Exit 1 on any problem.")
    p.add_argument("dataset", help="dataset folder or URL")
    p.add_argument("--replay", type=int, default=0, metavar="K",
                   help="also re-simulate K episodes drawn at random from the manifest alone (recipe, seed, "
                   "engine) and compare them bit for bit with the stored ones")
    p.add_argument("--replay-episodes", type=_indices, default=(), metavar="I,J",
                   help="replay these episodes (e.g. 3,17) instead of random ones")
    add_storage_options(p)
    p.set_defaults(func=_verify)

    p = sub.add_parser("card", help="write a dataset's card (README.md) and certificate (validity.json) again",
                       description="Measure the physics certificate from the stored data, render the dataset card "
                       "(Hugging Face front matter, scenario, distributions, certificate, provenance) and list "
                       "both in the manifest. A run writes them itself; this redoes them, e.g. for an older dataset.")
    p.add_argument("dataset", help="dataset folder or URL")
    add_preview_option(p)
    add_storage_options(p)
    p.set_defaults(func=_card)

    p = sub.add_parser("inspect", help="summarise a dataset",
                       description="Counts, schema and label summary of a dataset folder.")
    p.add_argument("dataset", help="dataset folder or URL")
    p.add_argument("--format", **FORMAT_CHOICE)
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_storage_options(p)
    p.set_defaults(func=_inspect)

    p = sub.add_parser("preview", help="render one episode to an animated GIF or MP4",
                       description="Draw episode K of DATASET frame by frame into DATASET/previews/episode_K.gif "
                       "unless --out says otherwise: through its cameras when the dataset has some (every "
                       "camera and stream side by side), else top and side views (bodies, contacts, liquid "
                       "particles or cloth vertices).")
    p.add_argument("dataset", help="dataset folder or URL")
    p.add_argument("--episode", type=int, required=True, metavar="K", help="episode index")
    p.add_argument("--out", type=Path, metavar="FILE", help="output file (default: DATASET/previews/episode_K.gif)")
    p.add_argument("--format", choices=["gif", "mp4"],
                   help="default: --out's suffix, else gif; mp4 needs ffmpeg (imageio-ffmpeg ships one)")
    p.add_argument("--fps", type=int, default=15, help="frames per second (default 15; at most 60 frames)")
    p.add_argument("--schematic", action="store_true", help="top and side views even where there are cameras")
    p.set_defaults(func=_preview)


def _verify(args: argparse.Namespace) -> int:
    from factory.storage.manifest import older_manifest_note, read_manifest
    from factory.storage.verify import verify

    location = where(args.dataset, args)
    problems = verify(location)
    if not problems and (note := older_manifest_note(read_manifest(location))):
        print(f"{args.dataset}: note: {note}")
    advice = "run the same `factory run` command again to redo the bad shards"
    if not problems and (args.replay or args.replay_episodes):
        problems = _replay(location, args.replay, args.replay_episodes)
        advice = ("the files are whole but do not replay: the data was altered, or this engine, version or "
                  "platform simulates differently from the one that wrote it (validity.json records both)")
    for problem in problems:
        print(f"{args.dataset}: {problem}", file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s); {advice}", file=sys.stderr)
        return 1
    print(f"{args.dataset}: ok")
    return 0


def _replay(location: Location, count: int, named: tuple[int, ...]) -> list[str]:
    """Print each replayed episode's verdict and record them in the certificate; return the differing
    ones as problems."""
    from pydantic import ValidationError

    from factory.certify.documents import record_replay, stored_certificate, why
    from factory.errors import StorageError
    from factory.generate.replay import choose, replay
    from factory.recipe.schema import Recipe
    from factory.storage.dataset import Dataset

    ds = Dataset(location)
    if "merge" in ds.manifest:
        return ["a merged dataset has no one recipe and seed to replay: replay its sources (manifest: merge.sources)"]
    try:
        Recipe.model_validate(ds.manifest["recipe"])
    except ValidationError as exc:
        return [f"cannot replay: {why(exc)}"]
    done = replay(ds, choose(ds, count, named))
    for result in done.results:
        print(f"replay {result}")
    if stored_certificate(location) is None:
        print(f"{location}: no validity.json to record the replay in (`factory card` writes one)")
    else:
        try:
            record_replay(location, done.to_dict())
        except (StorageError, OSError) as exc:  # a dataset this user may read but not write
            print(f"{location}: the replay is not recorded: {exc}")
    engine = done.engine
    return [f"replay on {engine.get('name')} {engine.get('version')}: {r}" for r in done.results if not r.identical]


def _indices(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected episode indices like 3,17, not {text!r}") from None


def _card(args: argparse.Namespace) -> int:
    from factory.certify.documents import rewrite_documents
    from factory.storage.manifest import older_manifest_note, read_manifest

    location = where(args.dataset, args)
    if note := older_manifest_note(read_manifest(location)):
        print(f"{args.dataset}: note: {note}")
    outcome = rewrite_documents(location)
    print(f"{args.dataset}: {outcome}")
    preview_card(location, args)
    return 0


def _inspect(args: argparse.Namespace) -> int:
    from factory.storage.inspect import render, summarize

    summary = summarize(where(args.dataset, args), args.format)
    print(json.dumps(summary, indent=2) if args.json else render(summary))
    return 0


def _preview(args: argparse.Namespace) -> int:
    from factory.preview import render_preview

    if args.fps < 1:
        print("error: --fps must be at least 1", file=sys.stderr)
        return 2
    print(render_preview(args.dataset, args.episode, args.out, args.format, args.fps, args.schematic))
    return 0
