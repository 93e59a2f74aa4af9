"""`factory export` and `factory merge`: parsers and handlers.

Each exporter's library loads only when its handler runs.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator

from factory.cli.options import add_preview_option, add_storage_options, preview_card
from factory.export import EXPORTERS
from factory.registry import FORMATS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="write a dataset in a training library's format",
                       description="Write DATASET as LeRobot v3.0, Minari, Hugging Face datasets or WebDataset "
                       "into --out (a new or empty folder, an earlier export, or a URL), shard by shard; the "
                       "result appears under --out only when complete.")
    p.add_argument("dataset", help="dataset folder or URL")
    p.add_argument("--format", "-f", required=True, choices=list(EXPORTERS), dest="export_format")
    p.add_argument("--out", required=True, help="destination folder or fsspec URL")
    p.add_argument("--source-format", dest="source_format", choices=list(FORMATS),
                   help="which copy of DATASET to read (default: its first)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_storage_options(p, help="fsspec option for a URL --out, repeatable")
    p.set_defaults(func=_export)

    p = sub.add_parser("merge", help="combine datasets of the same layout into one",
                       description="Merge datasets of the same kind, state and action features into one dataset "
                       "at --out: episodes renumbered (manifest.json → merge.episodes maps them back to "
                       "(source, episode)), every source's manifest and recipe kept, an episode present twice "
                       "(same recipe, seed and index) kept once.")
    p.add_argument("datasets", nargs="+", help="dataset folders or URLs, in the order their episodes are numbered")
    p.add_argument("--out", required=True, help="new dataset folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_preview_option(p)
    p.set_defaults(func=_merge)


@contextlib.contextmanager
def _bar(total: int, desc: str, quiet: bool) -> Iterator[Callable[[int], object]]:
    """A tqdm bar over transitions, as `factory run` shows one over episodes."""
    if quiet:
        yield lambda n: None
        return
    from tqdm import tqdm

    with tqdm(total=total, unit="tr", unit_scale=True, desc=desc, dynamic_ncols=True) as bar:
        yield bar.update


def _export(args: argparse.Namespace) -> int:
    from factory.export import export
    from factory.storage.opener import open_dataset

    ds = open_dataset(args.dataset, args.source_format)
    with _bar(len(ds), f"{ds.manifest['recipe']['name']} → {args.export_format}", args.quiet) as progress:
        dest = export(ds, args.export_format, args.out, storage_options=dict(args.storage_options) or None,
                      progress=progress)
    print(f"exported {len(ds)} transitions of {ds.manifest['counts']['episodes']} episodes as "
          f"{args.export_format} to {dest}")
    if ds.layout.cameras:  # said, not silently dropped
        print(f"note: the exporters do not carry camera frames yet; {', '.join(c.name for c in ds.layout.cameras)}'s "
              "frames stay in the dataset (`Dataset.episode(k).frames`)", file=sys.stderr)
    return 0


def _merge(args: argparse.Namespace) -> int:
    from factory.export.merge import merge
    from factory.storage.opener import open_dataset

    total = sum(len(open_dataset(d)) for d in args.datasets)
    with _bar(total, "merge", args.quiet) as progress:
        manifest = merge(args.datasets, args.out, progress=progress)
    m = manifest["merge"]
    print(f"merged {len(args.datasets)} datasets into {args.out}: {manifest['counts']['episodes']} episodes, "
          f"{manifest['counts']['transitions']} transitions ({m['duplicates']} duplicate episodes kept once)")
    from factory.storage.location import location

    preview_card(location(args.out), args)
    return 0
