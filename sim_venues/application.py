"""The QuickFIX edge of the simulated venues: one Application for all venue sessions of a host.

Threading, chosen on purpose and measured (bench/venues.py): orders are matched *on the QuickFIX
thread*, inside ``fromApp``. A venue's matching is pure and takes microseconds, so handing each
message to another thread (a copy, a queue, a wake-up) would cost more than the work and cap the
rate well below what the direct path sustains. Nothing here blocks: with zero latency the reports are
sent from the callback (allowed: ``sendToTarget`` re-enters the session's recursive mutex); with
latency or a delay fault, already-built messages go to the :class:`~sim_venues.scheduler.Scheduler`
thread, which only sends. The borrowed message and SessionID never outlive the callback: requests are
parsed into plain objects at once and every session keeps its own SessionID copy built at onCreate.

Every callback is guarded: QuickFIX exceptions pass, anything else is logged to the ground-truth log
and answered with a BusinessMessageReject where possible, so no input can kill the QuickFIX thread.
A Logon that cannot be checked (:mod:`sim_venues.logon_check`) is refused: fail closed.

The host's market-data session (:mod:`sim_venues.market_data`), when configured, is served by the
same Application: its requests are parsed here and handed to the scheduler thread, which sends
everything that session gets.

Disconnect faults run on the QuickFIX thread too (its socket monitor is not thread-safe): after N
orders (once, or after every N-th with ``disconnect_every_orders``) the session is dropped from
inside the callback of the N-th order; a timed disconnect asks the
session to log out (thread-safe), which QuickFIX carries out on its next timer tick (within ~1 s),
and the session is re-enabled at onLogout so the client can log on again.
"""

from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import quickfix as fix

from engine.fix.thread_state import keep_thread_state
from engine.fix.translate import fields_of
from sim_venues.host_config import FaultConfig, LatencyConfig
from sim_venues.faults import FaultState
from sim_venues.ground_truth import GroundTruthLog
from sim_venues.logon_check import FAULT_REFUSED, LOGON_REFUSED, LogonCheck
from sim_venues.market_data import MarketDataFeed
from sim_venues.scheduler import Scheduler
from sim_venues.translate import (BUSINESS_REJECT_UNSUPPORTED_MESSAGE_TYPE, business_reject_to_fix,
                                  cancel_reject_to_fix, cancel_request_from_fix, execution_report_to_fix, msg_type,
                                  new_order_from_fields, status_request_from_fix, utc_timestamp)
from sim_venues.venue import CancelReject, ExecReport, Venue

_BUSINESS_REJECT_OTHER = 0


@dataclass(eq=False)
class VenueSession:
    """Runtime state of one venue: its core, its faults, its latency, its FIX session."""

    venue: Venue
    session_id: fix.SessionID  # our own copy, safe to use from any thread
    latency: LatencyConfig
    latency_rng: np.random.Generator
    faults: FaultState
    require_credentials: bool = False
    logged_on: bool = False
    logons: int = 0
    orders: int = 0
    errors: int = 0
    reenable_after_logout: bool = False
    logged_on_event: threading.Event = field(default_factory=threading.Event)

    def delay(self) -> float:
        if self.latency.is_zero:
            return 0.0
        jitter = self.latency.jitter_ms * self.latency_rng.random() if self.latency.jitter_ms else 0.0
        return (self.latency.fixed_ms + jitter) / 1000.0


