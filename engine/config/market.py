"""Market files -> the allocation core's :class:`MarketProfile` (the only reader of markets).

    name: LN LSE
    currency: GBP
    reference_price: 25.0            # per share
    order_notional: {min: 10000, max: 50000000}
    regime_switch_venues: [V1, V11]  # optional: the pair `dark-agg study --regime-switch` swaps
    source: "where the numbers come from"
    venues:
      - {name: V1, fill_probability: 0.3, tail_exponent: 1.3, min_size: 100, max_size: 50000,
         lot_size: 1, min_order_size: 1}

The file's model lives here, at the edge: the core's profiles are plain dataclasses that know
nothing of files or pydantic (they re-check their own invariants when built in code).
"""

from __future__ import annotations

import functools
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import Field, PlainValidator, ValidationInfo, model_validator
from pydantic.json_schema import WithJsonSchema

from engine.allocation.profiles import MarketProfile, ProfileError, Toxicity, VenueProfile, profile_fields
from engine.config.fields import (Positive, Probability, Quantity, Text, config_dataclass, expected, problems,
                                  resolve_path, duplicates)
from engine.config.loading import ConfigError, Document, load_file, validate


@config_dataclass
class ToxicityConfig:
    """Informed flow at a venue (the core's :class:`~engine.allocation.profiles.Toxicity`)."""

    probability: Annotated[Probability, Field(description="chance that a fill there met an informed contra")]
    move_bps: Annotated[float, Field(ge=0, description="how far the primary midpoint then moves against us, in bps")]
    horizon_seconds: Annotated[Positive, Field(description="over how long that move happens (linearly)")]


@config_dataclass
class MarketVenue:
    """A venue's hidden liquidity (zero bin + truncated power law) and its order rules."""

    # The core's VenueProfile has these fields too; this declaration adds what a file needs (bounds
    # that every problem is reported against, descriptions for editors) without the core importing pydantic.
    name: Text
    fill_probability: Annotated[Probability, Field(gt=0, description=(
        "chance that any hidden liquidity is there at all (the zero bin's complement), in (0, 1]"))]
    tail_exponent: Annotated[Positive, Field(description="exponent of the power-law tail of the hidden size")]
    min_size: Annotated[Quantity, Field(description="smallest hidden size when there is any, in shares")]
    max_size: Annotated[Quantity, Field(description="largest hidden size (the tail's truncation), in shares")]
    lot_size: Quantity = 1
    min_order_size: Quantity = 1
    max_order_size: Quantity | None = None
    toxicity: ToxicityConfig | None = None
    """informed flow: the sim moves the primary midpoint against fills there (none: no adverse selection)"""

    @model_validator(mode="after")
    def _sizes_in_order(self) -> "MarketVenue":
        found = []
        if self.max_size <= self.min_size:
            found.append((("max_size",), self.max_size, f"a whole number of shares > min_size ({self.min_size})"))
        if self.max_order_size is not None and self.max_order_size < self.min_order_size:
            found.append((("max_order_size",), self.max_order_size,
                          f"a whole number of shares >= min_order_size ({self.min_order_size})"))
        problems(found)
        return self


@config_dataclass
class NotionalRange:
    min: Positive
    max: Positive


@config_dataclass
class MarketFile:
    name: Text
    reference_price: Positive
    """price per share, in the market's currency"""
    order_notional: NotionalRange
    """the range of parent notionals the allocation grid covers"""
    venues: Annotated[tuple[MarketVenue, ...], Field(min_length=1)]
    currency: Text = "USD"
    regime_switch_venues: tuple[Text, Text] | None = None
    """the pair of venues `dark-agg study --regime-switch` swaps halfway"""
    source: str = ""
    """where the numbers come from"""

    @model_validator(mode="after")
    def _consistent(self) -> "MarketFile":
        names = [venue.name for venue in self.venues]
        found = duplicates(names, lambda i: ("venues", i, "name"), "a name no other venue has")
        if self.order_notional.min >= self.order_notional.max:
            found.append((("order_notional",), asdict(self.order_notional), "min < max"))
        pair = self.regime_switch_venues
        if pair is not None and (pair[0] == pair[1] or not set(pair) <= set(names)):
            found.append((("regime_switch_venues",), list(pair), f"two different venues of this market {names}"))
        problems(found)
        try:
            self.profile  # the core's own checks, should they ever be stricter than the file's
        except ProfileError as error:
            raise expected(str(error)) from None
        return self

    @functools.cached_property
    def profile(self) -> MarketProfile:
        return MarketProfile(
            name=self.name, currency=self.currency, reference_price=self.reference_price,
            min_notional=self.order_notional.min, max_notional=self.order_notional.max,
            venues=tuple(_venue_profile(venue) for venue in self.venues),
            regime_switch_venues=self.regime_switch_venues, source=self.source.strip())


def _venue_profile(venue: MarketVenue) -> VenueProfile:
    fields = asdict(venue)
    toxicity = fields.pop("toxicity")
    return VenueProfile(**fields, toxicity=Toxicity(**toxicity) if toxicity is not None else None)


def load_market(path: str | Path) -> MarketProfile:
    return load_file(MarketFile, path, "market file").profile


def market_from_dict(document: Any, base_dir: Path | None = None) -> MarketProfile:
    return validate(MarketFile, Document(None, document), base_dir=base_dir or Path.cwd()).profile


def _market_field(value: Any, info: ValidationInfo) -> MarketProfile:
    """A ``market:`` field: a market file's path (relative to the file that names it), or in code a
    MarketProfile. A broken market file's own problems are reported after the naming file's."""
    if isinstance(value, MarketProfile):
        return value
    path = resolve_path(value, info)
    try:
        return load_market(path)
    except ConfigError as error:
        (info.context or {}).setdefault("nested_problems", []).extend(error.problems)
        raise expected("a readable, valid market file (its problems follow)") from None


MarketRef = Annotated[MarketProfile, PlainValidator(_market_field),
                      WithJsonSchema({"type": "string", "description": "path of a market file (see `dark-agg "
                                      "config schema market`), relative to this file"})]


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
        {key: asdict(value) if isinstance(value, Toxicity) else value
         for key in _VENUE_KEY_ORDER if (value := getattr(venue, key)) is not None}
        for venue in market.venues
    ]
    return document


def dump_market(market: MarketProfile, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(market_to_dict(market), sort_keys=False))


_VENUE_KEY_ORDER = [name for name in MarketVenue.__dataclass_fields__ if name in profile_fields(VenueProfile)]
