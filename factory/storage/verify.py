"""`factory verify`: is a dataset on disk exactly what its manifest says it is?

Checks every file's size and sha256, that shards tile the planned episode range, and, reading each
shard back in every format, that it holds exactly its expected episodes (its range minus the
quarantined ones), each once, with the recorded length, the declared column types and the counts
the manifest gives. Problems are returned, not raised, so one run reports all of them.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import pyarrow as pa

from factory.errors import StorageError
from factory.storage import reader_for
from factory.storage.location import Location, location
from factory.storage.manifest import check_file, read_manifest

DATA_SUFFIXES = (".parquet", ".h5")


def verify(root: str | os.PathLike[str] | Location) -> list[str]:
    """Every problem found in the dataset at `root` (a path, URL or location); an empty list means it is intact."""
    root = location(root)
    try:
        manifest = read_manifest(root)
    except (StorageError, ValueError) as exc:
        return [str(exc)]
    problems = _check_plan(manifest) + _check_unlisted(root, manifest)
    problems += [p for p in (check_file(root, f) for f in manifest.get("documents", [])) if p]  # card, certificate
    quarantined = {q["episode"] for q in manifest.get("quarantined", [])}
    for shard in manifest["shards"]:
        bad_files = [p for p in (check_file(root, f) for f in shard["files"]) if p]
        problems += [f"shard {shard['id']}: {p}" for p in bad_files]
        if not bad_files:
            expected = [i for i in range(*shard["episodes"]) if i not in quarantined]
            problems += [f"shard {shard['id']}: {p}" for p in _check_shard(root, manifest, shard, expected)]
    return problems


def _check_plan(manifest: dict[str, Any]) -> list[str]:
    """Shards must tile 0..planned without gaps or overlaps, and counts must add up."""
    problems, position = [], 0
    for shard in sorted(manifest["shards"], key=lambda s: s["episodes"][0]):
        start, stop = shard["episodes"]
        if start != position:
            problems.append(f"episodes {min(start, position)}..{max(start, position) - 1} are "
                            f"{'missing' if start > position else 'in two shards'} (shard {shard['id']})")
        position = max(position, stop)
    quarantined = [q["episode"] for q in manifest.get("quarantined", [])]
    twice = sorted(i for i, n in Counter(quarantined).items() if n > 1)
    if twice:
        problems.append(f"episodes quarantined twice: {twice[:10]}")
    counts = manifest["counts"]
    planned = counts["episodes"] + counts.get("quarantined", 0)
    if position != planned:
        problems.append(f"shards cover {position} episodes, counts say {planned}")
    for key in ("transitions", "contacts"):
        total = sum(s[key] for s in manifest["shards"])
        if total != counts[key]:
            problems.append(f"shards hold {total} {key}, counts say {counts[key]}")
    return problems


def _check_unlisted(root: Location, manifest: dict[str, Any]) -> list[str]:
    """Data files the manifest does not list would be read by any glob over the folder."""
    listed = {f["path"] for s in manifest["shards"] for f in s["files"]}
    found = {rel for rel in root.files() if rel.endswith(DATA_SUFFIXES)
             and not any(part.startswith(".") for part in rel.split("/"))}
    return [f"{path}: data file not in the manifest" for path in sorted(found - listed)]


def _check_shard(root: Location, manifest: dict[str, Any], shard: dict[str, Any], expected: list[int]) -> list[str]:
    problems = []
    transitions_per_episode = manifest["recipe"]["steps"] // manifest["recipe"]["outputs"]["record_every"]
    widths = {"state": manifest["features"]["state"]["shape"][0],
              "action": manifest["features"]["action"]["shape"][0],
              "next_state": manifest["features"]["next_state"]["shape"][0]}
    for fmt in manifest["formats"]:
        files = [f["path"] for f in shard["files"] if f["path"].startswith(f"{fmt}/")]
        if not files:
            if expected:
                problems.append(f"{fmt}: no files for {len(expected)} episodes")
            continue
        reader = reader_for(fmt)
        try:
            episodes, transitions, contacts = (reader.episodes(root, files), reader.transitions(root, files),
                                               reader.contacts(root, files))
        except Exception as exc:  # any reader failure means the shard is unreadable, whatever its kind
            problems.append(f"{fmt}: unreadable ({type(exc).__name__}: {exc})")
            continue
        problems += [f"{fmt}: {p}" for p in _check_tables(episodes, transitions, contacts, shard, expected,
                                                          transitions_per_episode, widths)]
    return problems


def _check_tables(episodes: pa.Table, transitions: pa.Table, contacts: pa.Table, shard: dict[str, Any],
                  expected: list[int], per_episode: int, widths: dict[str, int]) -> list[str]:
    problems = _check_indices("episodes table", episodes["episode"].to_pylist(), expected)
    rows = Counter(transitions["episode"].to_pylist())
    problems += _check_indices("transitions table", sorted(rows), expected)
    short = sorted(i for i, n in rows.items() if n != per_episode)
    if short:
        problems.append(f"episodes {short[:10]} do not have {per_episode} transitions")
    if transitions.num_rows != shard["transitions"]:
        problems.append(f"{transitions.num_rows} transitions, manifest says {shard['transitions']}")
    if contacts.num_rows != shard["contacts"]:
        problems.append(f"{contacts.num_rows} contacts, manifest says {shard['contacts']}")
    for column, width in widths.items():
        want = pa.list_(pa.float32(), width)
        if column not in transitions.column_names or transitions.schema.field(column).type != want:
            got = transitions.schema.field(column).type if column in transitions.column_names else "missing"
            problems.append(f"column {column} is {got}, manifest declares {want}")
    return problems


def _check_indices(what: str, found: list[int], expected: list[int]) -> list[str]:
    counts = Counter(found)
    problems = []
    if missing := sorted(set(expected) - set(counts)):
        problems.append(f"{what}: episodes {missing[:10]} missing")
    if extra := sorted(set(counts) - set(expected)):
        problems.append(f"{what}: episodes {extra[:10]} do not belong here")
    if twice := sorted(i for i, n in counts.items() if n > 1):
        problems.append(f"{what}: episodes {twice[:10]} appear more than once")
    return problems
