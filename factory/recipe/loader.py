"""Load a YAML recipe and turn every validation problem into one readable, located message.

Each problem names the file, the YAML line, the field path and what is allowed, with a
"did you mean" for misspelt keys and tags, so a user can fix all of them in one pass.
"""

from __future__ import annotations

import hashlib
import json
import re
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from factory.errors import RecipeError, did_you_mean
from factory.recipe.meshes import absolute_paths, mesh_problems
from factory.recipe.schema import Recipe
from factory.recipe.shipped import resolve_recipe

Loc = tuple[Any, ...]


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a recipe file, or a shipped recipe by name (`push_target`); raise
    `RecipeError` listing every problem."""
    path = resolve_recipe(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise RecipeError(str(path), [f"cannot read the file: {exc.strerror}"]) from None
    return parse_recipe(decode_recipe(raw, str(path)), str(path), path.parent)


def decode_recipe(raw: bytes, source: str) -> str:
    """The file's text: a recipe is UTF-8 (a UTF-8 byte-order mark is allowed)."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise RecipeError(source, ["line 1: the file is UTF-16 text; save it as UTF-8"])
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise RecipeError(source, [f"line {line}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
                                   f"{exc.start}); a recipe is a UTF-8 YAML file"]) from None


def parse_recipe(text: str, source: str = "<recipe>", base: Path | None = None) -> Recipe:
    """Validate recipe text; relative mesh paths are taken against `base` (the recipe's folder;
    default the working directory) and every mesh is loaded once to refuse what cannot be a body."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        raise RecipeError(source, [f"{where}not valid YAML: {getattr(exc, 'problem', exc)}"]) from None
    if node is None or not isinstance(node, yaml.MappingNode):
        raise RecipeError(source, ["line 1: a recipe is a YAML mapping of keys such as name, engine, scene"])
    lines: dict[Loc, int] = {}
    repeated: list[str] = []
    data = _construct(node, (), lines, repeated)
    absolute_paths(data, base or Path.cwd())
    try:
        recipe = Recipe.model_validate(data, context={"check_files": True})  # robot files: `recipe.robots`
    except ValidationError as exc:
        raise RecipeError(source, repeated + _describe(exc, data, lines)) from None
    problems = repeated + [f"line {_line(loc, lines)}: {'.'.join(map(str, loc))}: {message}"
                           for loc, message in mesh_problems(recipe.scene.objects)]
    if problems:
        raise RecipeError(source, problems)
    return recipe


def recipe_hash(recipe: Recipe) -> str:
    """sha256 of the resolved recipe: two recipes with the same hash make the same data."""
    canonical = json.dumps(recipe.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _construct(node: yaml.Node, loc: Loc, lines: dict[Loc, int], repeated: list[str]) -> Any:
    """Build plain Python data from a composed YAML node, remembering each path's line and
    reporting a key given twice in one mapping (YAML would silently keep the last)."""
    lines[loc] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            line = key_node.start_mark.line + 1
            if key in out:
                path = ".".join(str(p) for p in (*loc, key))
                repeated.append(f"line {line}: {path}: given twice (first on line {lines[(*loc, key)]}); "
                                "keep one")
            out[key] = _construct(value_node, (*loc, key), lines, repeated)
            lines[(*loc, key)] = line
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(v, (*loc, i), lines, repeated) for i, v in enumerate(node.value)]
    return _SCALARS.construct_object(node)


_SCALARS = yaml.SafeLoader("")


# ---------------------------------------------------------------- error formatting
_BRANCH = re.compile(r"^(float|int|str|bool|(tagged-union|function-\w+|list|constrained-\w+)\[.*)$")


def _is_branch_label(part: Any) -> bool:
    """Pydantic inserts union member names into error paths; they are not recipe keys."""
    return isinstance(part, str) and bool(_BRANCH.match(part))


def _describe(exc: ValidationError, data: dict, lines: dict[Loc, int]) -> list[str]:
    problems: list[tuple[int, str]] = []
    seen: set[tuple[Loc, str]] = set()
    errors = _prune_union_noise([dict(e) for e in exc.errors(include_url=False)], data)
    suggested = _suggested_missing(errors, data)
    for err in errors:
        loc = _data_loc(err["loc"], data)
        if err["type"] == "missing" and loc in suggested:
            continue  # reported with the misspelt key that meant it
        message = _message(err, loc)
        if err["type"] == "union_tag_invalid":
            loc = (*loc, "type")
        if err["type"] == "value_error" and (located := _FIELD_MESSAGE.match(message)):
            loc = loc + tuple(int(p) if p.isdigit() else p for p in located[1].split("."))
            message = located[2]
        key = (loc, message)
        if key in seen:
            continue
        seen.add(key)
        field = ".".join(str(p) for p in loc) or "(top level)"
        problems.append((_line(loc, lines), f"line {_line(loc, lines)}: {field}: {message}"))
    return [p for _, p in sorted(problems, key=lambda lp: lp[0])]


_FIELD_MESSAGE = re.compile(r"^([A-Za-z_][\w.]*): (.+)$", re.S)
"""Validators name the field they judge as 'path.to.field: message', relative to the model."""


def _suggested_missing(errors: list[dict], data: Any) -> set[Loc]:
    """Missing fields that an unknown key's 'did you mean' points at."""
    out = set()
    for err in errors:
        if err["type"] == "extra_forbidden":
            loc = _data_loc(err["loc"], data)
            hint = did_you_mean(str(loc[-1]), _allowed_keys(loc[:-1]))
            if hint:
                out.add((*loc[:-1], hint.split("'")[1]))
    return out