class VenueApplication(fix.Application):
    def __init__(self, sessions: list[VenueSession], scheduler: Scheduler, truth: GroundTruthLog,
                 on_event: Callable[[str], None] = lambda line: None,
                 market_data: MarketDataFeed | None = None) -> None:
        super().__init__()
        self._market_data = market_data
        self._market_data_key = market_data.session_id.toString() if market_data is not None else None
        self._market_data_ids = ((market_data.session_id.getSenderCompID().getValue(),
                                  market_data.session_id.getTargetCompID().getValue())
                                 if market_data is not None else None)  # (our CompID, the client's)
        self._by_session = {s.session_id.toString(): s for s in sessions}
        self._by_comp_ids = {(s.session_id.getSenderCompID().getValue(), s.session_id.getTargetCompID().getValue()): s
                             for s in sessions}  # (our CompID, the client's) -> venue
        self._scheduler = scheduler
        self._truth = truth
        self._on_event = on_event
        self.logon_check = LogonCheck()  # the host gives it the secrets store before it starts

    # -- session callbacks ----------------------------------------------------------------------

    def onCreate(self, sessionID: fix.SessionID) -> None:
        pass

    def onLogon(self, sessionID: fix.SessionID) -> None:
        try:
            if sessionID.toString() == self._market_data_key:
                self._market_data.logged_on = True
                self._truth.record({"event": "logon", "session": "market_data"})
                return
            edge = self._by_session[sessionID.toString()]
            edge.logged_on = True
            edge.logons += 1
            edge.logged_on_event.set()
            self._truth.record({"event": "logon", "venue": edge.venue.name})
            seconds = edge.faults.take_timed_disconnect()
            if seconds is not None:
                self._scheduler.later(seconds, lambda: self._logout(edge, "scheduled disconnect (fault)"))
        except Exception:  # noqa: BLE001 - see module docstring
            self._failed("onLogon")

    def onLogout(self, sessionID: fix.SessionID) -> None:
        try:
            if sessionID.toString() == self._market_data_key:
                self._market_data.logged_on = False
                self._market_data.session_ended()  # subscriptions end with the session
                self._truth.record({"event": "logout", "session": "market_data"})
                return
            edge = self._by_session[sessionID.toString()]
            edge.logged_on = False
            edge.logged_on_event.clear()
            self._truth.record({"event": "logout", "venue": edge.venue.name})
            if edge.reenable_after_logout:
                edge.reenable_after_logout = False
                session = fix.Session.lookupSession(edge.session_id)
                if session is not None:
                    session.logon()  # acceptors only re-enable: the client decides when to log on again
        except Exception:  # noqa: BLE001
            self._failed("onLogout")

    def toAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        pass

    def fromAdmin(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        logon = True  # until the message is known not to be one: a logon we could not check is refused
        try:
            keep_thread_state()
            logon = msg_type(message) == "A"
            if not logon:
                return
            key = sessionID.toString()
            if key == self._market_data_key:
                edge = None
                refusal = self.logon_check.refusal(False, self._market_data.require_credentials,
                                                   sessionID.getTargetCompID().getValue(), message.toString())
            else:
                edge = self._by_session[key]
                refusal = self.logon_check.refusal(edge.faults.refuse_logon, edge.require_credentials,
                                                   sessionID.getTargetCompID().getValue(), message.toString())
        except Exception:  # noqa: BLE001 - fail closed
            self._failed("fromAdmin")
            if logon:
                raise fix.RejectLogon(LOGON_REFUSED) from None
            return
        if refusal is not None:
            reason = "fault" if refusal == FAULT_REFUSED else "credentials"
            who = {"venue": edge.venue.name} if edge is not None else {"session": "market_data"}
            self._truth.record({"event": "logon_refused", **who, "reason": reason})
            raise fix.RejectLogon(refusal)

    def toApp(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        pass

    def fromApp(self, message: fix.Message, sessionID: fix.SessionID) -> None:
        edge = None
        kind = "?"
        try:
            keep_thread_state()
            # One toString() per message: the session and the type come from the text rather than
            # sessionID.toString() and getHeader().getField(), three SWIG calls fewer per order.
            text = message.toString()
            fields = fields_of(text)
            kind = fields.get("35", "?")
            if self._market_data is not None and (fields.get("56"), fields.get("49")) == self._market_data_ids:
                self._from_market_data_client(kind, fields, text)
                return
            edge = self._by_comp_ids.get((fields.get("56"), fields.get("49"))) or self._by_session[sessionID.toString()]
            if kind == "D":
                self._new_order(edge, fields)
            elif kind == "F":
                self._answer(edge, edge.venue.cancel(cancel_request_from_fix(message)))
            elif kind == "H":
                self._answer(edge, edge.venue.status(status_request_from_fix(message)))
            else:
                seq = fields.get("34")
                reject = business_reject_to_fix(seq, kind, BUSINESS_REJECT_UNSUPPORTED_MESSAGE_TYPE,
                                                f"message type {kind} is not supported by this venue")
                fix.Session.sendToTarget(reject, edge.session_id)
        except Exception:  # noqa: BLE001
            self._failed("fromApp", edge)
            if edge is not None:
                try:
                    reject = business_reject_to_fix(None, kind, _BUSINESS_REJECT_OTHER, "venue could not process the message")
                    fix.Session.sendToTarget(reject, edge.session_id)
                except Exception:  # noqa: BLE001
                    self._failed("fromApp reject", edge)

    # -- work -----------------------------------------------------------------------------------

    def _from_market_data_client(self, kind: str, fields: dict[str, str], text: str) -> None:
        if kind == "V":
            self._market_data.receive(text)
            return
        # Sent from the scheduler thread like everything else this session gets, so it keeps its place.
        reject = business_reject_to_fix(fields.get("34"), kind, BUSINESS_REJECT_UNSUPPORTED_MESSAGE_TYPE,
                                        f"message type {kind} is not supported by the market-data session")
        session_id = self._market_data.session_id
        self._scheduler.later(0.0, lambda: fix.Session.sendToTarget(reject, session_id))

    def _new_order(self, edge: VenueSession, fields: dict[str, str]) -> None:
        # With store: file the venue has written the order's new state to its order file by now,
        # before the ground-truth line and before any report reaches QuickFIX.
        outcome = edge.venue.new_order(new_order_from_fields(fields))
        edge.orders += 1
        self._truth.record(outcome.truth)
        self._deliver(edge, outcome.reports)
        if edge.faults.order_handled():
            self._truth.record({"event": "disconnect", "venue": edge.venue.name, "after_orders": edge.orders})
            session = fix.Session.lookupSession(edge.session_id)
            if session is not None:
                session.disconnect()  # on the QuickFIX thread, as QuickFIX itself does on errors

    def _answer(self, edge: VenueSession, answer: ExecReport | CancelReject) -> None:
        if isinstance(answer, CancelReject):
            fix.Session.sendToTarget(cancel_reject_to_fix(answer), edge.session_id)
        else:
            self._deliver(edge, [answer])

    def _deliver(self, edge: VenueSession, reports: list[ExecReport]) -> None:
        delay = edge.delay()
        due = time.monotonic() + delay
        stamp = utc_timestamp()  # one TransactTime for the reports of one event
        for report in reports:
            plan = edge.faults.plan(report.exec_type)
            if not plan.send:
                self._truth.record({"event": "report_dropped", "venue": edge.venue.name, "exec_id": report.exec_id,
                                    "cl_ord_id": report.cl_ord_id, "exec_type": report.exec_type})
                continue
            message = execution_report_to_fix(report, stamp)
            if plan.copies > 1:
                self._truth.record({"event": "report_duplicated", "venue": edge.venue.name,
                                    "exec_id": report.exec_id, "cl_ord_id": report.cl_ord_id})
            if plan.extra_delay:
                self._truth.record({"event": "report_delayed", "venue": edge.venue.name, "exec_id": report.exec_id,
                                    "cl_ord_id": report.cl_ord_id, "seconds": plan.extra_delay})
            for _ in range(plan.copies):
                if delay == 0.0 and plan.extra_delay == 0.0:
                    fix.Session.sendToTarget(message, edge.session_id)
                else:
                    self._scheduler.at(due + plan.extra_delay, _sender(message, edge.session_id))

    def _logout(self, edge: VenueSession, reason: str) -> None:
        session = fix.Session.lookupSession(edge.session_id)
        if session is not None and session.isLoggedOn():
            self._truth.record({"event": "disconnect", "venue": edge.venue.name, "reason": reason})
            edge.reenable_after_logout = True
            session.logout(reason)

    def set_faults(self, edge: VenueSession, faults: FaultConfig) -> None:
        state = FaultState(faults)
        edge.faults = state  # one reference swap: the QuickFIX thread sees the old faults or the new
        if edge.logged_on:  # a timed disconnect set while connected counts from now
            seconds = state.take_timed_disconnect()
            if seconds is not None:
                self._scheduler.later(seconds, lambda: self._logout(edge, "scheduled disconnect (fault)"))

    def _failed(self, where: str, edge: VenueSession | None = None) -> None:
        if edge is not None:
            edge.errors += 1
        detail = traceback.format_exc(limit=4)
        self._truth.record({"event": "callback_error", "where": where,
                            "venue": edge.venue.name if edge else None, "error": detail})
        self._on_event(f"error in {where}: {detail}")


def _sender(message: fix.Message, session_id: fix.SessionID) -> Callable[[], None]:
    return lambda: fix.Session.sendToTarget(message, session_id)
