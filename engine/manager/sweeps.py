"""One sweep of a parent: allocate, send the IOC children, gather, withdraw, learn.

A sweep allocates the parent's unreserved quantity with the learned weights over the venues that
are enabled and logged on, journals one midpoint-pegged IOC child per venue with shares and hands
it to the outbox (which sends it once the journal has committed it), and waits for
every child's final report or the sweep's deadline, whichever comes first. Children still open at
the deadline are withdrawn (a cancel is sent) and marked as timed out: their quantity stays reserved
on the parent until the venue answers, and their outcome teaches the weights nothing, because a
missing report is not a censored observation of liquidity (nor is a venue's reject). The others' (sent, filled) pairs are fed
to the policy, and the hindsight certificate is computed for the log and the journal.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Callable

import numpy as np
import structlog

from engine.allocation.certificate import no_regret_possible
from engine.allocation.policies import Allocation
from engine.allocation.rules import VenueRules
from engine.domain.child import ChildOrder, ChildState, ChildTrigger
from engine.domain.controls import RejectStorm, TradingControls
from engine.domain.ids import ChildId, IdFactory, VenueName
from engine.domain.messages import CancelChild, SubmitChild
from engine.domain.parent import ParentOrder
from engine.domain.risk import RiskGate, RiskLimits
from engine.config import EngineConfig
from engine.journal import Journal, SweepRow
from engine.manager.outbox import Outbox
from engine.manager.ports import Metrics, NoMetrics, VenuePort
from engine.manager.status import VenueActivity
from engine.manager.weights import WeightBook

log = structlog.get_logger("engine.sweep")
REJECTS_BEFORE_BENCH = 5


class Skipped(Enum):
    """Why no sweep was sent."""

    NOTHING_FREE = "every remaining share is still in flight"
    NO_VENUE = "no venue is logged on and enabled"
    BELOW_MINIMUMS = "the remaining quantity is below every available venue's minimum order"
    REFUSED_BY_RISK = "every child broke a per-child risk limit"
    HALTED = "trading is halted in its scope"


@dataclass(eq=False)
class Sweep:
    parent: ParentOrder
    number: int
    allocation: Allocation
    children: dict[int, ChildOrder]  # venue index -> child
    started: float                   # perf_counter, for latency
    started_at: float                # wall clock, for the journal
    done: asyncio.Event = field(default_factory=asyncio.Event)
    open: int = 0
    completed: float | None = None
    deadline: asyncio.TimerHandle | None = None

    def child_final(self) -> None:
        self.open -= 1
        if self.open <= 0 and self.completed is None:
            self.completed = time.perf_counter()
            self.done.set()


class SweepRunner:
    def __init__(self, config: EngineConfig, venues: VenuePort, outbox: Outbox, weights: WeightBook,
                 journal: Journal, ids: IdFactory, risk: RiskGate | None = None,
                 controls: TradingControls | None = None, metrics: Metrics | None = None) -> None:
        self.config = config
        self.risk = risk or RiskGate(RiskLimits())  # every child is checked again just before it leaves
        self.controls = controls or TradingControls()  # halted scopes send nothing; disabled venues get nothing
        self.metrics = metrics or NoMetrics()
        self.reject_storm = RejectStorm(config.trips.venue_rejects, config.trips.venue_reject_window_seconds)
        self.on_venue_trip: Callable[[str, str], None] = lambda venue, reason: None  # the manager disables it
        self.activity = VenueActivity()  # each venue's recent fill rate, for `dark-agg ops status`
        self.venues = venues  # asked who is logged on; everything sent goes through the outbox
        self.outbox = outbox
        self.weights = weights
        self.journal = journal
        self.ids = ids
        self.venue_names = [VenueName(v.name) for v in config.venues]
        self.base_rules = VenueRules.of(config.venue_profiles)
        self.enabled = np.array([v.enabled for v in config.venues], dtype=np.bool_)
        self.min_qty = [v.min_qty or 0 for v in config.venues]
        self.children: dict[ChildId, ChildOrder] = {}
        self.children_of: dict[str, list[ChildId]] = {}  # parent id -> its children's ids, for forgetting
        self.sweep_of: dict[ChildId, Sweep] = {}
        self.learned_sweeps = 0
        self._snapshot_of = (-1, -1)  # (learned sweeps, markouts) at the last weight snapshot
        self.rejects_in_a_row = np.zeros(len(config.venues), dtype=np.int64)
        self.benched_until = np.zeros(len(config.venues))  # wall clock; 0 = available

    def adopt(self, child: ChildOrder) -> None:
        self.children[child.child_id] = child
        self.children_of.setdefault(child.parent_id, []).append(child.child_id)

    def forget(self, parent_id: str) -> bool:
        """Drop a finished parent's final children from memory (the journal keeps them); True when
        none of its children is left open."""
        kept = []
        for child_id in self.children_of.pop(parent_id, []):
            if self.children[child_id].is_final:
                del self.children[child_id]
            else:
                kept.append(child_id)
        if kept:
            self.children_of[parent_id] = kept
        return not kept

    def available(self, now: float) -> np.ndarray:
        logged_on = np.array([self.venues.logged_on(name) for name in self.venue_names], dtype=np.bool_)
        available = self.enabled & logged_on & (self.benched_until <= now)
        disabled = self.controls.disabled_venues
        if disabled:
            available &= np.array([name not in disabled for name in self.venue_names], dtype=np.bool_)
        return available

    def _count_reject(self, index: int, rejected: bool, now: float) -> None:
        """A venue that rejects ``REJECTS_BEFORE_BENCH`` children in a row (a rule we do not know, a
        symbol it does not trade) sits out ``bench_seconds`` instead of refusing every sweep."""
        self.rejects_in_a_row[index] = self.rejects_in_a_row[index] + 1 if rejected else 0
        venue = self.venue_names[index]
        if rejected and self.reject_storm.on_reject(venue, now):
            trips = self.config.trips
            self.on_venue_trip(venue, f"reject storm: {trips.venue_rejects} children rejected within "
                                      f"{trips.venue_reject_window_seconds:g} s")
        if self.rejects_in_a_row[index] >= REJECTS_BEFORE_BENCH:
            self.rejects_in_a_row[index] = 0
            self.benched_until[index] = now + self.config.sweep.reject_bench_ms / 1000.0
            log.warning("venue benched after repeated rejects", venue=self.venue_names[index],
                        seconds=self.config.sweep.reject_bench_ms / 1000.0)

    def start(self, parent: ParentOrder, now: float) -> Sweep | Skipped:
        if self.controls.halt_of(parent.spec.session, parent.spec.symbol) is not None:
            return Skipped.HALTED
        quantity = parent.unreserved
        if quantity <= 0:
            return Skipped.NOTHING_FREE
        available = self.available(now)
        if not available.any():
            return Skipped.NO_VENUE
        trader_minimum = self._trader_minimum(parent, quantity)
        allocation = self.weights.allocate(parent.spec.symbol, quantity, self._rules(trader_minimum), available)
        if not allocation.children.any():
            return Skipped.BELOW_MINIMUMS
        children = self._within_limits(parent, quantity, allocation.children.copy(), now)
        if not children.any():
            return Skipped.REFUSED_BY_RISK
        # The sweep number is never taken back (an id is never reused): the parent row carrying it
        # is committed with the children, before any of them leaves.
        parent.sweeps += 1
        # the allocation's sent column changes when a child cannot leave: a copy of its own
        sweep = Sweep(parent, parent.sweeps, Allocation(allocation.quantity, children, allocation.desired), {},
                      time.perf_counter(), now)
        spec = parent.spec
        for index in np.flatnonzero(children):
            index = int(index)
            venue = self.venue_names[index]
            shares = int(children[index])
            min_qty = min(max(self.min_qty[index], trader_minimum), shares) or None
            child = ChildOrder(self.ids.child_id(parent.parent_id, sweep.number, venue), parent.parent_id, venue,
                               sweep.number, spec.side, spec.symbol, shares, min_qty, spec.limit_price, now)
            parent.add_child(child)
            self.adopt(child)
            self.sweep_of[child.child_id] = sweep
            sweep.children[index] = child
            sweep.open += 1
            self.journal.record_child(child)
            command = SubmitChild(venue, child.child_id, spec.side, spec.symbol, shares, min_qty, spec.limit_price)
            self.outbox.submit(command, not_sent=lambda child=child, index=index: self._not_sent(sweep, index, child))
        self.journal.record_parent(parent)
        self.outbox.flush()  # commit, then the children leave now, not an iteration later
        deadline = self.config.sweep.deadline_ms / 1000.0
        sweep.deadline = asyncio.get_running_loop().call_later(deadline, sweep.done.set)
        log.debug("sweep sent", parent=parent.parent_id, sweep=sweep.number, quantity=quantity,
                  children={c.venue: c.quantity for c in sweep.children.values()})
        return sweep

    def _within_limits(self, parent: ParentOrder, quantity: int, children: np.ndarray, now: float) -> np.ndarray:
        """``children`` without those that break a per-child limit: a defect in the allocation
        cannot send an absurd order (a venue refused here sits this sweep out)."""
        price = self.risk.price_of(parent.spec.symbol, parent.spec.limit_price, now)
        unreserved = quantity
        for index in np.flatnonzero(children):
            shares = int(children[index])
            verdict = self.risk.check_child(self.venue_names[index], shares, price, unreserved, now)
            if verdict.accepted:
                unreserved -= shares
            else:
                children[index] = 0
                log.warning("child refused by risk", parent=parent.parent_id, venue=self.venue_names[index],
                            shares=shares, text=verdict.refusal.text)
        return children

    def _not_sent(self, sweep: Sweep, index: int, child: ChildOrder) -> None:
        """The child never left (its session dropped, or the journal failed): it is cancelled,
        frees its shares and teaches nothing."""
        child.transition(ChildTrigger.CANCELED)
        child.final_at = time.time()
        sweep.parent.release(child.child_id)
        sweep.children.pop(index, None)
        sweep.allocation.children[index] = 0
        self.sweep_of.pop(child.child_id, None)
        self.journal.record_child(child)
        self.metrics.child_ended(child.venue, "not_sent")
        sweep.child_final()

    def finish(self, sweep: Sweep, now: float) -> SweepRow:
        """After the sweep's event: withdraw what is still open, learn from what resolved, journal."""
        if sweep.deadline is not None:
            sweep.deadline.cancel()
        venues = len(self.venue_names)
        sent = np.zeros(venues)
        filled = np.zeros(venues)
        timed_out = [False] * venues
        for index, child in sweep.children.items():
            self.sweep_of.pop(child.child_id, None)
            if not child.is_final:
                self._withdraw(child, now)
                timed_out[index] = True
                self.metrics.child_ended(child.venue, "timed_out")
                continue
            self._count_reject(index, child.state is ChildState.REJECTED, now)
            self.metrics.child_ended(child.venue, _outcome(child))
            if child.state is ChildState.REJECTED:  # the venue refused the order: no news about liquidity
                continue
            sent[index] = child.quantity
            filled[index] = child.cum_qty
            self.activity.resolved(child.venue, child.quantity, child.cum_qty, now)
        parent = sweep.parent
        learned = bool(sent.any())
        if learned:
            outcome = Allocation(sweep.allocation.quantity, sent, sweep.allocation.desired)
            self.weights.observe(parent.spec.symbol, outcome, filled)
            self.learned_sweeps += 1
        certified = bool(no_regret_possible(np.array([sweep.allocation.quantity]), sent, filled)[0])
        ended = sweep.completed if sweep.completed is not None else time.perf_counter()
        row = SweepRow(parent.parent_id, sweep.number, parent.spec.symbol, int(sweep.allocation.quantity),
                       list(self.venue_names), [int(c) for c in sweep.allocation.children],
                       [int(x) for x in self._filled(sweep)], timed_out, learned, certified,
                       sweep.started_at, 1000.0 * (ended - sweep.started))
        self.journal.record_sweep(row)
        self.metrics.sweep_latency(row.latency_ms / 1000.0)
        log.info("sweep", parent=parent.parent_id, sweep=sweep.number, symbol=parent.spec.symbol,
                 quantity=row.quantity, filled=sum(row.filled), timed_out=sum(timed_out),
                 certificate="no regret possible" if certified else "possible regret",
                 latency_ms=round(row.latency_ms, 3))
        return row

    def snapshot_weights(self, now: float) -> None:
        for key, (learned, snapshot) in self.weights.snapshots().items():
            self.journal.record_weights(key, self.weights.policy_name, learned, snapshot, now)
        self._snapshot_of = self._learned()

    def snapshot_if_changed(self, now: float) -> None:
        """Journal the weights when a sweep or a markout has taught them something since the last
        snapshot (markouts keep arriving for a horizon after the last sweep)."""
        if self._learned() != self._snapshot_of:
            self.snapshot_weights(now)

    def _learned(self) -> tuple[int, int]:
        return self.learned_sweeps, self.weights.markouts_learned

    def _withdraw(self, child: ChildOrder, now: float) -> None:
        child.timed_out = True
        child.transition(ChildTrigger.TIMEOUT)
        self.cancel(child)
        self.journal.record_child(child)
        log.warning("child timed out: withdrawn", parent=child.parent_id, sweep=child.sweep, child=child.child_id,
                    venue=child.venue)

    def cancel(self, child: ChildOrder) -> None:
        child.cancel_attempts += 1
        command = CancelChild(child.venue, self.ids.cancel_id(child.child_id, child.cancel_attempts), child.child_id,
                              child.side, child.symbol, child.quantity)
        self.outbox.cancel(command, sent=lambda: child.transition(ChildTrigger.CANCEL_SENT))

    def _rules(self, trader_minimum: int) -> VenueRules:
        if trader_minimum <= 1:
            return self.base_rules
        rules = self.base_rules
        minimum = np.maximum(rules.min_order_size, np.ceil(trader_minimum / rules.lot_size) * rules.lot_size)
        return VenueRules(rules.lot_size, minimum, rules.max_order_size)

    @staticmethod
    def _trader_minimum(parent: ParentOrder, quantity: int) -> int:
        """The trader's MinQty for this sweep: once less than it remains, the minimum becomes what
        remains (as UBS MTF and others treat a MinQty larger than the leaves)."""
        min_qty = parent.spec.min_qty or 0
        return min(min_qty, quantity) if min_qty else 0

    @staticmethod
    def _filled(sweep: Sweep) -> np.ndarray:
        filled = np.zeros(len(sweep.allocation.children))
        for index, child in sweep.children.items():
            filled[index] = child.cum_qty
        return filled


def _outcome(child: ChildOrder) -> str:
    if child.state is ChildState.REJECTED:
        return "rejected"
    if child.cum_qty >= child.quantity:
        return "filled"
    return "partially_filled" if child.cum_qty else "unfilled"


def seconds_until(expire_at: float | None, now: float) -> float:
    return math.inf if expire_at is None else expire_at - now
