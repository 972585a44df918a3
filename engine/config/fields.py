"""The field types and rules every configuration file shares (engine, sim venues, markets).

One declaration per field: the frozen pydantic dataclass *is* the runtime object, so what a file
may say, what the code reads and what the JSON Schema tells an editor are the same thing. Numbers,
flags and strings are strict (``"100"`` for a quantity is an error, never a silent conversion);
lists become tuples. Relative paths resolve against the config file's directory (the validation
context's ``base_dir``), never the working directory.

Checks that relate several fields raise :func:`problems` with locations relative to the object
checked, so every message still names its key: ``venues[3].max_order_size = 5, expected ...``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Any, Callable, Iterable, Literal

import pydantic.dataclasses
from pydantic import BeforeValidator, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationInfo
from pydantic_core import PydanticCustomError

FILE_RULES = ConfigDict(extra="forbid", use_attribute_docstrings=True)

# A frozen, keyword-only pydantic dataclass that rejects unknown keys: every config section is one.
config_dataclass = functools.partial(pydantic.dataclasses.dataclass, frozen=True, kw_only=True, config=FILE_RULES)

COMP_ID_PATTERN = r"^[^\s|]+$"
TIME_OF_DAY_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$"
# what a pattern means, for messages (pydantic would print the regular expression)
PATTERN_MEANINGS = {
    COMP_ID_PATTERN: "a non-empty CompID without spaces or |",
    TIME_OF_DAY_PATTERN: "a UTC time of day as HH:MM:SS (quoted in YAML)",
}

Flag = StrictBool
Whole = StrictInt
Count = Annotated[StrictInt, Field(ge=1)]
Quantity = Annotated[StrictInt, Field(ge=1)]  # shares
Port = Annotated[StrictInt, Field(ge=1, le=65535)]
Number = Annotated[float, Field(strict=True, ge=0)]
Positive = Annotated[float, Field(strict=True, gt=0)]
Probability = Annotated[float, Field(strict=True, ge=0, le=1)]
Text = Annotated[StrictStr, Field(min_length=1, pattern=r"\S")]
CompId = Annotated[StrictStr, Field(pattern=COMP_ID_PATTERN)]
TimeOfDay = Annotated[StrictStr, Field(pattern=TIME_OF_DAY_PATTERN)]
Store = Literal["memory", "file"]


def expected(what: str) -> PydanticCustomError:
    """The error for a value that is not ``what`` (raise it from a validator)."""
    return PydanticCustomError("expected", "expected {expected}", {"expected": what})


Problem = tuple[tuple, Any, str]  # (location relative to the checked object, value, what was expected)


def problems(found: Iterable[Problem]) -> None:
    """Raise every cross-field problem at once (no-op when there is none)."""
    found = list(found)
    if found:
        raise PydanticCustomError("problems", "{count} problem(s)", {"count": len(found), "problems": found})


def duplicates(values: list, location: Callable[[int], tuple], what: str) -> list[Problem]:
    """A problem at every entry whose value an earlier entry already has."""
    first: dict[Any, int] = {}
    found = []
    for index, value in enumerate(values):
        if value in first:
            found.append((location(index), value, f"{what} ({where(location(first[value]))} has it too)"))
        first.setdefault(value, index)
    return found


def where(location: tuple) -> str:
    """``("venues", 3, "port")`` -> ``venues[3].port``."""
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def resolve_path(value: Any, info: ValidationInfo) -> Path:
    """A path as a file gives it, resolved against that file's directory."""
    if isinstance(value, Path):
        return value
    if not isinstance(value, str) or not value.strip():
        raise expected("a file path")
    path = Path(value).expanduser()
    if path.is_absolute():
        return path
    base_dir = (info.context or {}).get("base_dir") or Path.cwd()
    return (Path(base_dir) / path).resolve()


FilePath = Annotated[Path, BeforeValidator(resolve_path)]


def merge_venue_defaults(cls: type, data: Any) -> Any:
    """``venue_defaults`` merged under every ``venues`` entry (an entry's own keys win). Used as a
    before-validator by the files that have venues; code-built configs pass through untouched."""
    if not isinstance(data, dict) or "venue_defaults" not in data:
        return data
    data = dict(data)
    defaults = data.pop("venue_defaults")
    if not isinstance(defaults, dict):
        problems([(("venue_defaults",), defaults, "a mapping")])
    if isinstance(data.get("venues"), list):
        data["venues"] = [{**defaults, **entry} if isinstance(entry, dict) else entry for entry in data["venues"]]
    return data
