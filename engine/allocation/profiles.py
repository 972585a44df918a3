"""Market and venue liquidity profiles: plain frozen data, validated once.

A venue's hidden contra liquidity, in shares, is 0 with probability ``1 - fill_probability`` and
otherwise ``floor(X)`` with X Pareto(``min_size``, ``tail_exponent``) truncated to
``[min_size, max_size]`` (the contract of DESIGN.md). Venue rules (lot, minimum and maximum order
size) say what may be sent there. Loading from YAML lives in :mod:`engine.config`; this module has no
I/O so the allocation core stays pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import numpy as np


class ProfileError(ValueError):
    """A market or venue profile breaks the contract; the message names the key and the value."""


@dataclass(frozen=True, kw_only=True)
class Toxicity:
    """Informed flow at a venue: with ``probability`` a fill of ours there met an informed contra,
    and the primary midpoint then moves ``move_bps`` against our side, linearly over
    ``horizon_seconds``. The expected adverse move of one fill at horizon ``h`` is therefore
    ``probability * move_bps * min(1, h / horizon_seconds)``."""

    probability: float
    move_bps: float
    horizon_seconds: float

    def __post_init__(self) -> None:
        _check(0.0 <= self.probability <= 1.0, "toxicity", "probability", self.probability, "a probability in [0, 1]")
        _check(self.move_bps >= 0.0, "toxicity", "move_bps", self.move_bps, "a number of basis points >= 0")
        _check(self.horizon_seconds > 0.0, "toxicity", "horizon_seconds", self.horizon_seconds, "seconds > 0")

    def expected_move_bps(self, horizon_seconds: float) -> float:
        """The mean adverse move (bps, >= 0) of a fill here, ``horizon_seconds`` after it."""
        return self.probability * self.move_bps * min(1.0, horizon_seconds / self.horizon_seconds)


@dataclass(frozen=True, kw_only=True)
class VenueProfile:
    name: str
    fill_probability: float
    tail_exponent: float
    min_size: int
    max_size: int
    lot_size: int = 1
    min_order_size: int = 1
    max_order_size: int | None = None
    toxicity: Toxicity | None = None
    """informed flow (none: fills here carry no adverse selection)"""

    def __post_init__(self) -> None:
        where = f"venue {self.name!r}"
        _check(0.0 < self.fill_probability <= 1.0, where, "fill_probability", self.fill_probability,
               "a probability in (0, 1]")
        _check(self.tail_exponent > 0.0, where, "tail_exponent", self.tail_exponent, "a number > 0")
        _check(_is_int(self.min_size) and self.min_size >= 1, where, "min_size", self.min_size,
               "a whole number of shares >= 1")
        _check(_is_int(self.max_size) and self.max_size > self.min_size, where, "max_size",
               self.max_size, f"a whole number of shares > min_size ({self.min_size})")
        _check(_is_int(self.lot_size) and self.lot_size >= 1, where, "lot_size", self.lot_size,
               "a whole number of shares >= 1")
        _check(_is_int(self.min_order_size) and self.min_order_size >= 1, where, "min_order_size",
               self.min_order_size, "a whole number of shares >= 1")
        if self.max_order_size is not None:
            _check(_is_int(self.max_order_size) and self.max_order_size >= self.min_order_size,
                   where, "max_order_size", self.max_order_size,
                   f"a whole number of shares >= min_order_size ({self.min_order_size})")


@dataclass(frozen=True, kw_only=True)
class MarketProfile:
    name: str
    reference_price: float
    currency: str
    min_notional: float
    max_notional: float
    venues: tuple[VenueProfile, ...]
    regime_switch_venues: tuple[str, str] | None = None
    source: str = ""
    extra: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        where = f"market {self.name!r}"
        _check(self.reference_price > 0, where, "reference_price", self.reference_price, "a price > 0")
        _check(0 < self.min_notional < self.max_notional, where, "order_notional",
               (self.min_notional, self.max_notional), "0 < min < max")
        _check(len(self.venues) >= 1, where, "venues", len(self.venues), "at least one venue")
        names = [v.name for v in self.venues]
        _check(len(set(names)) == len(names), where, "venues", names, "unique venue names")
        if self.regime_switch_venues is not None:
            pair = self.regime_switch_venues
            _check(len(pair) == 2 and pair[0] != pair[1] and all(n in names for n in pair), where,
                   "regime_switch_venues", pair, "two different venue names of this market")

    @property
    def venue_names(self) -> tuple[str, ...]:
        return tuple(v.name for v in self.venues)

    def order_size_range(self) -> tuple[int, int]:
        """The study's range of order sizes in shares (the notional range at the reference price)."""
        low = max(1, int(round(self.min_notional / self.reference_price)))
        high = max(low + 1, int(round(self.max_notional / self.reference_price)))
        return low, high

    def expected_moves_bps(self, horizon_seconds: float) -> np.ndarray:
        """Per venue, the true mean adverse move (bps) of a fill at ``horizon_seconds``: the m_i the
        net-of-toxicity objective charges each filled share (0 for a venue without toxicity)."""
        return np.array([v.toxicity.expected_move_bps(horizon_seconds) if v.toxicity is not None else 0.0
                         for v in self.venues], dtype=np.float64)

    def with_venues_swapped(self, first: str, second: str) -> "MarketProfile":
        """The same market with the liquidity of two venues exchanged (rules stay with the venue)."""
        index = {v.name: i for i, v in enumerate(self.venues)}
        i, j = index[first], index[second]
        venues = list(self.venues)
        liquidity = ("fill_probability", "tail_exponent", "min_size", "max_size")
        venues[i] = replace(self.venues[i], **{k: getattr(self.venues[j], k) for k in liquidity})
        venues[j] = replace(self.venues[j], **{k: getattr(self.venues[i], k) for k in liquidity})
        return replace(self, venues=tuple(venues))


@dataclass(frozen=True)
class LiquidityParams:
    """Column arrays of a market's liquidity model, the form every kernel takes."""

    fill_probability: np.ndarray
    tail_exponent: np.ndarray
    min_size: np.ndarray
    max_size: np.ndarray

    @classmethod
    def of(cls, venues: tuple[VenueProfile, ...] | MarketProfile) -> "LiquidityParams":
        if isinstance(venues, MarketProfile):
            venues = venues.venues
        column = lambda key: np.array([float(getattr(v, key)) for v in venues], dtype=np.float64)
        return cls(column("fill_probability"), column("tail_exponent"), column("min_size"),
                   column("max_size"))

    @property
    def venue_count(self) -> int:
        return len(self.fill_probability)

    def as_tuple(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return self.fill_probability, self.tail_exponent, self.min_size, self.max_size


def profile_fields(cls: type) -> set[str]:
    return {f.name for f in fields(cls)}


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _check(ok: bool, where: str, key: str, value: object, expected: str) -> None:
    if not ok:
        raise ProfileError(f"{where}: {key} = {value!r}, expected {expected}")
