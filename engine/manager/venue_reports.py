"""What venues report: execution reports, refused cancels, sessions up and down, and the
reconciliation of children given up on at a deadline.

Venue reports update the children; fills are booked on the parent, journaled and reported to the
trader at once. A report for an order not in memory is matched against the journal, and a fill is
never dropped: one nobody can take is journaled unbooked. Impossible transitions and unknown orders
are logged, counted and journaled as incidents, never raised: nothing a venue sends can crash the
manager.
"""

from __future__ import annotations

import structlog

from engine.domain.child import ChildChange, ChildOrder, ChildState
from engine.domain.ids import ChildId, parent_of
from engine.domain.messages import (QueryChild, ReportKind, VenueCancelRefused, VenueOrderStatus, VenueReport,
                                    VenueReportKind, VenueSessionChanged)
from engine.manager.parent_tasks import ManagerPart
from engine.manager.restore import recall_child, recall_parent

log = structlog.get_logger("engine.manager")


class VenueReports(ManagerPart):
    """Reports from venues: fills booked, children resolved, unknown children adopted."""

    def on_venue_report(self, report: VenueReport) -> None:
        child = self._shared.children.get(report.child_id)
        if child is None or child.venue != report.venue:
            child = self._adopt_unknown_child(report)
            if child is None:
                return
        now = self._shared.clock()
        if child.state is ChildState.SENT and not child.timed_out:  # its first report: the venue's ack latency
            self._shared.metrics.child_ack_latency(child.venue, now - child.sent_at)
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
        shared = self._shared
        detail = (f"{report.venue} {report.child_id} {report.kind.value} cum={report.cum_qty} "
                  f"leaves={report.leaves_qty} exec={report.exec_id}")
        parent_id = parent_of(report.child_id)
        parent = None
        if parent_id is not None and report.child_id not in shared.children:
            parent = shared.parents.get(parent_id) or recall_parent(shared.config.journal, parent_id)
        if parent is None:
            shared.incident("report for an unknown order", detail)
            filled = int(report.cum_qty if report.cum_qty is not None else report.last_qty)
            if filled > 0:
                shared.journal.record_fill(report.venue, report.exec_id, report.child_id, parent_id or "", filled,
                                           report.last_px or report.avg_px or 0.0, 0, True, shared.clock())
            return None
        if parent.parent_id not in shared.parents:  # a parent that had left memory: back for this report
            shared.parents[parent.parent_id] = parent
            self._parent_tasks.forget_later(parent)
        journaled = recall_child(shared.config.journal, report.child_id, parent)
        if journaled is not None:  # finished before (a resent report, say): what it adds, if anything, is late
            shared.runner.adopt(journaled)
            return journaled
        shared.incident("report for a child the journal does not hold", detail)
        quantity = int(max((report.cum_qty or 0) + (report.leaves_qty or 0), report.cum_qty or 0, report.last_qty))
        spec = parent.spec
        child = ChildOrder(ChildId(report.child_id), parent.parent_id, report.venue, int(report.child_id.split(".")[2]),
                           spec.side, spec.symbol, quantity, None, spec.limit_price, shared.clock(),
                           state=ChildState.CANCELED, final_at=shared.clock(), timed_out=True)
        shared.runner.adopt(child)
        return child

    def _after_child_change(self, child: ChildOrder, change: ChildChange, exec_id: str, now: float) -> None:
        shared = self._shared
        for anomaly in change.anomalies:
            shared.incident("venue anomaly", anomaly)
        if change.overfilled and shared.config.trips.venue_overfill:
            shared.trip_venue(child.venue, f"overfill: reported more filled than child {child.child_id} sent")
        parent = shared.parents[child.parent_id]
        already_done = parent.is_final
        booked = parent.book(child, change, now)
        if change.filled:
            shared.metrics.fill(child.venue, change.filled)
            midpoint = (shared.markouts.on_fill(child.venue, exec_id, child.child_id, child.side, child.symbol,
                                                   change.filled, now)
                        if shared.markouts is not None else None)
            shared.journal.record_fill(child.venue, exec_id, child.child_id, parent.parent_id, change.filled,
                                       change.price, booked.booked, change.late, now, midpoint)
        if booked.booked:
            shared.risk.on_fill(parent.spec.session, parent.spec.symbol, booked.booked, booked.price, now)
            shared.send(parent, ReportKind.TRADE, last_qty=booked.booked, last_px=booked.price, last_market=child.venue)
            if already_done:
                shared.incident("fill after the parent's final report", f"{child.child_id}: {booked.booked} "
                                                                          f"shares on {parent.state.value} parent")
        if booked.unbooked:
            shared.incident("late fill not booked", f"{child.child_id}: {booked.unbooked} shares after the child ended "
                                                    f"would overfill parent {parent.parent_id}")
        if change.filled or change.became_final:
            shared.journal.record_child(child)
        if booked.booked:  # the parent's journaled fields (state, cum, notional) change only with a fill
            shared.journal.record_parent(parent)
        if change.became_final:
            sweep = shared.runner.sweep_of.get(child.child_id)
            if sweep is not None:
                sweep.child_final()
            if child.timed_out:
                log.info("child reconciled", parent=parent.parent_id, child=child.child_id, venue=child.venue,
                         state=child.state.value, cum_qty=child.cum_qty)
        self._parent_tasks.after_child_change(parent, change.became_final)

    def on_venue_cancel_refused(self, message: VenueCancelRefused) -> None:
        child = self._shared.children.get(message.child_id)
        if child is None or child.is_final:
            return
        if message.too_late:  # the child is done at the venue and its final report is late or lost: ask
            self._query(child)
            return
        # the venue never had it: nothing more can fill
        report = VenueReport(child.venue, child.child_id, f"cancel-refused:{child.child_id}:{child.cancel_attempts}",
                             VenueReportKind.STATUS, VenueOrderStatus.OTHER, unknown_order=True, text=message.text)
        now = self._shared.clock()
        self._after_child_change(child, child.apply(report, now), report.exec_id, now)

    def on_venue_session(self, message: VenueSessionChanged) -> None:
        log.info("venue session", venue=message.venue, logged_on=message.logged_on)
        if message.logged_on:
            self.reconcile(venue=message.venue, force=True)

    def reconcile(self, venue: str | None = None, force: bool = False) -> None:
        """Ask the venues about children given up on at a deadline (their fate decides the reserve)."""
        for child in list(self._shared.children.values()):
            if child.state is ChildState.UNRESOLVED and (venue is None or child.venue == venue):
                if force or self._shared.venues.logged_on(child.venue):
                    self._query(child)

    def _query(self, child: ChildOrder) -> None:
        self._shared.outbox.query(QueryChild(child.venue, child.child_id, child.side, child.symbol,
                                             self._shared.ids.status_request_id(child.child_id)))
