"""What the order manager's parts share: the parents in memory and the ClOrdIDs that find them, the
journal, the outbox and the sweep runner, and the few acts every part needs (report to a trader,
journal an incident).

The manager (:mod:`engine.manager.order_manager`) is cut along its concerns: trader requests
(:mod:`engine.manager.trader_requests`), venue reports (:mod:`engine.manager.venue_reports`) and
the life of each parent (:mod:`engine.manager.parent_tasks`). Each part holds this one state rather
than the others' internals, so what they share is written down in one place. Everything here runs
on the event loop's thread.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import structlog

from engine.domain.controls import Halt, Scope, Target, TradingControls
from engine.domain.ids import IdFactory, ParentId, SessionKey
from engine.domain.messages import ReportKind
from engine.domain.parent import ParentOrder
from engine.domain.risk import RiskGate
from engine.config import EngineConfig
from engine.journal import Journal
from engine.manager.markouts import Markouts
from engine.manager.outbox import Outbox
from engine.manager.ports import Metrics, NoMetrics, VenuePort
from engine.manager.restore import recall_parent
from engine.manager.sweeps import SweepRunner

log = structlog.get_logger("engine.manager")


@dataclass(eq=False)
class SharedState:
    config: EngineConfig
    venues: VenuePort
    journal: Journal
    outbox: Outbox  # the only way out: what the manager sends leaves once the journal holds what led to it
    runner: SweepRunner
    ids: IdFactory
    clock: Callable[[], float]
    risk: RiskGate  # pre-trade limits: fed fills here, asked by the trader requests and the sweeps
    controls: TradingControls = field(default_factory=TradingControls)  # halts and disabled venues
    metrics: Metrics = field(default_factory=NoMetrics)
    parents: dict[ParentId, ParentOrder] = field(default_factory=dict)
    by_cl_ord_id: dict[tuple[str, str], ParentId] = field(default_factory=dict)
    used_cl_ord_ids: set[tuple[str, str]] = field(default_factory=set)
    counters: Counter[str] = field(default_factory=Counter)
    failed: asyncio.Event = field(default_factory=asyncio.Event)  # set: the run ends in a controlled way
    trader_sessions: dict[str, bool] = field(default_factory=dict)  # session key -> logged on
    markouts: Markouts | None = None  # the fills' markouts (stamped, settled, journaled, learned)

    @property
    def children(self) -> dict:
        return self.runner.children

    def adopt(self, parent: ParentOrder) -> None:
        self.parents[parent.parent_id] = parent
        self.by_cl_ord_id[(parent.spec.session, parent.spec.cl_ord_id)] = parent.parent_id
        self.by_cl_ord_id[(parent.spec.session, parent.cl_ord_id)] = parent.parent_id
        self.used_cl_ord_ids.add((parent.spec.session, parent.spec.cl_ord_id))
        request = parent.pending_cancel or parent.pending_replace  # restored with the parent
        if request is not None:
            self.by_cl_ord_id[(parent.spec.session, request.cl_ord_id)] = parent.parent_id
            self.used_cl_ord_ids.add((parent.spec.session, request.cl_ord_id))

    def find(self, session: SessionKey, cl_ord_id: str) -> ParentOrder | None:
        parent_id = self.by_cl_ord_id.get((session, cl_ord_id))
        if parent_id is None:
            return None
        parent = self.parents.get(parent_id)
        return parent if parent is not None else recall_parent(self.config.journal, parent_id)

    def send(self, parent: ParentOrder, kind: ReportKind, **fields) -> None:
        self.outbox.report(parent.report(kind, self.ids.exec_id(), **fields))

    def incident(self, kind: str, detail: str) -> None:
        self.counters[kind] += 1
        self.metrics.incident(kind)
        log.warning(kind, detail=detail)
        self.journal.record_incident(kind, detail, self.clock())

    def halt(self, halt: Halt) -> None:
        """The one way a halt starts (an operator's or a trip's): in force at once, journaled with
        who and why, restored at the next start. A trip is also an incident and an alert."""
        self.controls.halt(halt)
        self.journal.record_control("halt", halt_record(halt), halt.origin, halt.at)
        if halt.automatic:
            log.critical("kill switch tripped", scope=halt.target.describe(), reason=halt.reason)
            self.incident(f"trip: {halt.target.scope.value} halted", f"{halt.target.describe()}: {halt.reason}")
        else:
            log.warning("trading halted", scope=halt.target.describe(), reason=halt.reason, origin=halt.origin)

    def trip_venue(self, venue: str, reason: str) -> None:
        """A venue behaving dangerously (overfills, a storm of rejects) is disabled until an operator
        enables it again."""
        if self.controls.venue_halt(venue) is None:
            self.halt(Halt(Target(Scope.VENUE, venue), reason, "trip", self.clock(), automatic=True))


def halt_record(halt: Halt) -> dict:
    return {"scope": halt.target.scope.value, "key": halt.target.key, "reason": halt.reason,
            "automatic": halt.automatic, "cancel": halt.cancel}
