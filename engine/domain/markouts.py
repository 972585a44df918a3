"""Markouts: how the primary midpoint moved after each of our fills, per venue and horizon.

A fill's markout at horizon h is the signed midpoint move from the fill to h seconds later, in basis
points of the midpoint at the fill, **positive when the move was in our favour**: after a buy the
midpoint rose (we bought below where it went), after a sell it fell. An informed contra side shows
as a negative markout, the adverse selection desks measure pools by.

    book = MarkoutBook(horizons=(1.0, 10.0, 60.0))
    book.fill(Fill("C1", "V2", Side.BUY, "VOD.L", 500, midpoint=25.00, at=t0))
    done = book.midpoint("VOD.L", 24.99, at=t0 + 1.2)   # [Markout(C1, V2, 1.0, -4.0 bps, ...)]

Pure: the caller passes the times. A feed says when the midpoint *changes*, so the midpoint in
force at a fill's horizon is the last one stamped at or before it: a markout is settled when a
change stamped after its due time arrives (with the midpoint before that change), or at
:meth:`MarkoutBook.settle_until` when the caller knows the feed is live and nothing changed. A fill's
own midpoint counts as the latest known for its symbol only while none is known (a feed's update
stamped before the fill but handled after it must not be taken for an old one).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from typing import Iterable

from engine.domain.orders import Side

DEFAULT_HORIZONS = (1.0, 10.0, 60.0)
BPS = 10_000.0


def markout_bps(side: Side, midpoint_at_fill: float, midpoint_later: float) -> float:
    """The signed move in bps of the fill's midpoint, positive when it favours our side."""
    if midpoint_at_fill <= 0 or midpoint_later <= 0:
        raise ValueError(f"midpoints must be positive, not {midpoint_at_fill} and {midpoint_later}")
    move = (midpoint_later - midpoint_at_fill) / midpoint_at_fill * BPS
    return move if side is Side.BUY else -move


@dataclass(frozen=True, slots=True)
class Fill:
    fill_id: str
    venue: str
    side: Side
    symbol: str
    quantity: float
    midpoint: float
    """the primary midpoint in force when the fill happened"""
    at: float


@dataclass(frozen=True, slots=True)
class Markout:
    fill_id: str
    venue: str
    horizon_seconds: float
    bps: float
    quantity: float
    symbol: str


@dataclass(frozen=True, slots=True)
class _Pending:
    fill: Fill
    horizon: float


class MarkoutBook:
    """Fills waiting for their markouts, and the latest midpoint per symbol."""

    def __init__(self, horizons: Iterable[float] = DEFAULT_HORIZONS) -> None:
        self.horizons = tuple(sorted(float(h) for h in horizons))
        if not self.horizons or self.horizons[0] <= 0:
            raise ValueError(f"horizons must be positive seconds, not {self.horizons}")
        # per symbol, a heap of (due time, arrival number, markout to take)
        self._pending: dict[str, list[tuple[float, int, _Pending]]] = {}
        self._latest: dict[str, tuple[float, float]] = {}  # symbol -> (midpoint, at)
        self._sequence = 0

    def fill(self, fill: Fill, horizons: Iterable[float] | None = None) -> None:
        """Remember a fill: one markout per horizon (all, or those given: a restart re-arms the ones
        still to come) becomes due at ``fill.at + horizon``."""
        if fill.midpoint <= 0:
            raise ValueError(f"fill {fill.fill_id}: a midpoint > 0 is needed for its markouts, not {fill.midpoint}")
        if fill.symbol not in self._latest:  # only when none is known: a feed update stamped just
            self._latest[fill.symbol] = (fill.midpoint, fill.at)  # before the fill may still be on its way
        queue = self._pending.setdefault(fill.symbol, [])
        for horizon in self.horizons if horizons is None else sorted(float(h) for h in horizons):
            self._sequence += 1
            heapq.heappush(queue, (fill.at + horizon, self._sequence, _Pending(fill, horizon)))

    def midpoint(self, symbol: str, midpoint: float, at: float) -> list[Markout]:
        """The midpoint changed at ``at``: every markout due before then is settled with the one in
        force until then, those due exactly at ``at`` with this one. An update older than the
        latest known (a late feed message) changes nothing."""
        latest = self._latest.get(symbol)
        if latest is not None and at < latest[1]:
            return []
        done = self._settle(symbol, at, inclusive=False)
        self._latest[symbol] = (midpoint, at)
        return done + self._settle(symbol, at, inclusive=True)

    def latest(self, symbol: str) -> tuple[float, float] | None:
        """(midpoint, since when) of the newest midpoint known for ``symbol``."""
        return self._latest.get(symbol)

    def settle_until(self, symbol: str, now: float) -> list[Markout]:
        """Settle what is due by ``now`` with the latest midpoint, when the caller knows it is still
        in force (the feed is live and sent no change)."""
        return self._settle(symbol, now, inclusive=True)

    def discard_until(self, symbol: str, until: float) -> list[Markout]:
        """Give up the markouts due before ``until``: the midpoint in force then is not known (the
        feed was down). Returned with ``bps`` NaN, so the caller can count them."""
        queue = self._pending.get(symbol) or []
        dropped = []
        while queue and queue[0][0] < until:
            _, _, pending = heapq.heappop(queue)
            fill = pending.fill
            dropped.append(Markout(fill.fill_id, fill.venue, pending.horizon, math.nan, fill.quantity, fill.symbol))
        return dropped

    def pending(self, symbol: str | None = None) -> int:
        if symbol is not None:
            return len(self._pending.get(symbol, []))
        return sum(len(queue) for queue in self._pending.values())

    def _settle(self, symbol: str, until: float, *, inclusive: bool) -> list[Markout]:
        queue, latest = self._pending.get(symbol), self._latest.get(symbol)
        if not queue or latest is None:
            return []
        done = []
        while queue and (queue[0][0] <= until if inclusive else queue[0][0] < until):
            _, _, pending = heapq.heappop(queue)
            fill = pending.fill
            done.append(Markout(fill.fill_id, fill.venue, pending.horizon,
                                markout_bps(fill.side, fill.midpoint, latest[0]), fill.quantity, fill.symbol))
        return done
