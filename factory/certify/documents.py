"""Write a dataset's certificate and card beside its data, and list them in its manifest.

Both are written atomically (each `Location.write_bytes`) before the manifest that lists them under
`documents` with their sha256, so `factory verify` checks them like the data files; the data files
themselves are untouched.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from factory.certify.card import CARD, render
from factory.certify.certificate import VALIDITY, certificate
from factory.storage.dataset import Dataset
from factory.storage.location import Location
from factory.storage.manifest import read_manifest, write_manifest

DOCUMENTS = "documents"


def write_documents(where: Location, manifest: dict[str, Any]) -> dict[str, Any]:
    """Measure the dataset `manifest` describes, write `validity.json` and `README.md`, and return the
    manifest with both listed (not yet written: the caller writes the manifest last)."""
    ds = Dataset(where, "parquet" if "parquet" in manifest["formats"] else None, manifest=manifest)
    cert = certificate(ds)
    card = render(manifest, ds.episodes().to_pylist() if ds.files else [], cert)  # every episode quarantined: none
    entries = [_write(where, VALIDITY, (json.dumps(cert, indent=2) + "\n").encode()),
               _write(where, CARD, card.encode())]
    return manifest | {DOCUMENTS: entries}


def rewrite_documents(where: Location) -> bool:
    """`factory card`: the documents of a finished dataset written again and the manifest updated;
    whether its certificate passed."""
    manifest = write_documents(where, read_manifest(where))
    write_manifest(where, manifest)
    return bool(json.loads(where.read_bytes(VALIDITY))["passed"])


def _write(where: Location, rel: str, data: bytes) -> dict[str, Any]:
    where.write_bytes(rel, data)
    return {"path": rel, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
