"""Changing the risk limits while the engine runs: one change, checked, applied to a copy.

A change names a limit (``order.max_quantity``, ``session.max_open_notional``,
``child.max_orders_per_second``, ...) and a level (hard or soft), or one of the gate's settings
(``reference_max_age_seconds``, ``duplicate_window_seconds``, ``reference_price`` of a symbol).
``scope_key`` makes it an override: a symbol for ``order.*``, a session for ``session.*``, a venue
for ``child.*``; an override that does not exist yet starts as a copy of the default group, so
changing one limit of one symbol leaves its other limits as they were. ``None`` removes the level.
Refused when it would make a soft level higher than its hard one: the change is never half made.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from engine.domain.risk import ChildLimits, Limit, OrderLimits, ReferencePrice, RiskLimits, SessionLimits

GROUPS = {"order": ("by_symbol", OrderLimits, "symbol"), "session": ("by_session", SessionLimits, "session"),
          "child": ("by_venue", ChildLimits, "venue")}
SETTINGS = ("reference_max_age_seconds", "duplicate_window_seconds", "reference_price")


class LimitChangeError(ValueError):
    """The change is refused; the message says why and what is allowed."""


@dataclass(frozen=True, slots=True)
class LimitChange:
    key: str                      # "order.max_quantity", "reference_price", ...
    value: float | None           # None: remove the level (or the setting)
    level: str = "hard"           # "hard" or "soft"
    scope_key: str | None = None  # the symbol, session or venue of an override
    at: float = 0.0               # when it was made (a reference price is as of then)

    def describe(self) -> str:
        where = f" for {self.scope_key}" if self.scope_key else ""
        level = f" {self.level}" if "." in self.key else ""
        value = ("none" if self.value is None else f"{self.value:,.0f}" if self.value.is_integer()
                 else f"{self.value:g}")
        return f"{self.key}{level}{where} = {value}"


def parse_value(text: str) -> float | None:
    """A level as an operator types it: a number >= 0, or ``none``."""
    if text.strip().lower() in ("none", "off", "null"):
        return None
    try:
        value = float(text.replace(",", "").replace("_", ""))
    except ValueError:
        raise LimitChangeError(f"value {text!r}: expected a number or 'none'") from None
    if not math.isfinite(value) or value < 0:
        raise LimitChangeError(f"value {text!r}: expected a finite number >= 0")
    return value


def apply_change(limits: RiskLimits, change: LimitChange) -> RiskLimits:
    """``limits`` with ``change`` made (a new object; ``limits`` is untouched)."""
    if change.key in SETTINGS:
        return _change_setting(limits, change)
    group_name, _, name = change.key.partition(".")
    if group_name not in GROUPS:
        raise LimitChangeError(f"unknown limit {change.key!r}: expected one of {sorted(limit_keys())}")
    overrides_field, group_type, scope = GROUPS[group_name]
    if name not in {f.name for f in dataclasses.fields(group_type)}:
        raise LimitChangeError(f"unknown limit {change.key!r}: expected one of {sorted(limit_keys())}")
    if change.level not in ("hard", "soft"):
        raise LimitChangeError(f"level {change.level!r}: expected hard or soft")
    overrides = dict(getattr(limits, overrides_field))
    if change.scope_key is None:
        group = getattr(limits, group_name)
    else:
        group = overrides.get(change.scope_key, getattr(limits, group_name))
    old: Limit = getattr(group, name)
    new = dataclasses.replace(old, **{change.level: change.value})
    if new.hard is not None and new.soft is not None and new.soft > new.hard:
        raise LimitChangeError(f"{change.describe()}: the soft level ({new.soft:g}) would be above the hard "
                               f"level ({new.hard:g})")
    group = dataclasses.replace(group, **{name: new})
    if change.scope_key is None:
        return dataclasses.replace(limits, **{group_name: group})
    overrides[change.scope_key] = group
    return dataclasses.replace(limits, **{overrides_field: overrides})


def scope_of(key: str) -> str | None:
    """Which override a limit key takes (symbol, session or venue; None for a setting with none)."""
    if key == "reference_price":
        return "symbol"
    group = GROUPS.get(key.partition(".")[0])
    return group[2] if group else None


def limit_keys() -> list[str]:
    return [f"{name}.{f.name}" for name, (_, group, _) in GROUPS.items() for f in dataclasses.fields(group)] + list(SETTINGS)


def _change_setting(limits: RiskLimits, change: LimitChange) -> RiskLimits:
    if change.key == "reference_price":
        if change.scope_key is None or change.value is None or change.value <= 0:
            raise LimitChangeError("reference_price needs a symbol (--symbol) and a price > 0")
        return dataclasses.replace(limits, references={**limits.references,
                                                       change.scope_key: ReferencePrice(change.value, change.at)})
    if change.scope_key is not None:
        raise LimitChangeError(f"{change.key} applies to the whole engine: it takes no symbol, session or venue")
    if change.key == "reference_max_age_seconds" and not change.value:
        raise LimitChangeError("reference_max_age_seconds must be a number of seconds > 0")
    if change.key == "duplicate_window_seconds" and change.value == 0:
        change = dataclasses.replace(change, value=None)  # 0 s: no duplicate check
    return dataclasses.replace(limits, **{change.key: change.value})


def describe_limits(limits: RiskLimits) -> dict:
    """The limits as plain data (``dark-agg ops limits show``): each group's set levels."""
    def group(values: object) -> dict:
        return {f.name: {level: getattr(getattr(values, f.name), level) for level in ("hard", "soft")
                         if getattr(getattr(values, f.name), level) is not None}
                for f in dataclasses.fields(values) if getattr(values, f.name) != Limit()}

    return {"order": group(limits.order), "session": group(limits.session), "child": group(limits.child),
            "symbols": {key: group(value) for key, value in limits.by_symbol.items()},
            "sessions": {key: group(value) for key, value in limits.by_session.items()},
            "venues": {key: group(value) for key, value in limits.by_venue.items()},
            "reference_prices": {key: {"price": value.price, "as_of": value.as_of}
                                 for key, value in limits.references.items()},
            "reference_max_age_seconds": limits.reference_max_age_seconds,
            "duplicate_window_seconds": limits.duplicate_window_seconds,
            "restricted": sorted(limits.restricted)}
