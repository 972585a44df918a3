"""What one venue prices one symbol with: the host's shared market (:mod:`sim_venues.market`) and,
when the venue's profile has ``toxicity``, its own informed flow.

A venue never owns a midpoint: every venue of a host reads the same :class:`~sim_venues.market.Market`,
so fills at two pools at the same moment are at the same price. What stays per venue is whether
the contra of each of its fills was informed: one Bernoulli(``toxicity.probability``) draw per fill
from a generator seeded by (seed, venue, symbol), so given the venue's fills in that symbol the
answers repeat, and traffic elsewhere never changes them. An informed fill moves the shared
midpoint against our side (:meth:`Market.inform`); every venue then trades at the moved price.
"""

from __future__ import annotations

import numpy as np

from engine.allocation.profiles import Toxicity
from sim_venues.market import Market

_BLOCK = 1024


class InformedFlow:
    def __init__(self, toxicity: Toxicity, rng: np.random.Generator) -> None:
        self.toxicity = toxicity
        self._rng = rng
        self._draws: list[bool] = []
        self._next = 0

    def draw(self) -> bool:
        """Whether the next fill met an informed contra."""
        if self._next == len(self._draws):
            self._draws = (self._rng.random(_BLOCK) < self.toxicity.probability).tolist()
            self._next = 0
        value = self._draws[self._next]
        self._next += 1
        return value


class VenuePrice:
    """The price source :class:`~sim_venues.venue.Venue` uses for one symbol."""

    __slots__ = ("_market", "_symbol", "_informed", "tick")

    def __init__(self, market: Market, symbol: str, informed: InformedFlow | None = None) -> None:
        self._market = market
        self._symbol = symbol
        self._informed = informed
        self.tick = market.tick(symbol)

    def price_order(self) -> tuple[float, int]:
        """(midpoint, market step) the arriving order trades at."""
        return self._market.price_order(self._symbol)

    def filled(self, side: str, midpoint: float) -> bool:
        """Called once per fill: True when its contra was informed (the market then moves)."""
        if self._informed is None or not self._informed.draw():
            return False
        toxicity = self._informed.toxicity
        self._market.inform(self._symbol, side, midpoint, toxicity.move_bps, toxicity.horizon_seconds)
        return True
