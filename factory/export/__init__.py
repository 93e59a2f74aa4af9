"""Export a dataset to the formats training code reads: LeRobot v3.0, Minari, HF datasets, WebDataset.

Exporters are registered by name as "module:attr" strings and imported only when used, so
`import factory` needs none of their libraries. Each reads the source one shard at a time
(`factory.export.source`) and writes where no loader looks until it is complete (`staging`). The
source's dataset card comes along as the export's `README.md` (with its preview), naming the export's
own files for the Hub where the format has a Hub layout.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from factory.certify.card import CARD, PREVIEW, carried
from factory.errors import ExportError
from factory.export.source import Source
from factory.export.staging import write_staged
from factory.registry import load_entry
from factory.storage.dataset import Dataset
from factory.storage.location import Location, location
from factory.storage.opener import open_dataset

EXPORTERS: dict[str, str] = {
    "lerobot": "factory.export.lerobot:LeRobotExporter",
    "minari": "factory.export.minari:MinariExporter",
    "hf": "factory.export.hf:HFExporter",
    "webdataset": "factory.export.webdataset:WebDatasetExporter",
}
INSTALL_HINT = "pip install -e '.[export]'  (minari, datasets, webdataset, av)"
# what each export's card says of its files: LeRobot's Hub datasets map their frames as the default config
CARD_CONFIGS: dict[str, list[dict[str, Any]]] = {
    "lerobot": [{"config_name": "default", "data_files": "data/*/*.parquet"}]}
CARD_TAGS = {"lerobot": ("LeRobot",)}

Progress = Callable[[int], object]  # called with a count; what it returns is ignored
"""Called with the number of transitions just written."""


class Exporter(Protocol):
    FORMAT: str

    def write(self, source: Source, out: Any, scratch: Any, progress: Progress) -> list[str]:
        """Write `source` into the folder `out` (temporary files into `scratch`); return the entry files,
        those a loader opens first, relative to `out` (uploaded last to a URL)."""


def load_exporter(name: str) -> Exporter:
    try:
        exporter = load_entry(EXPORTERS, name, "export format", ExportError)()
    except ModuleNotFoundError as exc:
        if exc.name and not exc.name.startswith("factory"):
            raise ExportError(f"export format '{name}' needs the '{exc.name}' package: {INSTALL_HINT}") from None
        raise
    if name != exporter.FORMAT:
        raise ExportError(f"{EXPORTERS[name]} says it writes '{exporter.FORMAT}', registered as '{name}'")
    return exporter


def export(dataset: str | os.PathLike[str] | Dataset, fmt: str, out: str | os.PathLike[str] | Location, *,
           storage_options: dict[str, Any] | None = None, progress: Progress | None = None) -> Location:
    """Write `dataset` (a path, URL or opened Dataset) as `fmt` into `out` (a folder or URL); return where."""
    exporter = load_exporter(fmt)
    source = Source(dataset if isinstance(dataset, Dataset) else open_dataset(dataset))
    if source.episodes == 0:
        raise ExportError(f"{source.ds.location}: no episodes to export (all quarantined?)")
    dest = location(out, storage_options)
    marker = {"format": fmt, "source": source.provenance["source"],
              "manifest_sha256": source.provenance["manifest_sha256"]}

    def write(folder: Path, scratch: Path) -> list[str]:
        entry = exporter.write(source, folder, scratch, progress or (lambda n: None))
        carry_card(source.ds, fmt, folder)
        return entry

    write_staged(dest, write, marker)
    return dest


def carry_card(ds: Dataset, fmt: str, folder: Path) -> None:
    """The source's card as `folder/README.md` (and the preview it links), where the source has one."""
    where = ds.location
    if not where.is_file(CARD):
        return
    (folder / CARD).write_text(carried(where.read_bytes(CARD).decode(), fmt, str(where), CARD_CONFIGS.get(fmt),
                                       CARD_TAGS.get(fmt, ())))
    if where.is_file(PREVIEW):
        (folder / PREVIEW).write_bytes(where.read_bytes(PREVIEW))


__all__ = ["EXPORTERS", "Exporter", "carry_card", "export", "load_exporter"]
