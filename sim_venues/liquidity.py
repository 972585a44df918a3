"""Hidden contra liquidity of a venue: where the ``hidden`` in the fill rules comes from.

Both sources draw from the allocation core's model (:mod:`engine.allocation.liquidity`), never a
copy of it, so the venues and the policies agree by construction.

- :class:`IidLiquidity` (the papers' world): a fresh draw from the venue's profile for every order.
  Draws are generated in blocks by ``sample_liquidity_kernel`` (one numba call per block instead of
  one per order) and handed out in order, so the sequence depends only on the seed and on how many
  orders the venue has seen for the symbol.
- :class:`BookLiquidity` (the world where our own trading matters): a standing hidden quantity per
  symbol and contra side, depleted by fills, refilled linearly at ``replenish_per_second`` up to
  ``capacity``. The clock is injected so tests can drive it.

Every generator is seeded from (host seed, venue name, symbol) through a SeedSequence, so the
traffic a venue gets for one symbol, or another venue gets at all, never perturbs its draws.
"""

from __future__ import annotations

import hashlib
import time
from typing import Callable, Protocol

import numpy as np

from engine.allocation.liquidity import sample_liquidity_kernel
from engine.allocation.profiles import LiquidityParams, VenueProfile
from sim_venues.host_config import BookConfig
from sim_venues.matching import Side

_BLOCK = 512  # draws per kernel call: amortises the call, small enough to start instantly


def stable_key(*parts: object) -> list[int]:
    """Entropy words for a SeedSequence from names (Python's hash() is salted per process)."""
    digest = hashlib.blake2b("\x1f".join(str(p) for p in parts).encode(), digest_size=16).digest()
    return [int.from_bytes(digest[i:i + 4], "little") for i in range(0, 16, 4)]


def venue_rng(seed: int, venue: str, symbol: str, purpose: str) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *stable_key(venue, symbol, purpose)]))


def warm_up() -> None:
    """Load the compiled sampling kernel now (about 0.2 s from numba's cache) rather than inside
    the first order a venue sees. Uses no venue's generator, so the seeded draws are unchanged."""
    one = np.full((1, 1), 0.5)
    sample_liquidity_kernel(one, one, np.ones(1), np.ones(1), np.ones(1), np.full(1, 2.0), np.empty((1, 1)))


class LiquiditySource(Protocol):
    def hidden(self, side: str) -> int:
        """Contra shares available to an order of ``side`` arriving now (consumes a draw in iid)."""

    def consume(self, side: str, quantity: int) -> None:
        """Record that an order of ``side`` just traded ``quantity``."""


class IidLiquidity:
    def __init__(self, profile: VenueProfile, rng: np.random.Generator) -> None:
        self._params = LiquidityParams.of((profile,))
        self._rng = rng
        self._block: list[int] = []
        self._next = 0

    def hidden(self, side: str) -> int:
        if self._next == len(self._block):
            self._refill()
        value = self._block[self._next]
        self._next += 1
        return value

    def consume(self, side: str, quantity: int) -> None:
        """Each order meets fresh liquidity: nothing persists."""

    def _refill(self) -> None:
        uniform_zero = self._rng.random((_BLOCK, 1))
        uniform_size = self._rng.random((_BLOCK, 1))
        out = np.empty((_BLOCK, 1), dtype=np.float64)
        sample_liquidity_kernel(uniform_zero, uniform_size, *self._params.as_tuple(), out)
        self._block = [int(v) for v in out[:, 0]]
        self._next = 0


class BookLiquidity:
    def __init__(self, book: BookConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self._capacity = float(book.capacity)
        self._rate = book.replenish_per_second
        self._clock = clock
        start = float(book.capacity if book.initial is None else book.initial)
        now = clock()
        # Keyed by the side of the *contra* interest: a buy order takes from the hidden sellers.
        self._level = {Side.BUY: start, Side.SELL: start}
        self._updated = {Side.BUY: now, Side.SELL: now}

    def hidden(self, side: str) -> int:
        return int(self._refresh(Side.CONTRA[side]))

    def consume(self, side: str, quantity: int) -> None:
        contra = Side.CONTRA[side]
        self._level[contra] = max(0.0, self._refresh(contra) - quantity)

    def level(self, contra: str) -> float:
        return self._refresh(contra)

    def _refresh(self, contra: str) -> float:
        now = self._clock()
        elapsed = max(0.0, now - self._updated[contra])
        self._updated[contra] = now
        self._level[contra] = min(self._capacity, self._level[contra] + elapsed * self._rate)
        return self._level[contra]
