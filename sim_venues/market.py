"""The primary market every simulated dark pool pegs to: one midpoint per symbol, shared by all the
venues of a host (real midpoint pools all reference the same primary quote, so two pools never fill
the same stock at different midpoints at the same moment).

Per symbol a latent price ``L`` moves, and the published midpoint is ``L`` rounded to the tick (never
below one tick). ``L`` is kept continuous on purpose: a normal step of 2 bps * sqrt(0.1 s) is 0.6 bps,
far below a tick (4 bps at 25.00 / 0.01), so rounding at every step would never move the midpoint.
Three things move ``L``:

- the walk in time: the market's clock is cut into steps of ``step_seconds`` from its start, and at
  each step ``L *= exp(sigma * sqrt(step_seconds) * z)`` with ``z`` standard normal from the symbol's
  seeded generator, so log-returns have variance ``sigma**2`` per second. The k-th step always uses
  the k-th draw, whoever reads the market and whenever: the path is a function of market time;
- informed moves (:meth:`Market.inform`): after a fill that met an informed contra, ``L`` moves by
  ``move_bps`` of the midpoint at the fill against the side we traded, linearly over the horizon:
  at each step it gains the share of the horizon elapsed since the previous step, so the whole move
  is in after ``horizon_seconds`` (exactly, when the walk is still);
- order steps (``walk_step_probability``): before each order any venue prices, +/- one tick with
  that probability, from a generator of its own (reproducible given the host's order flow).

Threads: QuickFIX threads price orders and the scheduler thread publishes market data, so every
public method of :class:`Market` takes its one lock. Nothing under it calls out (no QuickFIX, no I/O):
a few microseconds of arithmetic, and reads catch the market up to the clock lazily, so a fill sees
the right midpoint whether or not the timer has run.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from sim_venues.host_config import HostConfig
from sim_venues.liquidity import venue_rng
from sim_venues.matching import Side

_BLOCK = 1024  # draws per generator call


@dataclass(slots=True)
class _Move:
    start: float  # clock time of the fill
    horizon: float
    delta: float  # price change in full
    applied: float = 0.0  # share of delta already in L


class SymbolMarket:
    """One symbol's midpoint. Not locked: :class:`Market` owns the lock."""

    def __init__(self, reference_price: float, tick: float, rng: np.random.Generator, *,
                 volatility_bps: float = 0.0, step_seconds: float = 0.1, start: float = 0.0,
                 order_step_probability: float = 0.0, order_rng: np.random.Generator | None = None) -> None:
        if order_step_probability > 0.0 and order_rng is None:
            raise ValueError("order steps need a generator of their own (order_rng)")
        self.tick = tick
        self._latent = max(1, round(reference_price / tick)) * tick
        self._sigma = volatility_bps / 1e4 * math.sqrt(step_seconds)  # per step, of the log
        self._step_seconds = step_seconds
        self._start = start
        self.step = 0  # the last step applied
        self._rng = rng
        self._normals: list[float] = []
        self._next_normal = 0
        self._moves: list[_Move] = []
        self._order_p = order_step_probability
        self._order_rng = order_rng
        self._order_steps: list[int] = []
        self._next_order_step = 0
        # Digits enough to print the tick exactly (0.005 -> 3), so prices never show 25.010000000001.
        self.digits = max(0, -int(np.floor(np.log10(tick))) + 2)
        self.ticks = self._rounded()

    @property
    def midpoint(self) -> float:
        return round(self.ticks * self.tick, self.digits)

    @property
    def latent(self) -> float:
        return self._latent

    def advance(self, now: float) -> None:
        """Apply every step due by ``now`` (market time never goes back)."""
        target = int((now - self._start) // self._step_seconds)
        if target <= self.step:
            return
        if self._sigma == 0.0 and not self._moves:
            self.step = target  # nothing moves: skip the steps (no draw matters when sigma is 0)
            return
        for k in range(self.step + 1, target + 1):
            if self._sigma:
                self._latent *= math.exp(self._sigma * self._normal())
            if self._moves:
                self._apply_moves(self._start + k * self._step_seconds)
        self._latent = max(self._latent, self.tick)
        self.step = target
        self.ticks = self._rounded()

    def order_step(self) -> None:
        if self._order_p <= 0.0:
            return
        if self._next_order_step == len(self._order_steps):
            moves = self._order_rng.random(_BLOCK) < self._order_p
            directions = np.where(self._order_rng.random(_BLOCK) < 0.5, -1, 1)
            self._order_steps = [int(v) for v in np.where(moves, directions, 0)]
            self._next_order_step = 0
        step = self._order_steps[self._next_order_step]
        self._next_order_step += 1
        if step:
            self._latent = max(self.tick, self._latent + step * self.tick)
            self.ticks = self._rounded()

    def inform(self, now: float, delta: float, horizon: float) -> None:
        self._moves.append(_Move(now, horizon, delta))

    def _apply_moves(self, at: float) -> None:
        remaining = []
        for move in self._moves:
            if at <= move.start:
                remaining.append(move)
                continue
            share = min(1.0, (at - move.start) / move.horizon)
            self._latent += move.delta * (share - move.applied)
            move.applied = share
            if share < 1.0:
                remaining.append(move)
        self._moves = remaining

    def _normal(self) -> float:
        if self._next_normal == len(self._normals):
            self._normals = self._rng.standard_normal(_BLOCK).tolist()
            self._next_normal = 0
        value = self._normals[self._next_normal]
        self._next_normal += 1
        return value

    def _rounded(self) -> int:
        return max(1, round(self._latent / self.tick))


class Market:
    """Every symbol's :class:`SymbolMarket` behind one lock, on one clock."""

    def __init__(self, symbols: dict[str, SymbolMarket], clock: Callable[[], float] = time.monotonic, *,
                 start: float = 0.0, step_seconds: float = 0.1) -> None:
        self._symbols = symbols
        self._clock = clock
        self._lock = threading.Lock()
        self.start = start  # the clock time of step 0, and the steps' length (the symbols' own)
        self.step_seconds = step_seconds

    def next_step_time(self, now: float) -> float:
        """When the first market step after ``now`` falls due."""
        return self.start + (math.floor((now - self.start) / self.step_seconds) + 1) * self.step_seconds

    def __contains__(self, symbol: object) -> bool:
        return symbol in self._symbols

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self._symbols)

    def tick(self, symbol: str) -> float:
        return self._symbols[symbol].tick

    def digits(self, symbol: str) -> int:
        return self._symbols[symbol].digits

    def quote(self, symbol: str) -> tuple[float, int]:
        """(midpoint, market step) now."""
        market = self._symbols[symbol]
        with self._lock:
            market.advance(self._clock())
            return market.midpoint, market.step

    def price_order(self, symbol: str) -> tuple[float, int]:
        """(midpoint, market step) an order arriving now trades at, after its order step."""
        market = self._symbols[symbol]
        with self._lock:
            market.advance(self._clock())
            market.order_step()
            return market.midpoint, market.step

    def inform(self, symbol: str, side: str, midpoint: float, move_bps: float, horizon_seconds: float) -> None:
        """An informed contra just traded with our ``side`` at ``midpoint``: the price moves against us
        (down after we buy, up after we sell) by ``move_bps`` of that midpoint over the horizon."""
        direction = -1.0 if side == Side.BUY else 1.0
        market = self._symbols[symbol]
        with self._lock:
            now = self._clock()
            market.advance(now)
            market.inform(now, direction * midpoint * move_bps / 1e4, horizon_seconds)

    def midpoints(self) -> dict[str, float]:
        """Every symbol's midpoint now (what market data publishes)."""
        with self._lock:
            now = self._clock()
            for market in self._symbols.values():
                market.advance(now)
            return {symbol: market.midpoint for symbol, market in self._symbols.items()}


def build_market(config: HostConfig, clock: Callable[[], float] = time.monotonic) -> Market:
    """The host's market: each symbol's generators seeded from (seed, symbol) alone, so no venue's
    traffic and no other symbol perturbs its walk."""
    start = clock()
    symbols = {}
    for symbol, spec in config.symbols.items():
        symbols[symbol] = SymbolMarket(
            config.reference_price(symbol), spec.tick, venue_rng(config.seed, "", symbol, "market_walk"),
            volatility_bps=spec.volatility_bps_per_sqrt_second, step_seconds=config.market_step_seconds,
            start=start, order_step_probability=spec.walk_step_probability,
            order_rng=venue_rng(config.seed, "", symbol, "market_order_steps"))
    return Market(symbols, clock, start=start, step_seconds=config.market_step_seconds)
