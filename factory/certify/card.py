"""The dataset card, `README.md` in the dataset folder: Hugging Face front matter (license, tags, size
category, and `configs` mapping the Parquet tables, so `datasets.load_dataset(FOLDER)` reads them),
then for people: the scenario, parameter and label distributions, the physics certificate, provenance
and how to load it. Rendered from the manifest, the episodes table and the certificate alone."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import yaml

from factory import checks
from factory.names import episode_row, param_name
from factory.recipe.schema import DEFAULT_LICENSE  # also for datasets made before recipes had a license
from factory.storage.manifest import missing_fields

CARD = "README.md"
DOCUMENTS = "documents"  # the manifest's list of the card, certificate and preview
PREVIEW = "preview.gif"  # one episode drawn beside the card (`factory.preview.card_preview`), linked from it
SIZES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
         (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"))


def size_category(rows: int) -> str:
    """The Hub's size bucket for a table of `rows` rows."""
    return next((name for limit, name in SIZES if rows < limit), "n>100M")


def front_matter(manifest: dict[str, Any]) -> dict[str, Any]:
    """The Hub's metadata: `configs` only where the dataset holds Parquet (the Hub reads no HDF5)."""
    recipe = manifest.get("recipe") or {}
    engine = (manifest.get("engine") or {}).get("name") or (recipe.get("engine") or {}).get("type")
    meta: dict[str, Any] = {
        "license": recipe.get("license") or DEFAULT_LICENSE,
        "tags": [t for t in ("physics", "simulation", "world-model", "synthetic", recipe.get("kind"), engine) if t],
        "size_categories": [size_category(int(manifest["counts"]["transitions"]))],
        "pretty_name": recipe.get("name") or "physics dataset",
    }
    if "parquet" in manifest.get("formats", []):
        meta["configs"] = [
            {"config_name": table, **({"default": True} if table == "transitions" else {}),
             "data_files": [{"split": "train", "path": f"parquet/{table}/*.parquet"}]}
            for table in ("transitions", "episodes")]
    return meta


def render(manifest: dict[str, Any], episodes: list[dict[str, Any]], certificate: dict[str, Any] | None,
           preview_episode: int | None = None, unread: str | None = None) -> str:
    """The whole card as Markdown; `episodes` are the episodes table's rows; `preview_episode` the
    episode `preview.gif` beside the card draws, if there is one; `unread` why the data could not be
    read or measured, if it could not."""
    header = yaml.safe_dump(front_matter(manifest), sort_keys=False, allow_unicode=True)
    sections = [scenario(manifest), preview(preview_episode), parameters(manifest, episodes), labels(episodes),
                certificate_section(certificate, unread, bool(episodes)), sources(manifest), provenance(manifest),
                loading(manifest)]
    return f"---\n{header}---\n\n" + "\n\n".join(s for s in sections if s) + "\n"


def carried(card: str, fmt: str, source: str, configs: list[dict[str, Any]] | None = None,
            tags: tuple[str, ...] = ()) -> str:
    """The card for a copy of the data in another layout (an export): `configs` name the copy's own
    files (this folder's Parquet tables are not there), `tags` join the card's, and a line under the
    title says what the copy is and where it came from."""
    _, header, body = card.split("---\n", 2)
    meta = {k: v for k, v in yaml.safe_load(header).items() if k != "configs"}
    meta["tags"] = [*meta.get("tags", []), *(t for t in tags if t not in meta.get("tags", []))]
    if configs:
        meta["configs"] = configs
    title, _, rest = body.lstrip("\n").partition("\n")
    note = (f"*Exported as {fmt} from `{source}` by `factory export`: the figures below are the source's; "
            "the files and loading differ (this folder's own metadata says how to read it).*")
    return f"---\n{yaml.safe_dump(meta, sort_keys=False, allow_unicode=True)}---\n\n{title}\n\n{note}\n{rest}"


