"""Field checks shared by every YAML config reader (engine, sim venues): each failure is a
ConfigError naming the key, the value and what was expected; unknown keys are errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.config import ConfigError


def check_keys(document: dict, allowed: set[str], required: set[str], where: str) -> None:
    for key, value in document.items():
        if key not in allowed:
            raise ConfigError(f"{where}: unknown key {key!r} (value {value!r}); expected one of {sorted(allowed)}")
    missing = sorted(required - set(document))
    if missing:
        raise ConfigError(f"{where}: missing key(s) {missing}")


def expect(ok: bool, key: str, value: Any, expected: str) -> None:
    if not ok:
        raise ConfigError(f"{key} = {value!r}, expected {expected}")


def mapping(value: Any, key: str) -> dict:
    expect(isinstance(value, dict), key, value, "a mapping")
    return value


def path_field(value: Any, base_dir: Path, key: str = "path") -> Path:
    """Relative paths are resolved against the config file's directory, never the working directory."""
    expect(isinstance(value, str) and value != "", key, value, "a file path")
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base_dir / path).resolve()


def flag(value: Any, key: str) -> bool:
    expect(isinstance(value, bool), key, value, "true or false")
    return value


def number(value: Any, key: str, positive: bool = False) -> float:
    expect(not isinstance(value, bool) and isinstance(value, (int, float)) and value >= 0, key, value,
           "a number >= 0")
    expect(not positive or value > 0, key, value, "a number > 0")
    return float(value)


def whole(value: Any, key: str, minimum: int | None = None, maximum: int | None = None) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    expect(not isinstance(value, bool) and isinstance(value, int), key, value, "a whole number")
    expect(minimum is None or value >= minimum, key, value, f"a whole number >= {minimum}")
    expect(maximum is None or value <= maximum, key, value, f"a whole number <= {maximum}")
    return value


def text(value: Any, key: str) -> str:
    expect(isinstance(value, str) and value.strip() != "", key, value, "a non-empty string")
    return value


def choice(value: Any, key: str, allowed: tuple[str, ...]) -> str:
    expect(value in allowed, key, value, f"one of {', '.join(allowed)}")
    return value
