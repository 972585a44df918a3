"""Market profile YAML -> frozen, validated :class:`MarketProfile` (the only YAML reader of markets).

Unknown keys are errors, and every error names the file, the key, the value and what was expected.

    name: LN LSE
    currency: GBP
    reference_price: 25.0            # per share
    order_notional: {min: 10000, max: 50000000}
    regime_switch_venues: [V1, V11]  # optional: the pair `dark-agg study --regime-switch` swaps
    source: "where the numbers come from"
    venues:
      - {name: V1, fill_probability: 0.3, tail_exponent: 1.3, min_size: 100, max_size: 50000,
         lot_size: 1, min_order_size: 1}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from engine.allocation.profiles import MarketProfile, ProfileError, VenueProfile, profile_fields

_MARKET_KEYS = {"name", "currency", "reference_price", "order_notional", "regime_switch_venues",
                "source", "venues"}
_REQUIRED_MARKET_KEYS = {"name", "reference_price", "order_notional", "venues"}
_VENUE_KEYS = profile_fields(VenueProfile)
_REQUIRED_VENUE_KEYS = {"name", "fill_probability", "tail_exponent", "min_size", "max_size"}


class ConfigError(ValueError):
    """A configuration file is missing, unreadable or breaks its schema."""


def read_yaml_document(path: Path, what: str) -> Any:
    """The parsed YAML of ``path``; a missing or malformed file is a ConfigError naming it."""
    try:
        return yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such {what}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from None


def load_market(path: str | Path) -> MarketProfile:
    path = Path(path)
    document = read_yaml_document(path, "market file")
    try:
        return market_from_dict(document)
    except (ProfileError, ConfigError) as error:
        raise ConfigError(f"{path}: {error}") from None


def market_from_dict(document: Any) -> MarketProfile:
    if not isinstance(document, dict):
        raise ConfigError(f"expected a mapping at the top level, got {type(document).__name__}")
    _check_keys(document, _MARKET_KEYS, _REQUIRED_MARKET_KEYS, "market")
    notional = document["order_notional"]
    if not isinstance(notional, dict) or set(notional) != {"min", "max"}:
        raise ConfigError(f"order_notional = {notional!r}, expected a mapping with min and max")
    venues = document["venues"]
    if not isinstance(venues, list) or not venues:
        raise ConfigError(f"venues = {venues!r}, expected a non-empty list of venues")
    pair = document.get("regime_switch_venues")
    return MarketProfile(
        name=str(document["name"]),
        currency=str(document.get("currency", "USD")),
        reference_price=_number(document["reference_price"], "reference_price"),
        min_notional=_number(notional["min"], "order_notional.min"),
        max_notional=_number(notional["max"], "order_notional.max"),
        venues=tuple(_venue(entry, index) for index, entry in enumerate(venues)),
        regime_switch_venues=tuple(pair) if pair is not None else None,
        source=str(document.get("source", "")).strip(),
    )


def market_to_dict(market: MarketProfile) -> dict:
    """The inverse of :func:`market_from_dict` (what study.json embeds and calibrate writes)."""
    document: dict[str, Any] = {
        "name": market.name,
        "currency": market.currency,
        "reference_price": market.reference_price,
        "order_notional": {"min": market.min_notional, "max": market.max_notional},
    }
    if market.regime_switch_venues is not None:
        document["regime_switch_venues"] = list(market.regime_switch_venues)
    if market.source:
        document["source"] = market.source
    document["venues"] = [
        {key: getattr(venue, key) for key in sorted(_VENUE_KEYS, key=_venue_key_order)
         if getattr(venue, key) is not None}
        for venue in market.venues
    ]
    return document


def dump_market(market: MarketProfile, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(market_to_dict(market), sort_keys=False))


def _venue_key_order(key: str) -> int:
    order = ["name", "fill_probability", "tail_exponent", "min_size", "max_size", "lot_size",
             "min_order_size", "max_order_size"]
    return order.index(key) if key in order else len(order)


def _venue(entry: Any, index: int) -> VenueProfile:
    if not isinstance(entry, dict):
        raise ConfigError(f"venues[{index}] = {entry!r}, expected a mapping")
    _check_keys(entry, _VENUE_KEYS, _REQUIRED_VENUE_KEYS, f"venues[{index}]")
    values = dict(entry)
    for key in ("fill_probability", "tail_exponent"):
        values[key] = _number(values[key], f"venues[{index}].{key}")
    for key in ("min_size", "max_size", "lot_size", "min_order_size", "max_order_size"):
        if values.get(key) is not None:
            values[key] = _whole(values[key], f"venues[{index}].{key}")
    values["name"] = str(values["name"])
    return VenueProfile(**values)


def _check_keys(document: dict, allowed: set[str], required: set[str], where: str) -> None:
    unknown = sorted(set(document) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")
    missing = sorted(required - set(document))
    if missing:
        raise ConfigError(f"{where}: missing key(s) {missing}")


def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{key} = {value!r}, expected a number")
    return float(value)


def _whole(value: Any, key: str) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{key} = {value!r}, expected a whole number of shares")
    return value
