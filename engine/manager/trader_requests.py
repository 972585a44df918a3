"""What traders ask: new parents, cancels, replaces, status queries, and what is not supported.

A new parent is checked, acknowledged (Pending New, New) and handed to its task
(:mod:`engine.manager.parent_tasks`). Cancel and replace requests are acknowledged at once (Pending
Cancel / Pending Replace) and journaled with the parent, so a restart still carries them out; the
parent's task carries them out between sweeps. A duplicate ClOrdID, an unknown order or a request
that comes too late is refused, never raised: nothing a trader sends can crash the manager.
"""

from __future__ import annotations

import dataclasses

import structlog

from engine.domain.ids import ClOrdId, SessionKey
from engine.domain.messages import (BusinessRefusal, CancelParent, CancelRefused, InvalidParent, NewParent,
                                    ParentReport, ParentStatus, ParentStatusQuery, ReplaceParent, ReportKind,
                                    TraderSessionChanged, UnsupportedMessage)
from engine.domain.orders import ParentSpec, Refusal, RejectReason, check_parent
from engine.domain.risk import Verdict, WorkingOrder
from engine.domain.parent import ParentOrder, ParentTrigger
from engine.manager.parent_tasks import ManagerPart, ParentTasks, replace_refusal
from engine.manager.shared import SharedState

log = structlog.get_logger("engine.manager")


