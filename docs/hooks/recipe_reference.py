"""MkDocs hook: write the recipe reference page from the recipe models' JSON Schema at build time
(and show the repository's CHANGELOG.md as a page).

`factory.recipe.schema.Recipe.model_json_schema()` is the same schema `factory schema` prints and the
loader validates against, so the page cannot drift from the code. It is added to the build as the
generated file `recipes/reference.md`; nothing is written to docs/.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

PAGE = "recipes/reference.md"
DISTRIBUTIONS = {"Constant", "Uniform", "Normal", "LogUniform", "Choice"}


def on_files(files, config):
    from mkdocs.structure.files import File

    root = str(Path(config["config_file_path"]).resolve().parent)
    if root not in sys.path:
        sys.path.insert(0, root)  # the checkout's factory, also when it is not installed
    from factory.recipe.schema import Recipe

    files.append(File.generated(config, PAGE, content=render(Recipe.model_json_schema())))
    changelog = Path(root, "CHANGELOG.md")  # one copy: the repository's, shown as a page
    files.append(File.generated(config, "changelog.md", content=changelog.read_text(encoding="utf-8")))
    return files


def render(schema: dict[str, Any]) -> str:
    """Markdown: one table per model, the recipe first, then every model it uses in order of first use."""
    defs = schema.get("$defs", {})
    order = ["Recipe", *_refs_in_order(schema, defs)]
    out = [
        "# Recipe reference",
        "",
        "Generated from the recipe models (`factory.recipe.schema`) when the site is built; "
        "`factory schema` prints the same JSON Schema for editor autocompletion. A numeric field marked "
        "*number or distribution* takes a number or one of [Constant](#constant), [Uniform](#uniform), "
        "[Normal](#normal), [LogUniform](#loguniform) or [Choice](#choice), drawn per episode "
        "(or per scene variant for scene-shape fields).",
        "",
    ]
    for name in order:
        model = schema if name == "Recipe" else defs[name]
        out += _model(name, model)
    return "\n".join(out) + "\n"


def _refs_in_order(node: Any, defs: dict[str, Any], seen: list[str] | None = None) -> list[str]:
    seen = [] if seen is None else seen
    if isinstance(node, dict):
        ref = node.get("$ref")
        if ref:
            name = ref.rsplit("/", 1)[-1]
            if name not in seen:
                seen.append(name)
                _refs_in_order(defs[name], defs, seen)
        for key, value in node.items():
            if key != "$defs":
                _refs_in_order(value, defs, seen)
    elif isinstance(node, list):
        for value in node:
            _refs_in_order(value, defs, seen)
    return seen


def _model(name: str, model: dict[str, Any]) -> list[str]:
    lines = [f"## {name}", ""]
    if model.get("description"):
        lines += [" ".join(model["description"].split()), ""]
    props = model.get("properties", {})
    if not props:
        return [*lines, "No fields.", ""]
    required = set(model.get("required", []))
    extra = model.get("additionalProperties")
    lines += ["| field | type | default | allowed | description |", "|---|---|---|---|---|"]
    for field, spec in props.items():
        default = ("*required*" if field in required else _code(spec["default"]) if "default" in spec
                   else "its defaults")
        desc = " ".join(spec.get("description", "").split())
        lines.append(f"| `{field}` | {_type(spec)} | {default} | {_limits(spec)} | {_cell(desc)} |")
    if extra is False:
        lines += ["", "Other keys are refused (with a *did you mean*)."]
    return [*lines, ""]


def _type(spec: dict[str, Any]) -> str:
    if "$ref" in spec:
        name = spec["$ref"].rsplit("/", 1)[-1]
        return f"[{name}](#{name.lower()})"
    if "const" in spec:
        return _code(spec["const"])
    if "enum" in spec:
        return " \\| ".join(_code(v) for v in spec["enum"])
    options = _options(spec)
    if options:
        refs = {o.get("$ref", "").rsplit("/", 1)[-1] for o in options}
        kinds = {o.get("type") for o in options}
        if "number" in kinds and refs >= DISTRIBUTIONS:  # `Num`: a number or a distribution
            return "number or distribution" + (" or null" if "null" in kinds else "")
        return " or ".join(dict.fromkeys(_type(o) for o in options))
    kind = spec.get("type")
    if kind == "array":
        items = spec.get("items")
        if isinstance(items, dict):
            size = ""
            if spec.get("minItems") is not None and spec.get("minItems") == spec.get("maxItems"):
                size = f"{spec['minItems']} × "
            return f"list of {size}{_type(items)}"
        if "prefixItems" in spec:
            return "[" + ", ".join(_type(s) for s in spec["prefixItems"]) + "]"
        return "list"
    if kind == "object" and isinstance(spec.get("additionalProperties"), dict):
        return f"mapping to {_type(spec['additionalProperties'])}"
    return {"number": "number", "integer": "integer", "string": "string", "boolean": "boolean",
            "null": "null", "object": "mapping"}.get(kind, "any")


def _options(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The alternatives of a union, nested unions flattened."""
    out = []
    for option in spec.get("anyOf", spec.get("oneOf", [])):
        out += _options(option) if ("anyOf" in option or "oneOf" in option) else [option]
    return out


def _limits(spec: dict[str, Any]) -> str:
    parts = []
    fixed = spec.get("minItems") is not None and spec.get("minItems") == spec.get("maxItems")
    for key, sign in (("minimum", "≥"), ("exclusiveMinimum", ">"), ("maximum", "≤"), ("exclusiveMaximum", "<"),
                      ("minLength", "length ≥"), ("maxLength", "length ≤"), ("minItems", "items ≥"),
                      ("maxItems", "items ≤")):
        if key in spec and not (fixed and key in ("minItems", "maxItems")):
            parts.append(f"{sign} {spec[key]:,}" if isinstance(spec[key], int | float) else f"{sign} {spec[key]}")
    if "pattern" in spec:
        parts.append(f"`{spec['pattern']}`")
    for key in ("anyOf", "oneOf"):
        for option in spec.get(key, []):
            if option.get("type") in ("number", "integer") and _limits(option):
                parts.append(_limits(option))
    return _cell(", ".join(parts))


def _code(value: Any) -> str:
    if value is None:
        return "`null`"
    return "`" + json.dumps(value, ensure_ascii=False).replace("|", "\\|") + "`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
