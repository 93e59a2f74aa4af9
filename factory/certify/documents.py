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

from pydantic import ValidationError

from factory.certify.card import CARD, DOCUMENTS, PREVIEW, render
from factory.certify.certificate import VALIDITY, certificate
from factory.errors import FactoryError, StorageError
from factory.storage.dataset import Dataset
from factory.storage.location import Location
from factory.storage.manifest import read_manifest, write_manifest


def write_documents(where: Location, manifest: dict[str, Any], cert: dict[str, Any] | None = None) -> dict[str, Any]:
    """`documents` below, less what it measured."""
    return documents(where, manifest, cert)[0]


def documents(where: Location, manifest: dict[str, Any], cert: dict[str, Any] | None = None
              ) -> tuple[dict[str, Any], dict[str, Any] | None, str | None]:
    """Measure the dataset `manifest` describes (unless its certificate `cert` is given), write
    `validity.json` and `README.md`, and return the manifest with both listed (not yet written: the
    caller writes the manifest last), the certificate and why there is none. A preview the manifest
    already lists stays listed and linked.

    Where the data cannot be read or measured (a manifest from an earlier factory: HDF5 files of an
    older layout, a recipe this factory no longer validates), the card is written from the manifest
    alone and says why; no certificate is written."""
    episodes: list[dict[str, Any]] = []
    unread = None
    try:
        ds = Dataset(where, "parquet" if "parquet" in manifest["formats"] else None, manifest=manifest)
        episodes = ds.episodes().to_pylist() if ds.files else []  # every episode quarantined: none
        cert = certificate(ds) if cert is None else cert
    except (FactoryError, ValueError) as exc:  # a pydantic ValidationError is a ValueError
        cert, unread = None, why(exc)
    shown = next((d for d in manifest.get(DOCUMENTS, []) if d["path"] == PREVIEW and where.is_file(PREVIEW)), None)
    episode = shown["episode"] if shown else None
    card = render(manifest, episodes, cert, episode, unread)
    entries = ([] if cert is None else [_write(where, VALIDITY, (json.dumps(cert, indent=2) + "\n").encode())]) + \
        [_write(where, CARD, card.encode())]
    if shown:
        entries.append(_entry(PREVIEW, where.read_bytes(PREVIEW)) | {"episode": episode})
    return manifest | {DOCUMENTS: entries}, cert, unread


def why(exc: Exception) -> str:
    """One line on why a dataset could not be measured."""
    if isinstance(exc, ValidationError):
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
        return f"its recipe does not validate under this factory ({problems})"
    return str(exc).splitlines()[0]


def rewrite_documents(where: Location) -> str:
    """`factory card`: the documents of a finished dataset written again and the manifest updated; what
    was written, in one line. Earlier replays are kept where the episodes' states are the same."""
    earlier = stored_certificate(where)
    manifest, cert, unread = documents(where, read_manifest(where))
    if cert is not None and earlier and earlier.get("episode_states_sha256") == cert["episode_states_sha256"] and \
            (replays := earlier.get("replay", {}).get("results")):
        cert["replay"]["results"] = replays
        manifest = write_documents(where, manifest, cert)
    write_manifest(where, manifest)
    if cert is None:
        return f"{CARD} written; no certificate: {unread}"
    return f"{CARD} and {VALIDITY} written; certificate {'passed' if cert['passed'] else 'failed'}"


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
