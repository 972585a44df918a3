"""The order manager: the asyncio heart between the trader edge and the venue edge.

Everything here runs on the event loop's thread. The edges deliver domain messages in arrival order
(:meth:`OrderManager.deliver`); each parent is worked by its own named task, sweep after sweep
(:mod:`engine.manager.sweeps`), until it is filled, cancelled or expired. Venue reports update the
children, fills are booked on the parent and reported to the trader at once. Cancel and replace
requests are acknowledged at once (Pending Cancel / Pending Replace) and carried out between sweeps,
once the children in flight have resolved. A parent's final report (Canceled, Expired) also waits,
for a bounded time, for children withdrawn at a deadline that their venue has not yet answered for.

Nothing a trader or a venue sends can crash the manager: every handler is guarded, impossible
transitions and unknown orders are logged, counted and journaled as incidents. An exception in a
parent's task is logged and ends the run in a controlled way (``failed`` is set).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import Counter
from dataclasses import dataclass
from typing import Callable

import structlog

from engine.domain.child import ChildChange, ChildOrder, ChildState
from engine.domain.ids import ChildId, ClOrdId, IdFactory, ParentId, SessionKey, parent_of
from engine.domain.messages import (STATE_CHANGING_REQUESTS, BusinessRefusal, CancelParent, CancelRefused,
                                    InvalidParent, NewParent, ParentReport, ParentStatus, ParentStatusQuery, QueryChild, ReplaceParent,
                                    ReportKind, TraderSessionChanged, UnsupportedMessage, VenueCancelRefused,
                                    VenueOrderStatus, VenueReport, VenueReportKind, VenueSessionChanged,
                                    report_from_record)
from engine.domain.orders import RejectReason, check_parent
from engine.domain.parent import InvariantBroken, ParentOrder, ParentTrigger
from engine.engine_config import EngineConfig
from engine.manager.outbox import Outbox
from engine.manager.ports import TraderPort, VenuePort
from engine.manager.restore import recall_child, recall_parent, restore_parents
from engine.manager.sweeps import Skipped, Sweep, SweepRunner, seconds_until
from engine.manager.weights import WeightBook
from engine.store import WRITE_PERIOD_SECONDS, Journal, JournalError, unsent_trader_reports

log = structlog.get_logger("engine.manager")

_IDLE_RETRY_SECONDS = 0.05  # when a sweep could not be sent (no venue up, all shares in flight)
_FORGET_CHILDREN_AFTER = 60.0  # seconds a finished parent's children still match late reports


@dataclass(frozen=True, slots=True)
class _Ending:
    """How a parent is to end once its children have settled."""

    trigger: ParentTrigger
    text: str | None
    cl_ord_id: ClOrdId | None = None       # a cancel request's ClOrdID, answered by the final report
    orig_cl_ord_id: ClOrdId | None = None


class OrderManager:
    def __init__(self, config: EngineConfig, venues: VenuePort, traders: TraderPort, journal: Journal,
                 weights: WeightBook, ids: IdFactory, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.venues = venues
        self.traders = traders
        self.journal = journal
        self.ids = ids
        self.clock = clock
        # the only way out: what the manager sends leaves once the journal holds what led to it
        self.outbox = Outbox(journal, venues, traders, self._journal_failed)
        self.runner = SweepRunner(config, venues, self.outbox, weights, journal, ids)
        self.symbols = frozenset(config.symbols)
        self.parents: dict[ParentId, ParentOrder] = {}
        self.by_cl_ord_id: dict[tuple[str, str], ParentId] = {}
        self.used_cl_ord_ids: set[tuple[str, str]] = set()
        self.counters: Counter[str] = Counter()
        self.failed = asyncio.Event()
        self._tasks: dict[ParentId, asyncio.Task] = {}
        self._wake: dict[ParentId, asyncio.Event] = {}
        self._settling: set[ParentId] = set()  # parents whose final report waits for unresolved children
        # Sweeps in flight at once: beyond what the FIX sessions and the loop can carry, more
        # concurrency only queues reports behind new orders, so latency grows and children miss
        # their deadlines while throughput stays the same. Parents wait for a slot instead.
        self._sweep_slots = asyncio.Semaphore(config.sweep.max_in_flight)
        self._housekeepers: list[asyncio.Task] = []  # the reconciler and the weight snapshots
        self._stopping = False
        self.trader_requests_handled = 0
        self._handlers = {NewParent: self._on_new_parent, InvalidParent: self._on_invalid_parent,
                          CancelParent: self._on_cancel, ReplaceParent: self._on_replace,
                          ParentStatusQuery: self._on_status_query, UnsupportedMessage: self._on_unsupported,
                          VenueReport: self._on_venue_report, VenueCancelRefused: self._on_venue_cancel_refused,
                          VenueSessionChanged: self._on_venue_session, TraderSessionChanged: self._on_trader_session}

    @property
    def children(self) -> dict:
        return self.runner.children

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self, restored_cl_ord_ids: set[tuple[str, str]] | None = None) -> None:
        """Resume the open parents of the journal, then accept new work."""
        self.used_cl_ord_ids |= restored_cl_ord_ids or set()
        for parent in restore_parents(self.config.journal, self.runner.adopt):
            self._adopt(parent)
            self._spawn(parent)
            log.info("parent restored", parent=parent.parent_id, cum_qty=parent.cum_qty, quantity=parent.quantity,
                     unresolved_children=len(parent.open_children))
        loop = asyncio.get_running_loop()
        self._housekeepers = [loop.create_task(self._reconcile_forever(), name="reconciler"),
                              loop.create_task(self._snapshot_forever(), name="weight-snapshots"),
                              loop.create_task(self._commit_forever(), name="journal-commits")]

    def resend_unsent_reports(self) -> int:
        """Trader reports the journal committed that the last run may not have handed to QuickFIX
        (it stopped in between) go out again, under their own ExecIDs with PossResend: the trader
        drops a copy it already has. Call once the trader sessions exist; returns how many."""
        records = unsent_trader_reports(self.config.journal) if self.config.journal.exists() else []
        for record in records:
            self.outbox.report(dataclasses.replace(report_from_record(record), poss_resend=True))
        if records:
            log.info("trader reports sent again after a restart", reports=len(records))
        return len(records)

    async def stop(self) -> None:
        """Let the sweeps in flight finish (withdrawing at their deadline), then stop the workers.
        Open parents stay open in the journal and resume at the next start."""
        self._stopping = True
        for event in self._wake.values():
            event.set()
        grace = self.config.sweep.deadline_ms / 1000.0 + 1.0
        tasks = [t for t in self._tasks.values() if not t.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=grace)
        for task in [*self._tasks.values(), *self._housekeepers]:
            if not task.done():
                task.cancel()
        self.runner.snapshot_weights(self.clock())
        for parent in self.parents.values():
            self.journal.record_parent(parent)
        self.outbox.flush()

    def replay_trader_requests(self, requests: list) -> int:
        """Requests the trader inbox kept from the last run that the journal never saw (a new order
        or a cancel whose ClOrdID it does not hold) are handled now; returns how many."""
        replayed = 0
        for request in requests:
            origin = request.spec if isinstance(request, NewParent) else request  # session and ClOrdID
            taken = (origin.session, origin.cl_ord_id) in self.used_cl_ord_ids
            if isinstance(request, STATE_CHANGING_REQUESTS) and not taken:
                self._dispatch(request)
                replayed += 1
        if replayed:
            log.info("trader requests replayed from the inbox", requests=replayed)
        return replayed

    def deliver(self, message: object) -> None:
        if isinstance(message, STATE_CHANGING_REQUESTS):
            self.trader_requests_handled += 1  # the trader inbox may drop it once it is committed
        self._dispatch(message)

    def _dispatch(self, message: object) -> None:
        handler = self._handlers.get(type(message))
        if handler is None:
            self._incident("unknown message", repr(message))
            return
        try:
            handler(message)
        except InvariantBroken as error:  # our bug: stop taking risk
            log.critical("invariant broken", error=str(error))
            self._incident("invariant broken", str(error))
            self.failed.set()
        except Exception:  # noqa: BLE001 - nothing from outside may crash the manager
            log.exception("handler failed", message=type(message).__name__)
            self.counters["handler errors"] += 1

    # -- trader requests ------------------------------------------------------------------------

    def _on_new_parent(self, message: NewParent) -> None:
        spec = message.spec
        key = (spec.session, spec.cl_ord_id)
        now = self.clock()
        if key in self.used_cl_ord_ids:
            self._reject(spec.session, spec.cl_ord_id, RejectReason.DUPLICATE_ORDER,
                         f"duplicate ClOrdID {spec.cl_ord_id}", spec.side, spec.symbol, spec.quantity)
            return
        self.used_cl_ord_ids.add(key)
        parent = ParentOrder(self.ids.parent(), spec, now)
        refusal = check_parent(spec, self.symbols, now)
        if refusal is not None:
            parent.transition(ParentTrigger.REJECT, now)
            self._send(parent, ReportKind.REJECTED, text=refusal.text, reject_reason=refusal.reason)
            self.journal.record_parent(parent)
            return
        self._adopt(parent)
        self._send(parent, ReportKind.PENDING_NEW)
        parent.transition(ParentTrigger.ACCEPT, now)
        self._send(parent, ReportKind.NEW)
        self.journal.record_parent(parent)
        log.info("parent accepted", parent=parent.parent_id, session=spec.session, cl_ord_id=spec.cl_ord_id,
                 side=spec.side.value, symbol=spec.symbol, quantity=spec.quantity,
                 order_type=spec.order_type.value, time_in_force=spec.time_in_force.value)
        self._spawn(parent)

    def _on_invalid_parent(self, message: InvalidParent) -> None:
        self.used_cl_ord_ids.add((message.session, message.cl_ord_id))
        self._reject(message.session, message.cl_ord_id, message.reason, message.text, message.side,
                     message.symbol, message.quantity)

    def _on_cancel(self, message: CancelParent) -> None:
        parent = self._find(message.session, message.orig_cl_ord_id)
        refusal = self._cancel_refusal(parent, message.session, message.cl_ord_id, message.orig_cl_ord_id, False)
        if refusal is not None:
            self.outbox.refuse_cancel(refusal)
            return
        parent.pending_replace = None  # a cancel overrides a pending replace
        parent.pending_cancel = message
        self._hold_request(parent, message, ParentTrigger.REQUEST_CANCEL, ReportKind.PENDING_CANCEL)

    def _on_replace(self, message: ReplaceParent) -> None:
        parent = self._find(message.session, message.orig_cl_ord_id)
        refusal = self._cancel_refusal(parent, message.session, message.cl_ord_id, message.orig_cl_ord_id, True)
        if refusal is None and parent.state not in (ParentStatus.NEW, ParentStatus.PARTIALLY_FILLED):
            refusal = self._refusal(parent, message, True, f"the order is {parent.state.value}")
        if refusal is None and not 0 < message.quantity <= parent.quantity:
            refusal = self._refusal(parent, message, False,
                                    f"OrderQty {message.quantity}: only a reduction of {parent.quantity} is accepted")
        if refusal is not None:
            self.outbox.refuse_cancel(refusal)
            return
        parent.pending_replace = message
        self._hold_request(parent, message, ParentTrigger.REQUEST_REPLACE, ReportKind.PENDING_REPLACE)

    def _hold_request(self, parent: ParentOrder, request: CancelParent | ReplaceParent, trigger: ParentTrigger,
                      kind: ReportKind) -> None:
        """Acknowledge a cancel or replace at once (Pending Cancel / Pending Replace); the parent's
        task carries it out between sweeps."""
        self.by_cl_ord_id[(request.session, request.cl_ord_id)] = parent.parent_id
        self.used_cl_ord_ids.add((request.session, request.cl_ord_id))
        parent.transition(trigger, self.clock())
        self._send(parent, kind, cl_ord_id=request.cl_ord_id, orig_cl_ord_id=request.orig_cl_ord_id)
        self.journal.record_parent(parent)  # with the request: a restart still carries it out
        self._wake[parent.parent_id].set()

    def _on_status_query(self, message: ParentStatusQuery) -> None:
        parent = self._find(message.session, message.cl_ord_id)
        if parent is None:
            self._reject(message.session, message.cl_ord_id, RejectReason.UNKNOWN_ORDER,
                         f"unknown order {message.cl_ord_id}", None, "[N/A]", 0, kind=ReportKind.STATUS)
            return
        self._send(parent, ReportKind.STATUS, cl_ord_id=message.cl_ord_id)

    def _on_unsupported(self, message: UnsupportedMessage) -> None:
        self.outbox.refuse_business(BusinessRefusal(message.session, message.msg_type, message.ref_seq_num,
                                                     f"message type {message.msg_type} is not supported"))

    def _on_trader_session(self, message: TraderSessionChanged) -> None:
        log.info("trader session", session=message.session, logged_on=message.logged_on)

    # -- venue reports --------------------------------------------------------------------------

    def _on_venue_report(self, report: VenueReport) -> None:
        child = self.children.get(report.child_id)
        if child is None or child.venue != report.venue:
            child = self._adopt_unknown_child(report)
            if child is None:
                return
        now = self.clock()
        change = child.apply(report, now)
        self._after_child_change(child, change, report.exec_id, now)

    def _adopt_unknown_child(self, report: VenueReport) -> ChildOrder | None:
        """A report for a child not in memory. A finished child the journal holds (not restored at
        start, or forgotten with its parent) comes back as journaled, with its booked ExecIDs: a
        venue's resend of a fill already booked changes nothing, a fill beyond its CumQty is late.
        When our id names a parent we know but the journal lacks the child, it is ours though its
        row never reached the journal: adopted as already ended, so its fill is booked to that
        parent only while it fits, and it is an incident. A fill is never dropped: one nobody can
        take is journaled unbooked."""
        detail = (f"{report.venue} {report.child_id} {report.kind.value} cum={report.cum_qty} "
                  f"leaves={report.leaves_qty} exec={report.exec_id}")
        parent_id = parent_of(report.child_id)
        parent = None
        if parent_id is not None and report.child_id not in self.children:
            parent = self.parents.get(parent_id) or recall_parent(self.config.journal, parent_id)
        if parent is None:
            self._incident("report for an unknown order", detail)
            filled = int(report.cum_qty if report.cum_qty is not None else report.last_qty)
            if filled > 0:
                self.journal.record_fill(report.venue, report.exec_id, report.child_id, parent_id or "", filled,
                                         report.last_px or report.avg_px or 0.0, 0, True, self.clock())
            return None
        if parent.parent_id not in self.parents:  # a parent that had left memory: back for this report
            self.parents[parent.parent_id] = parent
            self._forget_later(parent)
        journaled = recall_child(self.config.journal, report.child_id, parent)
        if journaled is not None:  # finished before (a resent report, say): what it adds, if anything, is late
            self.runner.adopt(journaled)
            return journaled
        self._incident("report for a child the journal does not hold", detail)
        quantity = int(max((report.cum_qty or 0) + (report.leaves_qty or 0), report.cum_qty or 0, report.last_qty))
        spec = parent.spec
        child = ChildOrder(ChildId(report.child_id), parent.parent_id, report.venue, int(report.child_id.split(".")[2]),
                           spec.side, spec.symbol, quantity, None, spec.limit_price, self.clock(),
                           state=ChildState.CANCELED, final_at=self.clock(), timed_out=True)
        self.runner.adopt(child)
        return child

    def _after_child_change(self, child: ChildOrder, change: ChildChange, exec_id: str, now: float) -> None:
        for anomaly in change.anomalies:
            self._incident("venue anomaly", anomaly)
        parent = self.parents[child.parent_id]
        already_done = parent.is_final
        booked = parent.book(child, change, now)
        if change.filled:
            self.journal.record_fill(child.venue, exec_id, child.child_id, parent.parent_id, change.filled,
                                     change.price, booked.booked, change.late, now)
        if booked.booked:
            self._send(parent, ReportKind.TRADE, last_qty=booked.booked, last_px=booked.price, last_market=child.venue)
            if already_done:
                self._incident("fill after the parent's final report", f"{child.child_id}: {booked.booked} "
                                                                        f"shares on {parent.state.value} parent")
        if booked.unbooked:
            self._incident("late fill not booked", f"{child.child_id}: {booked.unbooked} shares after the child ended "
                                                   f"would overfill parent {parent.parent_id}")
        if change.filled or change.became_final:
            self.journal.record_child(child)
        if booked.booked:  # the parent's journaled fields (state, cum, notional) change only with a fill
            self.journal.record_parent(parent)
        if change.became_final:
            sweep = self.runner.sweep_of.get(child.child_id)
            if sweep is not None:
                sweep.child_final()
            if child.timed_out:
                log.info("child reconciled", parent=parent.parent_id, child=child.child_id, venue=child.venue,
                         state=child.state.value, cum_qty=child.cum_qty)
        if parent.is_final or (change.became_final and parent.parent_id in self._settling):
            wake = self._wake.get(parent.parent_id)
            if wake is not None:
                wake.set()

    def _on_venue_cancel_refused(self, message: VenueCancelRefused) -> None:
        child = self.children.get(message.child_id)
        if child is None or child.is_final:
            return
        if message.too_late:  # the child is done at the venue and its final report is late or lost: ask
            self._query(child)
            return
        # the venue never had it: nothing more can fill
        report = VenueReport(child.venue, child.child_id, f"cancel-refused:{child.child_id}:{child.cancel_attempts}",
                             VenueReportKind.STATUS, VenueOrderStatus.OTHER, unknown_order=True, text=message.text)
        now = self.clock()
        self._after_child_change(child, child.apply(report, now), report.exec_id, now)

    def _on_venue_session(self, message: VenueSessionChanged) -> None:
        log.info("venue session", venue=message.venue, logged_on=message.logged_on)
        if message.logged_on:
            self._reconcile(venue=message.venue, force=True)

    def _reconcile(self, venue: str | None = None, force: bool = False) -> None:
        """Ask the venues about children given up on at a deadline (their fate decides the reserve)."""
        for child in list(self.children.values()):
            if child.state is ChildState.UNRESOLVED and (venue is None or child.venue == venue):
                if force or self.venues.logged_on(child.venue):
                    self._query(child)

    def _query(self, child: ChildOrder) -> None:
        self.outbox.query(QueryChild(child.venue, child.child_id, child.side, child.symbol,
                                     self.ids.status_request_id(child.child_id)))

    async def _commit_forever(self) -> None:
        """Rows that send nothing (a child's end, a sweep's record) are committed this often; what
        sends something is committed before it leaves (the outbox)."""
        while True:
            await asyncio.sleep(WRITE_PERIOD_SECONDS)
            self.outbox.flush()

    def _journal_failed(self, error: JournalError) -> None:
        """The write-ahead cannot hold: stop taking risk (the run command then stops the engine)."""
        self.counters["journal failures"] += 1
        log.critical("journal failed: the engine stops", error=str(error))
        self.failed.set()

    async def _reconcile_forever(self) -> None:
        period = self.config.sweep.cancel_retry_ms / 1000.0
        while True:
            await asyncio.sleep(period)
            try:
                self._reconcile()
            except Exception:  # noqa: BLE001
                log.exception("reconciliation failed")

    async def _snapshot_forever(self) -> None:
        """The live weights go to the journal every ``weights.snapshot_seconds`` when they changed
        (``dark-agg weights`` reads them there): by time rather than per sweep, so a busy engine
        does not write them several times a second and a quiet one is never left stale."""
        period = self.config.weights.snapshot_seconds
        while True:
            await asyncio.sleep(period)
            try:
                self.runner.snapshot_if_changed(self.clock())
            except Exception:  # noqa: BLE001
                log.exception("weight snapshot failed")

    # -- working a parent -----------------------------------------------------------------------

    def _spawn(self, parent: ParentOrder) -> None:
        self._wake[parent.parent_id] = asyncio.Event()
        task = asyncio.get_running_loop().create_task(self._work(parent), name=f"parent-{parent.parent_id}")
        self._tasks[parent.parent_id] = task
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task) -> None:
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            log.error("parent task failed", task=task.get_name(), error=repr(error), exc_info=error)
            self.failed.set()

    async def _work(self, parent: ParentOrder) -> None:
        # each task runs in its own copy of the context: every event logged while working this
        # parent (sweeps, withdrawals, its end) carries its id without passing it around
        structlog.contextvars.bind_contextvars(parent=parent.parent_id, symbol=parent.spec.symbol)
        log_ = log
        empty_sweeps = 0
        ending: _Ending | None = None
        while not self._stopping and not parent.is_final:
            ending = self._ending_due(parent)
            if ending is not None:
                break
            if parent.pending_replace is not None:  # the reduction must know what is still in flight
                await self._settle_children(parent, "a replace")
                if self._stopping:
                    break  # the request is journaled: the next start carries it out
                self._carry_out_replace(parent)
                continue
            async with self._sweep_slots:
                if self._ending_due(parent) is not None or parent.pending_replace is not None:
                    continue  # a request came while waiting for a slot: carried out at the top
                outcome = self.runner.start(parent, self.clock())
                if isinstance(outcome, Sweep):
                    await outcome.done.wait()
                    row = self.runner.finish(outcome, self.clock())
                    self.journal.record_parent(parent)
                    empty_sweeps = 0 if sum(row.filled) else empty_sweeps + 1
            if parent.is_final:
                break
            if isinstance(outcome, Sweep) and parent.is_ioc:
                # a replace still pending is moot now: refused as too late once the parent ends
                ending = self._ending_due(parent) or _Ending(ParentTrigger.CANCEL, "IOC: the one sweep is done")
                break
            if not isinstance(outcome, Sweep) and not parent.open_children and (
                    parent.is_ioc or outcome is Skipped.BELOW_MINIMUMS):
                # nothing in flight could free more shares: this parent cannot be worked further
                ending = _Ending(ParentTrigger.CANCEL, f"not worked further: {outcome.value}")
                break
            await self._pause(parent, self._pause_after(outcome, empty_sweeps))
        if ending is not None and not parent.is_final:
            await self._settle_children(parent, "the final report")
            # stopping with children unresolved, the parent stays open in the journal: the next
            # start reconciles them, then ends it
            if not parent.is_final and not (self._stopping and parent.open_children):
                self._end(parent, ending.trigger, ending.text, cl_ord_id=ending.cl_ord_id,
                          orig_cl_ord_id=ending.orig_cl_ord_id)
        if parent.is_final:
            self._answer_requests_too_late(parent)
        log_.debug("parent task ends", state=parent.state.value)
        if parent.is_final:
            self._forget_later(parent)

    async def _settle_children(self, parent: ParentOrder, waiting: str) -> None:
        """Children given up on at a sweep deadline stay live at their venue until it answers the
        withdrawal: the parent's final report, or a replace, waits for them (up to
        ``sweep.resolve_wait_ms``), so the trader hears of every fill before the order is reported
        done, and a reduction knows what is in flight. After the wait the parent goes on anyway; a
        fill arriving after its final report is reported after it and journaled as an incident."""
        if not parent.open_children:
            return
        limit = self.clock() + self.config.sweep.resolve_wait_ms / 1000.0
        self._settling.add(parent.parent_id)
        try:
            while parent.open_children and not parent.is_final and not self._stopping:
                left = limit - self.clock()
                if left <= 0:
                    self._incident("children unresolved after the resolve wait",
                                   f"{parent.parent_id}, for {waiting}: {', '.join(parent.open_children)}")
                    return
                await self._pause(parent, left)
        finally:
            self._settling.discard(parent.parent_id)

    def _answer_requests_too_late(self, parent: ParentOrder) -> None:
        """A cancel or replace still pending when the parent ended otherwise (filled completely, say)
        is refused as too late."""
        requests = ((parent.pending_cancel, False), (parent.pending_replace, True))
        if not any(request is not None for request, _ in requests):
            return
        for request, for_replace in requests:
            if request is not None:
                self.outbox.refuse_cancel(CancelRefused(request.session, parent.parent_id, request.cl_ord_id,
                                                         request.orig_cl_ord_id, parent.state, for_replace, True,
                                                         f"too late: the order is {parent.state.value}"))
        parent.pending_cancel = parent.pending_replace = None
        self.journal.record_parent(parent)

    def _pause_after(self, outcome: Sweep | Skipped, empty_sweeps: int) -> float:
        """The sweep interval, doubled after each sweep in a row that filled nothing (up to
        ``max_interval_ms``): a parent the dark cannot fill now (a limit away from the midpoint, no
        contra) stops hammering every venue, and one fill brings it back to full speed."""
        if not isinstance(outcome, Sweep):
            return _IDLE_RETRY_SECONDS
        sweep = self.config.sweep
        return min(sweep.interval_ms * 2.0 ** min(empty_sweeps, 30), sweep.max_interval_ms) / 1000.0

    def _ending_due(self, parent: ParentOrder) -> _Ending | None:
        """A cancel request or the GTD ExpireTime ends the parent (between sweeps, never during one)."""
        if parent.pending_cancel is not None:
            request = parent.pending_cancel
            return _Ending(ParentTrigger.CANCEL, None, request.cl_ord_id, request.orig_cl_ord_id)
        if seconds_until(parent.spec.expire_at, self.clock()) <= 0:
            return _Ending(ParentTrigger.EXPIRE, "GTD: ExpireTime reached")
        return None

    def _carry_out_replace(self, parent: ParentOrder) -> None:
        if parent.pending_replace is None:
            return
        now = self.clock()
        request, parent.pending_replace = parent.pending_replace, None
        previous = parent.cl_ord_id
        problem = parent.replace_quantity(request)
        resume = ParentTrigger.RESUME_PARTIAL if parent.cum_qty else ParentTrigger.RESUME_NEW
        if problem is not None:
            parent.transition(resume, now)
            self.outbox.refuse_cancel(self._refusal(parent, request, True, problem))
            self.journal.record_parent(parent)
            return
        trigger = ParentTrigger.FILL_COMPLETE if parent.cum_qty >= parent.quantity else resume
        parent.transition(trigger, now)
        self._send(parent, ReportKind.REPLACED, cl_ord_id=request.cl_ord_id, orig_cl_ord_id=previous)
        self.journal.record_parent(parent)

    def _end(self, parent: ParentOrder, trigger: ParentTrigger, text: str | None, *,
             cl_ord_id: ClOrdId | None = None, orig_cl_ord_id: ClOrdId | None = None) -> None:
        anomaly = parent.transition(trigger, self.clock())
        if anomaly is not None:
            self._incident("impossible transition", anomaly)
            return
        kind = ReportKind.EXPIRED if trigger is ParentTrigger.EXPIRE else ReportKind.CANCELED
        self._send(parent, kind, cl_ord_id=cl_ord_id, orig_cl_ord_id=orig_cl_ord_id, text=text)
        if parent.pending_cancel is not None and parent.pending_cancel.cl_ord_id == cl_ord_id:
            parent.pending_cancel = None  # answered by this report
        self.journal.record_parent(parent)
        log.info("parent done", parent=parent.parent_id, state=parent.state.value, cum_qty=parent.cum_qty,
                 quantity=parent.quantity, sweeps=parent.sweeps, reason=text)

    async def _pause(self, parent: ParentOrder, seconds: float) -> None:
        seconds = min(seconds, max(0.0, seconds_until(parent.spec.expire_at, self.clock())))
        wake = self._wake[parent.parent_id]
        if seconds > 0 and not wake.is_set():
            try:
                await asyncio.wait_for(wake.wait(), seconds)
            except asyncio.TimeoutError:
                pass
        wake.clear()

    def _forget_later(self, parent: ParentOrder) -> None:
        """Finished parents keep their children matchable for a while (late and duplicate reports),
        then leave memory; the journal keeps everything, and a status query or cancel for an old
        order is answered from it (only its ClOrdIDs stay in memory)."""
        def forget() -> None:
            if self.runner.forget(parent.parent_id) and not parent.open_children:
                self._tasks.pop(parent.parent_id, None)
                self._wake.pop(parent.parent_id, None)
                self.parents.pop(parent.parent_id, None)
        asyncio.get_running_loop().call_later(_FORGET_CHILDREN_AFTER, forget)

    # -- helpers --------------------------------------------------------------------------------

    def _adopt(self, parent: ParentOrder) -> None:
        self.parents[parent.parent_id] = parent
        self.by_cl_ord_id[(parent.spec.session, parent.spec.cl_ord_id)] = parent.parent_id
        self.by_cl_ord_id[(parent.spec.session, parent.cl_ord_id)] = parent.parent_id
        self.used_cl_ord_ids.add((parent.spec.session, parent.spec.cl_ord_id))
        request = parent.pending_cancel or parent.pending_replace  # restored with the parent
        if request is not None:
            self.by_cl_ord_id[(parent.spec.session, request.cl_ord_id)] = parent.parent_id
            self.used_cl_ord_ids.add((parent.spec.session, request.cl_ord_id))

    def _find(self, session: SessionKey, cl_ord_id: str) -> ParentOrder | None:
        parent_id = self.by_cl_ord_id.get((session, cl_ord_id))
        if parent_id is None:
            return None
        parent = self.parents.get(parent_id)
        return parent if parent is not None else recall_parent(self.config.journal, parent_id)

    def _cancel_refusal(self, parent: ParentOrder | None, session: SessionKey, cl_ord_id: ClOrdId,
                        orig_cl_ord_id: ClOrdId, for_replace: bool) -> CancelRefused | None:
        if (session, cl_ord_id) in self.used_cl_ord_ids:
            return CancelRefused(session, parent.parent_id if parent else "NONE", cl_ord_id, orig_cl_ord_id,
                                 parent.state if parent else None, for_replace, False, f"duplicate ClOrdID {cl_ord_id}")
        if parent is None:
            return CancelRefused(session, "NONE", cl_ord_id, orig_cl_ord_id, None, for_replace, False,
                                 f"unknown order {orig_cl_ord_id}")
        if parent.is_final or parent.state is ParentStatus.PENDING_CANCEL:
            return CancelRefused(session, parent.parent_id, cl_ord_id, orig_cl_ord_id, parent.state, for_replace, True,
                                 f"too late: the order is {parent.state.value}")
        return None

    def _refusal(self, parent: ParentOrder, request: ReplaceParent, too_late: bool, text: str) -> CancelRefused:
        return CancelRefused(request.session, parent.parent_id, request.cl_ord_id, request.orig_cl_ord_id,
                             parent.state, True, too_late, text)

    def _send(self, parent: ParentOrder, kind: ReportKind, **fields) -> None:
        self.outbox.report(parent.report(kind, self.ids.exec_id(), **fields))

    def _reject(self, session: SessionKey, cl_ord_id: ClOrdId, reason: RejectReason, text: str, side, symbol: str,
                quantity: int, kind: ReportKind = ReportKind.REJECTED) -> None:
        report = ParentReport(session=session, order_id="NONE", cl_ord_id=cl_ord_id, exec_id=self.ids.exec_id(),
                              kind=kind, status=ParentStatus.REJECTED, side=side, symbol=symbol, quantity=quantity,
                              cum_qty=0, leaves_qty=0, avg_px=0.0, reject_reason=reason, text=text)
        self.outbox.report(report)
        log.info("parent rejected", session=session, cl_ord_id=cl_ord_id, reason=reason.value, text=text)

    def _incident(self, kind: str, detail: str) -> None:
        self.counters[kind] += 1
        log.warning(kind, detail=detail)
        self.journal.record_incident(kind, detail, self.clock())