def _data_loc(loc: Loc, data: Any) -> Loc:
    """Drop the union-member and tag labels pydantic adds, keeping only real recipe keys."""
    out: list[Any] = []
    node = data
    for part in loc:
        if (isinstance(node, dict) and part in node) or (
                isinstance(node, list) and isinstance(part, int) and part < len(node)):
            out.append(part)
            node = node[part]
        elif isinstance(node, dict) and not _is_branch_label(part) and not _is_tag(node, part):
            out.append(part)  # a key that is missing or unexpected
            node = None
    return tuple(out)


def _is_tag(node: dict, part: Any) -> bool:
    return node.get("type") == part


def _prune_union_noise(errors: list[dict], data: Any) -> list[dict]:
    """For 'number or distribution' fields keep only the errors of the branch the user wrote."""
    kept = []
    for err in errors:
        loc = err["loc"]
        if "float" in loc:
            i = loc.index("float")
            value = _value_at(_data_loc(loc[:i], data), data)
            if isinstance(value, dict):
                continue  # they wrote a distribution; the 'plain number' branch is noise
        if any(isinstance(p, str) and p.startswith("tagged-union") for p in loc):
            i = next(j for j, p in enumerate(loc) if isinstance(p, str) and p.startswith("tagged-union"))
            value = _value_at(_data_loc(loc[:i], data), data)
            if not isinstance(value, dict) and err["type"] in ("model_attributes_type", "dict_type",
                                                               "model_type"):
                continue  # they wrote a scalar; the float branch explains it
        kept.append(err)
    return kept


def _value_at(loc: Loc, data: Any) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _line(loc: Loc, lines: dict[Loc, int]) -> int:
    while loc not in lines and loc:
        loc = loc[:-1]
    return lines.get(loc, 1)


def _message(err: dict, loc: Loc) -> str:
    kind, msg = err["type"], err["msg"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        hint = did_you_mean(str(loc[-1]), allowed)
        return f"unknown key{hint}; allowed: {', '.join(allowed)}"
    if kind == "missing":
        return "required field is missing"
    if kind in ("union_tag_invalid", "literal_error"):
        ctx = err.get("ctx", {})
        expected = str(ctx.get("expected_tags", ctx.get("expected", "")))
        given = ctx.get("tag", err.get("input"))
        choices = [c.strip().strip("'") for c in expected.replace(" or ", ",").split(",") if c.strip()]
        return f"'{given}' is not allowed{did_you_mean(str(given), choices)}; allowed: {expected}"
    if kind == "union_tag_not_found":
        return f"needs a 'type' key; allowed: {err.get('ctx', {}).get('discriminator', 'type')}"
    if kind == "string_pattern_mismatch":
        return f"{err['input']!r} must be lowercase letters, digits and '_', starting with a letter"
    if kind == "float_type":
        return f"expected a number or a distribution like {{type: uniform, low: 0, high: 1}}, got {err['input']!r}"
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    return f"{msg} (got {err['input']!r})" if not isinstance(err.get("input"), dict) else msg


def _allowed_keys(loc: Loc) -> list[str]:
    """The keys a recipe may hold at `loc`, by walking the schema alongside the path."""
    model: Any = Recipe
    node_types: list[Any] = [model]
    for part in loc:
        next_types = []
        for tp in node_types:
            for candidate in _unwrap(tp):
                if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                    if part in candidate.model_fields:
                        next_types.append(candidate.model_fields[part].annotation)
                elif isinstance(part, int) and typing.get_origin(candidate) is list:
                    next_types.extend(typing.get_args(candidate))
        node_types = next_types
    keys: list[str] = []
    for tp in node_types:
        for candidate in _unwrap(tp):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                keys.extend(k for k in candidate.model_fields if k not in keys)
    return keys


def _unwrap(tp: Any) -> list[Any]:
    """Flatten Annotated / Union / Optional into their member types."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        return [m for a in typing.get_args(tp) for m in _unwrap(a)]
    return [tp]