class TraderRequests(ManagerPart):
    def __init__(self, shared: SharedState, parent_tasks: ParentTasks) -> None:
        super().__init__(shared, parent_tasks)
        self._symbols = frozenset(shared.config.symbols)

    def on_new_parent(self, message: NewParent) -> None:
        shared = self._shared
        spec = message.spec
        key = (spec.session, spec.cl_ord_id)
        now = shared.clock()
        if key in shared.used_cl_ord_ids:
            self._reject(spec.session, spec.cl_ord_id, RejectReason.DUPLICATE_ORDER,
                         f"duplicate ClOrdID {spec.cl_ord_id}", spec.side, spec.symbol, spec.quantity)
            return
        shared.used_cl_ord_ids.add(key)
        parent = ParentOrder(shared.ids.parent(), spec, now)
        refusal = check_parent(spec, self._symbols, now) or self._halt_refusal(spec) or self._risk_refusal(spec, now)
        if refusal is not None:
            shared.metrics.parent_ended("rejected")
            parent.transition(ParentTrigger.REJECT, now)
            shared.send(parent, ReportKind.REJECTED, text=refusal.text, reject_reason=refusal.reason)
            shared.journal.record_parent(parent)
            return
        shared.adopt(parent)
        shared.send(parent, ReportKind.PENDING_NEW)
        parent.transition(ParentTrigger.ACCEPT, now)
        shared.send(parent, ReportKind.NEW)
        shared.journal.record_parent(parent)
        shared.metrics.parent_ended("accepted")
        log.info("parent accepted", parent=parent.parent_id, session=spec.session, cl_ord_id=spec.cl_ord_id,
                 side=spec.side.value, symbol=spec.symbol, quantity=spec.quantity,
                 order_type=spec.order_type.value, time_in_force=spec.time_in_force.value)
        self._parent_tasks.spawn(parent)

    def _halt_refusal(self, spec: ParentSpec) -> Refusal | None:
        refusal = self._shared.controls.refusal(spec)
        if refusal is not None:
            self._shared.counters["refused while halted"] += 1
            self._shared.metrics.risk_refusal("halt")
        return refusal

    def _risk_refusal(self, spec: ParentSpec, now: float) -> Refusal | None:
        """The session's message rate, then the parent's limits against its session's working parents."""
        risk = self._shared.risk
        verdict = risk.check_message(spec.session, now)
        if verdict.accepted:
            working = [WorkingOrder(p.spec.symbol, p.leaves_qty, p.spec.limit_price)
                       for p in self._shared.parents.values() if p.spec.session == spec.session and not p.is_final]
            verdict = risk.check_parent(spec, now, working)
        for warning in verdict.warnings:
            self._shared.counters[f"risk soft {warning.limit}"] += 1
            self._shared.metrics.risk_warning(warning.limit)
            log.warning("risk soft limit exceeded", session=spec.session, cl_ord_id=spec.cl_ord_id, text=warning.text)
        if not verdict.accepted:
            self._count_refusal(verdict)
        return verdict.refusal

    def _count_refusal(self, verdict: Verdict) -> None:
        limit = verdict.breach.limit if verdict.breach else verdict.refusal.reason.name.lower()
        self._shared.counters[f"risk refused {limit}"] += 1
        self._shared.metrics.risk_refusal(limit)

    def on_invalid_parent(self, message: InvalidParent) -> None:
        self._shared.used_cl_ord_ids.add((message.session, message.cl_ord_id))
        self._reject(message.session, message.cl_ord_id, message.reason, message.text, message.side,
                     message.symbol, message.quantity)

    def on_cancel(self, message: CancelParent) -> None:
        # counted against the session's message rate, never refused by it: a cancel only lowers exposure
        self._shared.risk.check_message(message.session, self._shared.clock())
        parent = self._shared.find(message.session, message.orig_cl_ord_id)
        refusal = self._cancel_refusal(parent, message.session, message.cl_ord_id, message.orig_cl_ord_id, False)
        if refusal is not None:
            self._shared.outbox.refuse_cancel(refusal)
            return
        parent.pending_replace = None  # a cancel overrides a pending replace
        parent.pending_cancel = message
        self._hold_request(parent, message, ParentTrigger.REQUEST_CANCEL, ReportKind.PENDING_CANCEL)

    def on_replace(self, message: ReplaceParent) -> None:
        # a replace counts against the session's message rate and is refused over it (a cancel never is)
        rate = self._shared.risk.check_message(message.session, self._shared.clock())
        parent = self._shared.find(message.session, message.orig_cl_ord_id)
        refusal = self._cancel_refusal(parent, message.session, message.cl_ord_id, message.orig_cl_ord_id, True)
        if refusal is None and not rate.accepted:
            self._count_refusal(rate)
            refusal = dataclasses.replace(replace_refusal(parent, message, False, rate.refusal.text), broker_option=True)
        if refusal is None and parent.state not in (ParentStatus.NEW, ParentStatus.PARTIALLY_FILLED):
            refusal = replace_refusal(parent, message, True, f"the order is {parent.state.value}")
        if refusal is None and not 0 < message.quantity <= parent.quantity:
            refusal = replace_refusal(parent, message, False,
                                      f"OrderQty {message.quantity}: only a reduction of {parent.quantity} is accepted")
        if refusal is not None:
            self._shared.outbox.refuse_cancel(refusal)
            return
        parent.pending_replace = message
        self._hold_request(parent, message, ParentTrigger.REQUEST_REPLACE, ReportKind.PENDING_REPLACE)

    def _hold_request(self, parent: ParentOrder, request: CancelParent | ReplaceParent, trigger: ParentTrigger,
                      kind: ReportKind) -> None:
        """Acknowledge a cancel or replace at once (Pending Cancel / Pending Replace); the parent's
        task carries it out between sweeps."""
        shared = self._shared
        shared.by_cl_ord_id[(request.session, request.cl_ord_id)] = parent.parent_id
        shared.used_cl_ord_ids.add((request.session, request.cl_ord_id))
        parent.transition(trigger, shared.clock())
        shared.send(parent, kind, cl_ord_id=request.cl_ord_id, orig_cl_ord_id=request.orig_cl_ord_id)
        shared.journal.record_parent(parent)  # with the request: a restart still carries it out
        self._parent_tasks.wake(parent.parent_id)

    def on_status_query(self, message: ParentStatusQuery) -> None:
        parent = self._shared.find(message.session, message.cl_ord_id)
        if parent is None:
            self._reject(message.session, message.cl_ord_id, RejectReason.UNKNOWN_ORDER,
                         f"unknown order {message.cl_ord_id}", None, "[N/A]", 0, kind=ReportKind.STATUS)
            return
        self._shared.send(parent, ReportKind.STATUS, cl_ord_id=message.cl_ord_id)

    def on_unsupported(self, message: UnsupportedMessage) -> None:
        self._shared.outbox.refuse_business(BusinessRefusal(message.session, message.msg_type, message.ref_seq_num,
                                                            f"message type {message.msg_type} is not supported"))

    def on_trader_session(self, message: TraderSessionChanged) -> None:
        self._shared.trader_sessions[str(message.session)] = message.logged_on
        log.info("trader session", session=message.session, logged_on=message.logged_on)

    def _cancel_refusal(self, parent: ParentOrder | None, session: SessionKey, cl_ord_id: ClOrdId,
                        orig_cl_ord_id: ClOrdId, for_replace: bool) -> CancelRefused | None:
        if (session, cl_ord_id) in self._shared.used_cl_ord_ids:
            return CancelRefused(session, parent.parent_id if parent else "NONE", cl_ord_id, orig_cl_ord_id,
                                 parent.state if parent else None, for_replace, False, f"duplicate ClOrdID {cl_ord_id}")
        if parent is None:
            return CancelRefused(session, "NONE", cl_ord_id, orig_cl_ord_id, None, for_replace, False,
                                 f"unknown order {orig_cl_ord_id}")
        if parent.is_final or parent.state is ParentStatus.PENDING_CANCEL:
            return CancelRefused(session, parent.parent_id, cl_ord_id, orig_cl_ord_id, parent.state, for_replace, True,
                                 f"too late: the order is {parent.state.value}")
        return None

    def _reject(self, session: SessionKey, cl_ord_id: ClOrdId, reason: RejectReason, text: str, side, symbol: str,
                quantity: int, kind: ReportKind = ReportKind.REJECTED) -> None:
        report = ParentReport(session=session, order_id="NONE", cl_ord_id=cl_ord_id,
                              exec_id=self._shared.ids.exec_id(), kind=kind, status=ParentStatus.REJECTED, side=side,
                              symbol=symbol, quantity=quantity, cum_qty=0, leaves_qty=0, avg_px=0.0,
                              reject_reason=reason, text=text)
        self._shared.outbox.report(report)
        if kind is ReportKind.REJECTED:
            self._shared.metrics.parent_ended("rejected")
        log.info("parent rejected", session=session, cl_ord_id=cl_ord_id, reason=reason.value, text=text)
