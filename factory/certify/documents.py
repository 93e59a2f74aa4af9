"""Write a dataset's certificate and card beside its data, and list them in its manifest.

Both are written atomically (each `Location.write_bytes`) before the manifest that lists them under
`documents` with their sha256, so `factory verify` checks them like the data files; the data files
themselves are untouched. A replay (`factory verify --replay`) is recorded in the certificate and the
card the same way.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from factory.certify.card import CARD, PREVIEW, render
from factory.certify.certificate import VALIDITY, certificate
from factory.errors import StorageError
from factory.storage.dataset import Dataset
from factory.storage.location import Location
from factory.storage.manifest import read_manifest, write_manifest

DOCUMENTS = "documents"


def write_documents(where: Location, manifest: dict[str, Any], cert: dict[str, Any] | None = None) -> dict[str, Any]:
    """Measure the dataset `manifest` describes (unless its certificate `cert` is given), write
    `validity.json` and `README.md`, and return the manifest with both listed (not yet written: the
    caller writes the manifest last). A preview the manifest already lists stays listed and linked."""
    ds = Dataset(where, "parquet" if "parquet" in manifest["formats"] else None, manifest=manifest)
    cert = certificate(ds) if cert is None else cert
    shown = next((d for d in manifest.get(DOCUMENTS, []) if d["path"] == PREVIEW and where.is_file(PREVIEW)), None)
    episode = shown["episode"] if shown else None
    card = render(manifest, ds.episodes().to_pylist() if ds.files else [], cert, episode)  # all quarantined: none
    entries = [_write(where, VALIDITY, (json.dumps(cert, indent=2) + "\n").encode()),
               _write(where, CARD, card.encode())]
    if shown:
        entries.append(_entry(PREVIEW, where.read_bytes(PREVIEW)) | {"episode": episode})
    return manifest | {DOCUMENTS: entries}


def rewrite_documents(where: Location) -> bool:
    """`factory card`: the documents of a finished dataset written again and the manifest updated;
    whether its certificate passed. Earlier replays are kept where the episodes' states are the same."""
    manifest = read_manifest(where)
    cert = certificate(Dataset(where, "parquet" if "parquet" in manifest["formats"] else None, manifest=manifest))
    earlier = stored_certificate(where)
    if earlier and earlier.get("episode_states_sha256") == cert["episode_states_sha256"] and \
            (replays := earlier.get("replay", {}).get("results")):
        cert["replay"]["results"] = replays
    write_manifest(where, write_documents(where, manifest, cert))
    return bool(cert["passed"])


def record_replay(where: Location, replay: dict[str, Any]) -> None:
    """Add one replay's outcome (`factory.generate.replay.Replay.to_dict`) to the certificate's
    `replay.results`, render the card again and update the manifest."""
    cert = stored_certificate(where)
    if cert is None:
        raise StorageError(f"{where}: no {VALIDITY} to record the replay in (run `factory card` first)")
    cert.setdefault("replay", {}).setdefault("results", []).append(replay)
    write_manifest(where, write_documents(where, read_manifest(where), cert))


def stored_certificate(where: Location) -> dict[str, Any] | None:
    return json.loads(where.read_bytes(VALIDITY)) if where.is_file(VALIDITY) else None


def _write(where: Location, rel: str, data: bytes) -> dict[str, Any]:
    where.write_bytes(rel, data)
    return _entry(rel, data)


def _entry(rel: str, data: bytes) -> dict[str, Any]:
    return {"path": rel, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
