"""Reading a configuration file: YAML in, one frozen config object out, or every problem at once.

A problem reads ``FILE:LINE: LOCATION = VALUE, expected WHAT``: the file, the YAML line where the
value sits, its location in the document (``venues[3].port``), the value and what was expected.
Pydantic finds the problems; this module only turns its findings into those sentences.
"""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TypeVar

import yaml
from pydantic import TypeAdapter, ValidationError

from engine.config.fields import PATTERN_MEANINGS, where

T = TypeVar("T")
Location = tuple


class ConfigError(ValueError):
    """A configuration file is missing, unreadable or breaks its schema: one line per problem."""

    def __init__(self, problems: str | list[str]) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class Document:
    """A parsed YAML file and the line of every value in it."""

    path: Path | None
    data: Any
    lines: dict[Location, int] = field(default_factory=dict)


def read_document(path: str | Path, what: str) -> Document:
    """The YAML of ``path``; a missing or malformed file is a ConfigError naming it."""
    path = Path(path)
    try:
        loader = yaml.SafeLoader(path.read_text())
        try:  # one parse: the node tree gives the lines, and the data is built from it
            node = loader.get_single_node()
            return Document(path, loader.construct_document(node) if node is not None else None, _value_lines(node))
        finally:
            loader.dispose()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: a directory, not a {what}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from None


def load_or_report(loader: Callable[[Path], T], path: str | Path, command: str) -> T | None:
    """``loader(path)``, or None after printing each of its problems on its own line to stderr
    (what a command does before exiting 2)."""
    try:
        return loader(Path(path))
    except ConfigError as error:
        for problem in error.problems:
            print(f"dark-agg {command}: {problem}", file=sys.stderr)
        return None


def load_file(kind: type[T], path: str | Path, what: str, **context: Any) -> T:
    path = Path(path)
    return validate(kind, read_document(path, what), base_dir=path.resolve().parent, **context)


def validate(kind: type[T], document: Document | Any, *, base_dir: Path, **context: Any) -> T:
    """``document`` as a ``kind``; every problem of the whole document in one ConfigError."""
    if not isinstance(document, Document):
        document = Document(None, document)
    context = {"base_dir": base_dir, "nested_problems": [], **context}
    try:
        return adapter(kind).validate_python(document.data, context=context)
    except ValidationError as error:
        found = _problems(error, document, adapter(kind).json_schema())
        raise ConfigError(_unique(found) + context["nested_problems"]) from None


@functools.cache
def adapter(kind: type) -> TypeAdapter:
    return TypeAdapter(kind)


def _problems(error: ValidationError, document: Document, schema: dict) -> list[str]:
    found: list[tuple[int, str]] = []
    details = error.errors(include_url=False)
    for detail in details:
        kind, value = detail["type"], detail["input"]
        location = tuple(part for part in detail["loc"] if part != "[key]")  # a bad mapping key: at the key
        if kind in ("too_short", "too_long") and _has_errors_within(details, location):
            continue  # pydantic counts only the valid items: the bad items are the problem
        if kind == "problems":
            for relative, bad, what in detail["ctx"]["problems"]:
                found.append(_sentence(document, location + tuple(relative), f"= {bad!r}, expected {what}"))
            continue
        location = _from_defaults(document.data, location)
        if kind in ("unexpected_keyword_argument", "extra_forbidden"):
            allowed = sorted(schema_at(schema, location[:-1]).get("properties", {}))
            found.append(_sentence(document, location, f"(value {value!r}); expected one of {allowed}",
                                   unknown=True))
        elif kind in ("missing", "missing_keyword_only_argument", "missing_argument"):
            found.append(_sentence(document, location, "", missing=True))
        else:
            found.append(_sentence(document, location, f"= {value!r}, expected {_expected(detail, schema)}"))
    return [sentence for _, sentence in sorted(found, key=lambda pair: pair[0])]


def _has_errors_within(details: list[dict], location: Location) -> bool:
    return any(len(d["loc"]) > len(location) and tuple(d["loc"][:len(location)]) == location for d in details)


