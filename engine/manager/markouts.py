"""Markouts of the engine's own fills: stamped with the primary's midpoint, settled as the feed
moves, journaled, counted per venue, and taught to the net-value objective.

Every fill booked while the market-data feed is live for its symbol is stamped with the feed's
newest midpoint (the ``midpoint`` column of the journal's fills) and waits in a
:class:`~engine.domain.markouts.MarkoutBook` for its horizons (``market_data.
markout_horizons_seconds``). A markout is settled by the first midpoint change after it fell due,
or by the housekeeping tick while the feed is live and quiet; it then goes to the journal's
``markouts`` table (`dark-agg report` reads it), to the metrics per venue and horizon, and, at
``weights.markout_horizon_seconds``, to the weights' net-value estimate: one row per sweep (the
fills of one sweep share the midpoint's move, :mod:`engine.allocation.attribution`), handed over
once every fill of the sweep has its markout (a sweep with a markout given up teaches nothing, nor do
the fills a restart re-arms).

Markouts never stop an order: they are analysis and learning, journaled with the periodic commit
rather than written ahead. When the feed drops for a symbol, the markouts falling due while it
is down cannot be known and are given up (counted); a fill without a live midpoint has none. A
restart re-arms the markouts of the journal's recent fills that are still to come
(:meth:`Markouts.restore`); those that fell due while the engine was down are lost, and counted.
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Iterable

import structlog

from engine.allocation.attribution import sweep_rows
from engine.domain.ids import sweep_key
from engine.domain.markouts import Fill, Markout, MarkoutBook
from engine.domain.orders import Side
from engine.journal import Journal, fills_awaiting_markouts
from engine.manager.ports import Metrics, NoMetrics
from engine.manager.weights import WeightBook

log = structlog.get_logger("engine.markouts")
LEARN_PERIOD_SECONDS = 0.5


class Markouts:
    def __init__(self, venues: Iterable[str], horizons: Iterable[float], learn_horizon: float | None,
                 journal: Journal, weights: WeightBook, metrics: Metrics | None = None) -> None:
        self.book = MarkoutBook(horizons)
        self.venue_index = {venue: index for index, venue in enumerate(venues)}
        self.learn_horizon = None if learn_horizon is None else float(learn_horizon)
        self.journal = journal
        self.weights = weights
        self.metrics = metrics or NoMetrics()
        self.live: set[str] = set()  # symbols whose feed midpoint is current
        self.counters: Counter[str] = Counter()  # settled, given up, fills without a midpoint
        # per (venue, horizon): shares and sum of bps x shares, for the share-weighted mean
        self._shares: dict[tuple[str, float], float] = {}
        self._weighted: dict[tuple[str, float], float] = {}
        # the learning horizon's markouts gathered per sweep: sweep -> fills still to settle, and
        # the settled ones
        self._sweep_of: dict[tuple[str, str], str] = {}
        self._waiting: Counter[str] = Counter()
        self._gathered: dict[str, list[Markout]] = {}
        self._spoiled: set[str] = set()  # sweeps with a markout given up: their row would be wrong
        self._ready: list[list[Markout]] = []  # complete sweeps, taught at the next learning tick
        self._learned_at = -math.inf

    # -- what the manager tells it ---------------------------------------------------------------

    def on_fill(self, venue: str, exec_id: str, child_id: str, side: Side, symbol: str, shares: int,
                now: float) -> float | None:
        """A fill was booked: the midpoint it is stamped with (None: the feed is not live for its
        symbol, and the fill has no markouts). Called on the fill's path, before the fill is
        journaled: it never raises (a markout is analysis, the fill is not)."""
        latest = self.book.latest(symbol) if symbol in self.live else None
        if latest is None:
            self.counters["fills without a midpoint"] += 1
            return None
        midpoint = latest[0]
        try:
            self._arm(Fill(exec_id, venue, side, symbol, shares, midpoint, now), child_id, self.book.horizons,
                      learn=True)
        except Exception:  # noqa: BLE001 - whatever went wrong here, the fill goes on to the journal
            log.exception("fill not armed for markouts", venue=venue, exec_id=exec_id)
            self.counters["fills without a midpoint"] += 1
            return None
        return midpoint

    def _arm(self, fill: Fill, child_id: str, horizons: Iterable[float], learn: bool) -> None:
        horizons = list(horizons)
        self.book.fill(fill, horizons)
        if learn and self.learn_horizon is not None and any(math.isclose(h, self.learn_horizon) for h in horizons):
            sweep = sweep_key(child_id)
            self._sweep_of[(fill.venue, fill.fill_id)] = sweep
            self._waiting[sweep] += 1

    def on_midpoint(self, symbol: str, midpoint: float, at: float) -> None:
        if symbol not in self.live:  # the feed is back: what fell due while it was down is unknown
            self._given_up(self.book.discard_until(symbol, at))
            self.live.add(symbol)
        self._settled(self.book.midpoint(symbol, midpoint, at), at)

    def on_stale(self, symbol: str, now: float) -> None:
        """The feed stopped for ``symbol``: what is due by now settles with the last midpoint, the
        rest waits for the feed to come back (and is given up if it fell due meanwhile)."""
        if symbol in self.live:
            self._settled(self.book.settle_until(symbol, now), now)
            self.live.discard(symbol)

    def settle(self, now: float) -> None:
        """The housekeeping tick: the feed is live and sent no change, so its midpoint still holds.
        Complete sweeps are taught to the weights here, at most every ``LEARN_PERIOD_SECONDS``:
        every policy re-derives its rows from new net values, and a feed of 30 symbols settles
        markouts hundreds of times a second (taught one by one, the aware engine swept 12 to
        14% less often than the fill-only one in the demo)."""
        for symbol in list(self.live):
            self._settled(self.book.settle_until(symbol, now), now)
        if self._ready and now - self._learned_at >= LEARN_PERIOD_SECONDS:
            ready, self._ready = self._ready, []
            self._learned_at = now
            self._learn(ready)

    def restore(self, path: Path, now: float) -> int:
        """Re-arm the markouts of the journal's fills still to come; returns how many were re-armed.
        Never raises: the engine starts without them rather than not at all."""
        try:
            return self._restore(path, now)
        except Exception:  # noqa: BLE001
            log.exception("markouts of the last run not re-armed")
            return 0

    def _restore(self, path: Path, now: float) -> int:
        if not path.exists():
            return 0
        longest = max(self.book.horizons)
        armed = lost = 0
        for row in fills_awaiting_markouts(path, since=now - longest):
            done = set(row["horizons_done"])
            missing = [h for h in self.book.horizons if h not in done]
            to_come = [h for h in missing if row["at"] + h > now]
            lost += len(missing) - len(to_come)
            if to_come:
                # journaled and counted, but they teach nothing: the run before may have learned
                # some of their sweep already, and a sweep's row needs all of its fills
                self._arm(Fill(row["exec_id"], row["venue"], Side(row["side"]), row["symbol"], row["quantity"],
                               row["midpoint"], row["at"]), row["child_id"], to_come, learn=False)
                armed += len(to_come)
        self.counters["markouts given up"] += lost
        if armed or lost:
            log.info("markouts re-armed after a restart", re_armed=armed, lost_while_down=lost)
        return armed

    # -- what it reads out -----------------------------------------------------------------------

    def mean_bps(self, venue: str, horizon: float) -> float | None:
        """The share-weighted mean markout of the venue's fills at ``horizon`` since start."""
        shares = self._shares.get((venue, float(horizon)), 0.0)
        return self._weighted[(venue, float(horizon))] / shares if shares > 0 else None

    def _given_up(self, markouts: list[Markout]) -> None:
        if markouts:
            self.counters["markouts given up"] += len(markouts)
            log.info("markouts given up: the feed was down when they fell due", markouts=len(markouts))
            self._gather([m for m in markouts if self._learns(m)])

    def _settled(self, markouts: list[Markout], now: float) -> None:
        if not markouts:
            return
        learned = []
        for markout in markouts:
            self.journal.record_markout(markout.venue, markout.fill_id, markout.horizon_seconds, markout.bps, now)
            key = (markout.venue, markout.horizon_seconds)
            self._shares[key] = self._shares.get(key, 0.0) + markout.quantity
            self._weighted[key] = self._weighted.get(key, 0.0) + markout.quantity * markout.bps
            self.metrics.markout(markout.venue, markout.horizon_seconds, markout.bps, self.mean_bps(*key))
            if self._learns(markout):
                learned.append(markout)
        self.counters["markouts settled"] += len(markouts)
        self._gather(learned)

    def _learns(self, markout: Markout) -> bool:
        return self.learn_horizon is not None and math.isclose(markout.horizon_seconds, self.learn_horizon)

    def _gather(self, markouts: list[Markout]) -> None:
        """Sweeps whose every fill now has its markout (or gave it up) are ready for the weights."""
        for markout in markouts:
            sweep = self._sweep_of.pop((markout.venue, markout.fill_id), None)
            if sweep is None:
                continue
            if math.isnan(markout.bps):  # given up: the move of the venue that filled is unknown
                self._spoiled.add(sweep)
            else:
                self._gathered.setdefault(sweep, []).append(markout)
            self._waiting[sweep] -= 1
            if self._waiting[sweep] <= 0:
                del self._waiting[sweep]
                gathered = self._gathered.pop(sweep, [])
                if sweep in self._spoiled:
                    self._spoiled.discard(sweep)
                elif gathered:
                    self._ready.append(gathered)

    def _learn(self, sweeps: list[list[Markout]]) -> None:
        """Each sweep one row: its fills' shares in their venues' columns and their adverse moves,
        share-weighted when a venue filled more than once (the net-value estimate counts a move
        against us as positive)."""
        filled, adverse = sweep_rows(((row, self.venue_index[m.venue], m.quantity, -m.bps)
                                      for row, markouts in enumerate(sweeps) for m in markouts
                                      if m.venue in self.venue_index), len(self.venue_index))
        self.weights.record_markouts(filled, adverse)
        values = self.weights.net_values()
        if values is not None:
            for venue, index in self.venue_index.items():
                self.metrics.net_value(venue, float(values[index]))