def scenario(manifest: dict[str, Any]) -> str:
    r, c = manifest.get("recipe") or {}, manifest["counts"]
    objects = ", ".join(f"{o['name']} ({o['shape']['type']})" for o in (r.get("scene") or {}).get("objects", []))
    lines = [f"# {r.get('name', 'dataset')}", "", r.get("description", "").strip() or "(no description in the recipe)",
             "", f"- kind: {r.get('kind', 'collision')}; {c['episodes']} episodes, {c['transitions']} transitions, "
             f"{c.get('contacts', 0)} contacts" + (f"; {c['quarantined']} quarantined" if c.get("quarantined") else "")]
    if "steps" in r:
        every = (r.get("outputs") or {}).get("record_every", 1)
        lines.append(f"- {r['steps']} steps of {r['dt']} s, recorded every {every}")
    if objects:
        lines.append(f"- objects: {objects}")
    if features := manifest.get("features"):
        lines.append(f"- a state is {features['state']['shape'][0]} floats, an action "
                     f"{features['action']['shape'][0]} ({features['action'].get('unit', '')})")
    return "\n".join(lines)


def preview(episode: int | None) -> str:
    if episode is None:
        return ""
    return (f"![episode {episode}, top and side views]({PREVIEW})\n\n*Episode {episode}: top and side views, its true "
            "labels in the title (`factory preview DATASET --episode K` draws any other).*")


def parameters(manifest: dict[str, Any], episodes: list[dict[str, Any]]) -> str:
    """Each randomized parameter: how the recipe draws it and what the episodes drew."""
    recipe = manifest.get("recipe")
    drawn = _columns([episode_row(e)[0] for e in episodes])
    rows = []
    for key, values in drawn.items():
        name = param_name(key)
        declared = checks.recipe_value(recipe, name) if recipe and recipe.get("scene") else None
        if not isinstance(declared, dict):  # a fixed value: the scenario, not a distribution
            continue
        rows.append(f"| `{name}` | {_distribution(declared)} | {_stats(values)} |")
    if not rows:
        return ""
    return "## Parameters\n\n| parameter | drawn from | min / mean / max |\n|---|---|---|\n" + "\n".join(rows)


def labels(episodes: list[dict[str, Any]]) -> str:
    """Each episode label: the share of episodes where it holds, or its range."""
    rows = []
    for name, values in _columns([episode_row(e)[1] for e in episodes]).items():
        known = [v for v in values if v is not None]
        if known and all(isinstance(v, bool) for v in known):
            rows.append(f"| `{name}` | {np.mean(known):.1%} of {len(known)} episodes true |")
        elif known and all(isinstance(v, int | float) for v in known):
            rows.append(f"| `{name}` | {_stats(known)} |")
    if not rows:
        return ""
    return "## Episode labels\n\n| label | distribution |\n|---|---|\n" + "\n".join(rows)


def certificate_section(certificate: dict[str, Any] | None, unread: str | None = None, read: bool = True) -> str:
    if unread is not None:
        return (f"## Physics certificate\n\nNot measured: {unread}."
                + ("" if read else " The parameter and label distributions are missing for the same reason."))
    if certificate is None:
        return "## Physics certificate\n\nNone: this dataset has no `validity.json` (run `factory card DATASET`)."
    verdict = "**passed**" if certificate["passed"] else "**failed**"
    rows = [f"| {f['name']} | {f['value']:.4g} | {'≤' if f['holds'] == 'below' else '≥'} {f['threshold']:.4g} "
            f"{f['unit']} | {'pass' if f['passed'] else '**fail**'} |" for f in certificate["figures"]]
    replay = certificate.get("replay") or {}
    engine = replay.get("engine") or {}
    return (f"## Physics certificate\n\n{verdict}: every figure measured from the stored data (`validity.json`, "
            "with each episode's state sha256).\n\n| figure | value | threshold | |\n|---|---|---|---|\n"
            + "\n".join(rows) + "".join(f"\n\nNot measured, {what}: {why}."
                                          for what, why in (certificate.get("not_measured") or {}).items())
            + f"\n\nMade on {engine.get('name', '?')} {engine.get('version', '')} "
            f"({replay.get('platform') or 'platform not recorded'}). Replay holds on {replay.get('holds_on')}."
            + replayed(replay.get("results") or []))


def replayed(results: list[dict[str, Any]]) -> str:
    """The last replay's outcome, one line per episode, and how many replays came before it."""
    if not results:
        return ""
    last = results[-1]
    engine = last.get("engine") or {}
    lines = [f"- episode {e['episode']}: " + ("identical" if e["identical"] else
                                              f"**different** from step {e['step']}, field `{e['field']}`")
             for e in last["episodes"]]
    earlier = f" ({len(results) - 1} earlier replays in `validity.json`)" if len(results) > 1 else ""
    return (f"\n\nLast replay, {last['at']} on {engine.get('name', '?')} {engine.get('version', '')} "
            f"({last.get('platform', '?')}){earlier}:\n\n" + "\n".join(lines))