def _sentence(document: Document, location: Location, rest: str, *, unknown: bool = False,
              missing: bool = False) -> tuple[int, str]:
    prefix = ""
    line = _line_of(document.lines, location) or 0
    if document.path is not None:
        prefix = f"{document.path}:{line}: " if line else f"{document.path}: "
    if unknown or missing:
        parent = where(location[:-1]) or "top level"
        verb = "unknown key" if unknown else "missing key"
        return line, f"{prefix}{parent}: {verb} {location[-1]!r}{' ' + rest if rest else ''}"
    return line, f"{prefix}{where(location) or 'top level'} {rest}"


def _expected(detail: dict, schema: dict) -> str:
    kind, context = detail["type"], detail.get("ctx") or {}
    number = "a whole number" if schema_at(schema, tuple(detail["loc"])).get("type") == "integer" else "a number"
    bounds = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}
    if kind in bounds:
        limit = next(iter(context.values()))
        limit = int(limit) if isinstance(limit, float) and limit.is_integer() else limit
        return f"{number} {bounds[kind]} {limit}"
    if kind == "string_pattern_mismatch":
        return PATTERN_MEANINGS.get(context.get("pattern"), "a non-empty string")
    phrases = {
        "expected": context.get("expected"),
        "literal_error": f"one of {context.get('expected')}",
        "int_type": "a whole number", "int_from_float": "a whole number", "int_parsing": "a whole number",
        "float_type": "a number", "float_parsing": "a number", "finite_number": "a finite number",
        "bool_type": "true or false", "bool_parsing": "true or false",
        "string_type": "a string", "string_too_short": "a non-empty string",
        "too_short": f"at least {context.get('min_length')} item(s)",
        "too_long": f"at most {context.get('max_length')} item(s)",
        "tuple_type": "a list", "list_type": "a list",
        "dict_type": "a mapping", "dataclass_type": "a mapping", "dataclass_exact_type": "a mapping",
        "path_type": "a file path",
    }
    if kind in phrases:
        return phrases[kind]
    message = detail["msg"]
    return message.removeprefix("Input should be ").removeprefix("Value error, ")


def schema_at(schema: dict, location: Location) -> dict:
    """The part of a JSON Schema that describes the value at ``location`` ({} if none does)."""
    node = _concrete(schema, schema)
    for part in location:
        if isinstance(part, int):
            items = node.get("prefixItems")
            node = items[min(part, len(items) - 1)] if items else node.get("items", {})
        elif part in node.get("properties", {}):
            node = node["properties"][part]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            return {}
        node = _concrete(schema, node)
    return node


def _concrete(root: dict, node: dict) -> dict:
    """``node`` with references followed and an optional's null alternative dropped."""
    while True:
        if "$ref" in node:
            node = root["$defs"][node["$ref"].rsplit("/", 1)[-1]]
        elif "anyOf" in node:
            node = next((option for option in node["anyOf"] if option.get("type") != "null"), {})
        else:
            return node


def _from_defaults(data: Any, location: Location) -> Location:
    """A bad value a venue took from ``venue_defaults`` is reported there, once."""
    if len(location) < 3 or location[0] != "venues" or not isinstance(data, dict):
        return location
    defaults, entries, index = data.get("venue_defaults"), data.get("venues"), location[1]
    if not (isinstance(defaults, dict) and isinstance(entries, list) and isinstance(index, int)
            and index < len(entries) and isinstance(entries[index], dict)):
        return location
    key = location[2]
    return ("venue_defaults",) + location[2:] if key in defaults and key not in entries[index] else location


def _unique(lines: list[str]) -> list[str]:
    return list(dict.fromkeys(lines))


def _line_of(lines: dict[Location, int], location: Location) -> int | None:
    for end in range(len(location), -1, -1):
        if location[:end] in lines:
            return lines[location[:end]]
    return None


def _value_lines(node: yaml.Node | None, location: Location = ()) -> dict[Location, int]:
    lines: dict[Location, int] = {}
    if node is None:
        return lines
    lines[location] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = location + (key.value,)
            lines.update(_value_lines(value, child))
            lines[child] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines.update(_value_lines(item, location + (index,)))
    return lines
