"""The order manager: the asyncio heart between the trader edge and the venue edge.

Everything here runs on the event loop's thread. The edges deliver domain messages in arrival order
(:meth:`OrderManager.deliver`); each parent is worked by its own named task, sweep after sweep
(:mod:`engine.manager.parent_tasks`, :mod:`engine.manager.sweeps`), until it is filled, cancelled or
expired. Venue reports update the children, fills are booked on the parent and reported to the
trader at once (:mod:`engine.manager.venue_reports`). Cancel and replace requests are acknowledged at
once (Pending Cancel / Pending Replace) and carried out between sweeps, once the children in flight
have resolved (:mod:`engine.manager.trader_requests`). A parent's final report (Canceled, Expired)
also waits, for a bounded time, for children withdrawn at a deadline that their venue has not yet
answered for.

This module routes each message to its part, starts and stops the whole, and runs the
housekeeping (reconciliation, weight snapshots, journal commits); what the parts share is
:class:`engine.manager.shared.SharedState`.

Nothing a trader or a venue sends can crash the manager: every handler is guarded, impossible
transitions and unknown orders are logged, counted and journaled as incidents. An exception in a
parent's task is logged and ends the run in a controlled way (``failed`` is set).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import Counter
from functools import partial
from typing import Callable

import structlog

from engine.domain.ids import IdFactory, ParentId, SessionKey, trader_session_key
from engine.domain.messages import (STATE_CHANGING_REQUESTS, CancelParent, InvalidParent, MarketMidpoint, NewParent,
                                    ParentStatusQuery, ReplaceParent, TraderSessionChanged, UnsupportedMessage,
                                    VenueCancelRefused, VenueReport, VenueSessionChanged, report_from_record)
from engine.domain.markouts import DEFAULT_HORIZONS
from engine.domain.parent import InvariantBroken, ParentOrder
from engine.domain.controls import GLOBAL, Halt, TradingControls
from engine.domain.risk import RiskGate
from engine.config import EngineConfig
from engine.journal import WRITE_PERIOD_SECONDS, Journal, JournalError, unsent_trader_reports
from engine.manager.markouts import Markouts
from engine.manager.operations import Operations
from engine.manager.outbox import Outbox
from engine.manager.parent_tasks import ParentTasks
from engine.manager.ports import Metrics, NoMetrics, TraderPort, VenuePort
from engine.manager.restore import restore_parents
from engine.manager.shared import SharedState
from engine.manager.status import build_view
from engine.manager.sweeps import SweepRunner
from engine.manager.trader_requests import TraderRequests
from engine.manager.view import EngineView
from engine.manager.venue_reports import VenueReports
from engine.manager.weights import WeightBook

log = structlog.get_logger("engine.manager")


class OrderManager:
    def __init__(self, config: EngineConfig, venues: VenuePort, traders: TraderPort, journal: Journal,
                 weights: WeightBook, ids: IdFactory, clock: Callable[[], float] = time.time,
                 metrics: Metrics | None = None) -> None:
        self.config = config
        self.journal = journal
        self.clock = clock
        # the only way out: what the manager sends leaves once the journal holds what led to it
        outbox = Outbox(journal, venues, traders, self._journal_failed)
        # the risk limits: configured reference prices count as of this start
        risk = RiskGate(config.risk.limits(clock(), partial(trader_session_key, config.fix.trader.sender_comp_id)))
        controls, metrics = TradingControls(), metrics or NoMetrics()
        runner = SweepRunner(config, venues, outbox, weights, journal, ids, risk, controls, metrics)
        feed = config.market_data
        learn_horizon = config.weights.markout_horizon_seconds if config.weights.fill_value_bps is not None else None
        markouts = Markouts([v.name for v in config.venues],
                            feed.markout_horizons_seconds if feed is not None else DEFAULT_HORIZONS,
                            learn_horizon, journal, weights, metrics)
        self._shared = SharedState(config, venues, journal, outbox, runner, ids, clock, risk, controls, metrics,
                                   markouts=markouts)
        runner.on_venue_trip = self._shared.trip_venue
        self._parent_tasks = ParentTasks(self._shared)
        self._trader_requests = TraderRequests(self._shared, self._parent_tasks)
        self._venue_reports = VenueReports(self._shared, self._parent_tasks)
        restricted = config.risk.restricted_symbols if config.risk.restricted_file is not None else None
        self.operations = Operations(self._shared, self._parent_tasks, restricted)
        self.started = False
        self._housekeepers: list[asyncio.Task] = []  # the reconciler and the weight snapshots
        self.trader_requests_handled = 0
        trader, venue = self._trader_requests, self._venue_reports
        self._handlers = {NewParent: trader.on_new_parent, InvalidParent: trader.on_invalid_parent,
                          CancelParent: trader.on_cancel, ReplaceParent: trader.on_replace,
                          ParentStatusQuery: trader.on_status_query, UnsupportedMessage: trader.on_unsupported,
                          VenueReport: venue.on_venue_report, VenueCancelRefused: venue.on_venue_cancel_refused,
                          VenueSessionChanged: venue.on_venue_session, TraderSessionChanged: trader.on_trader_session,
                          MarketMidpoint: self._on_market_midpoint}

    # -- what the edges, the engine and the tests read ------------------------------------------

    @property
    def outbox(self) -> Outbox:
        return self._shared.outbox

    @property
    def runner(self) -> SweepRunner:
        return self._shared.runner

    @property
    def parents(self) -> dict[ParentId, ParentOrder]:
        return self._shared.parents

    @property
    def children(self) -> dict:
        return self._shared.children

    @property
    def used_cl_ord_ids(self) -> set[tuple[str, str]]:
        return self._shared.used_cl_ord_ids

    @used_cl_ord_ids.setter
    def used_cl_ord_ids(self, taken: set[tuple[str, str]]) -> None:  # `manager.used_cl_ord_ids |= ...`
        self._shared.used_cl_ord_ids = taken

    @property
    def counters(self) -> Counter[str]:
        return self._shared.counters

    @property
    def failed(self) -> asyncio.Event:
        return self._shared.failed

    @property
    def controls(self) -> TradingControls:
        return self._shared.controls

    @property
    def risk(self) -> RiskGate:
        return self._shared.risk

    def view(self) -> EngineView:
        """The engine as the operator's status, the metrics and the health checks see it."""
        return build_view(self._shared, self.started)

    def _find(self, session: SessionKey, cl_ord_id: str) -> ParentOrder | None:
        return self._shared.find(session, cl_ord_id)

    @property
    def _stopping(self) -> bool:  # set alone (tests), it stops the parents' work before the next sweep
        return self._parent_tasks.stopping

    @_stopping.setter
    def _stopping(self, stopping: bool) -> None:
        self._parent_tasks.stopping = stopping

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self, restored_cl_ord_ids: set[tuple[str, str]] | None = None) -> None:
        """Resume the open parents of the journal, then accept new work."""
        self.used_cl_ord_ids.update(restored_cl_ord_ids or set())
        for parent in restore_parents(self.config.journal, self.runner.adopt):
            self._shared.adopt(parent)
            self._parent_tasks.spawn(parent)
            log.info("parent restored", parent=parent.parent_id, cum_qty=parent.cum_qty, quantity=parent.quantity,
                     unresolved_children=len(parent.open_children))
        self.operations.restore()  # halts, limit changes and operator cancels of the last runs
        self.markouts.restore(self.config.journal, self.clock())  # those of recent fills still to come
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
        await self._parent_tasks.stop()
        for task in self._housekeepers:
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

    @property
    def markouts(self) -> Markouts:
        return self._shared.markouts

    def _on_market_midpoint(self, message: MarketMidpoint) -> None:
        if message.midpoint is None:
            self._shared.risk.on_market_stale(message.symbol)
            self.markouts.on_stale(message.symbol, message.at)
        else:
            self._shared.risk.on_market_midpoint(message.symbol, message.midpoint, message.at)
            self.markouts.on_midpoint(message.symbol, message.midpoint, message.at)

    def _dispatch(self, message: object) -> None:
        handler = self._handlers.get(type(message))
        if handler is None:
            self._shared.incident("unknown message", repr(message))
            return
        try:
            handler(message)
        except InvariantBroken as error:  # our bug: stop taking risk
            log.critical("invariant broken", error=str(error))
            self._shared.incident("invariant broken", str(error))
            self.failed.set()
        except Exception:  # noqa: BLE001 - nothing from outside may crash the manager
            log.exception("handler failed", message=type(message).__name__)
            self.counters["handler errors"] += 1

    # -- housekeeping ---------------------------------------------------------------------------

    async def _commit_forever(self) -> None:
        """Rows that send nothing (a child's end, a sweep's record) are committed this often; what
        sends something is committed before it leaves (the outbox)."""
        while True:
            await asyncio.sleep(WRITE_PERIOD_SECONDS)
            try:
                self.markouts.settle(self.clock())  # due markouts of a quiet, live feed
            except Exception:  # noqa: BLE001 - analysis never stops the commits
                log.exception("markouts not settled")
            self.outbox.flush()

    def _journal_failed(self, error: JournalError) -> None:
        """The write-ahead cannot hold: no new sweep starts from now (a global halt, tripped), and the
        run command stops the engine. The halt cannot be journaled; the restart needs a journal
        that works and resumes trading."""
        self.counters["journal failures"] += 1
        shared = self._shared
        if not self.failed.is_set():  # the first failure trips the halt; later ones only count
            shared.controls.halt(Halt(GLOBAL, f"the journal cannot be written: {error}", "trip", self.clock(),
                                      automatic=True))
            shared.metrics.incident("trip: journal failure")
        log.critical("journal failed: every sweep halted, the engine stops", error=str(error))
        self.failed.set()

    async def _reconcile_forever(self) -> None:
        period = self.config.sweep.cancel_retry_ms / 1000.0
        while True:
            await asyncio.sleep(period)
            try:
                self._venue_reports.reconcile()
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