def certificate_summary(certificate: dict[str, Any] | None) -> dict[str, Any] | None:
    """What a merged dataset's card keeps of a source's certificate: its verdict, the figures it
    failed, and its last replay's outcome."""
    if certificate is None:
        return None
    replays = (certificate.get("replay") or {}).get("results") or []
    return {"passed": certificate["passed"], "failed": [f["name"] for f in certificate["figures"] if not f["passed"]],
            "last_replay": {k: replays[-1][k] for k in ("at", "identical")} if replays else None}


def sources(manifest: dict[str, Any]) -> str:
    """A merged dataset's sources, each with what its own card said (recipe, engine, certificate, replay)."""
    if "merge" not in manifest:
        return ""
    rows = []
    for s in manifest["merge"]["sources"]:
        engine = s.get("engine") or {}
        cert = s.get("certificate")
        verdict = "no certificate recorded" if cert is None else ("passed" if cert["passed"] else
                                                                  "**failed**: " + ", ".join(cert["failed"]))
        if cert and cert.get("last_replay"):
            last = cert["last_replay"]
            verdict += f"; replayed {last['at']}: {'identical' if last['identical'] else '**different**'}"
        rows.append(f"| `{s['location']}` | {(s.get('recipe') or {}).get('name', '?')} | "
                    f"{engine.get('name', '?')} {engine.get('version', '')} | {s.get('seed')} | {s['episodes']} | "
                    f"{verdict} |")
    return ("## Sources\n\nThis dataset merges these; each one's own card and certificate stay beside its data, and "
            "replay runs on them.\n\n| source | recipe | engine | seed | episodes | its certificate |\n"
            "|---|---|---|---|---|---|\n" + "\n".join(rows))


def provenance(manifest: dict[str, Any]) -> str:
    engine = manifest.get("engine") or {}
    facts = [("engine", f"{engine.get('name', '?')} {engine.get('version', '')}".strip()),
             ("seed", manifest.get("seed")), ("recipe sha256", manifest.get("recipe_hash")),
             ("factory", manifest.get("factory_version")), ("format version", manifest.get("format_version")),
             ("created", manifest.get("created")), ("git commit", manifest.get("git_commit")),
             ("platform", manifest.get("platform")),
             ("command", " ".join(manifest["command"]) if manifest.get("command") else None)]
    if "merge" in manifest:
        facts.append(("merged from", ", ".join(s["location"] for s in manifest["merge"]["sources"])))
    missing = [k for k, v in facts if v is None]
    older = [f for f in missing_fields(manifest) if f != DOCUMENTS and f.replace("_", " ") not in missing]
    return "## Provenance\n\n" + "\n".join(f"- {k}: `{v}`" for k, v in facts if v is not None) + \
        (f"\n- not recorded in this manifest: {', '.join(missing + older)}" if missing + older else "") + \
        "\n\n`manifest.json` holds the resolved recipe and every file's sha256."


def loading(manifest: dict[str, Any]) -> str:
    hf = ('from datasets import load_dataset\nds = load_dataset("PATH")  # transitions; '
          'load_dataset("PATH", "episodes") for the episodes\n') if "parquet" in manifest.get("formats", []) else ""
    return ("## Loading\n\n```python\n" + hf + "import factory\nds = factory.open_dataset(\"PATH\")\n"
            "state, action, next_state = ds.triples()\nds.episodes().to_pandas()\n```\n\n"
            "Every column: the factory's Data format page.")


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for row in rows:
        for k, v in row.items():
            out.setdefault(k, []).append(v)
    return out


def _stats(values: list[Any]) -> str:
    a = np.asarray(values, np.float64)
    a = a[np.isfinite(a)]
    return f"{a.min():.4g} / {a.mean():.4g} / {a.max():.4g}" if len(a) else "no finite values"


def _distribution(declared: dict[str, Any]) -> str:
    return "`" + json.dumps(declared, separators=(", ", ": ")) + "`"
