"""A child order at one venue: its state table and how a venue's report changes it.

Race cases written down (each is real and each has a row or a rule below):

* a fill and our cancel cross on the wire: PENDING_CANCEL takes fills;
* a report arrives after the sweep's deadline gave up on the child: UNRESOLVED takes fills and
  finals, and the child's quantity stays reserved on the parent until then;
* the venue sends a fill after it confirmed the cancel (a late fill): the child stays CANCELED and
  the fill is reported as ``late`` so the parent books it only if it still fits;
* a report repeats (same ExecID), or a resend carries a new ExecID for an old fill: ExecIDs are
  deduplicated, and fills are counted from the venue's CumQty, which never counts a share twice;
* a venue reports more than we sent: capped at the child's quantity, flagged as an anomaly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from engine.domain.ids import ChildId, ParentId, Symbol, VenueName
from engine.domain.messages import VenueOrderStatus, VenueReport, VenueReportKind
from engine.domain.orders import Side
from engine.domain.state_table import StateTable


class ChildState(Enum):
    SENT = "sent"
    ACKED = "acked"
    PARTIALLY_FILLED = "partially filled"
    PENDING_CANCEL = "pending cancel"
    UNRESOLVED = "unresolved"  # the sweep's deadline passed without a final report
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    is_final: bool  # set below for every member: a plain attribute, read on every report


for _state in ChildState:
    _state.is_final = _state in (ChildState.FILLED, ChildState.CANCELED, ChildState.REJECTED, ChildState.EXPIRED)


class ChildTrigger(Enum):
    ACK = "ack"
    FILL = "fill"
    FILL_COMPLETE = "fill complete"
    CANCEL_SENT = "cancel sent"
    TIMEOUT = "timeout"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    LATE_FILL = "late fill"


_S, _T = ChildState, ChildTrigger
_OPEN = (_S.SENT, _S.ACKED, _S.PARTIALLY_FILLED, _S.PENDING_CANCEL, _S.UNRESOLVED)
CHILD_TABLE: StateTable[ChildState, ChildTrigger] = StateTable.from_rules([
    ((_S.SENT,), _T.ACK, _S.ACKED),
    ((_S.ACKED, _S.PARTIALLY_FILLED, _S.PENDING_CANCEL, _S.UNRESOLVED), _T.ACK, None),
    ((_S.SENT, _S.ACKED, _S.PARTIALLY_FILLED), _T.FILL, _S.PARTIALLY_FILLED),
    ((_S.PENDING_CANCEL, _S.UNRESOLVED), _T.FILL, None),
    (_OPEN, _T.FILL_COMPLETE, _S.FILLED),
    ((_S.SENT, _S.ACKED, _S.PARTIALLY_FILLED), _T.CANCEL_SENT, _S.PENDING_CANCEL),
    ((_S.PENDING_CANCEL, _S.UNRESOLVED), _T.CANCEL_SENT, None),
    ((_S.SENT, _S.ACKED, _S.PARTIALLY_FILLED, _S.PENDING_CANCEL), _T.TIMEOUT, _S.UNRESOLVED),
    (_OPEN, _T.CANCELED, _S.CANCELED),
    (_OPEN, _T.REJECTED, _S.REJECTED),
    (_OPEN, _T.EXPIRED, _S.EXPIRED),
    ((_S.CANCELED, _S.EXPIRED), _T.LATE_FILL, None),
])

_FINAL_TRIGGER = {VenueOrderStatus.FILLED: _T.FILL_COMPLETE, VenueOrderStatus.CANCELED: _T.CANCELED,
                  VenueOrderStatus.REJECTED: _T.REJECTED, VenueOrderStatus.EXPIRED: _T.EXPIRED}


@dataclass(frozen=True, slots=True)
class ChildChange:
    """What one report did to a child: shares newly filled (and at what price), whether the child
    just became final, whether the fill came after the child's end, and any anomaly to count."""

    filled: int = 0
    price: float = 0.0
    became_final: bool = False
    late: bool = False
    anomalies: tuple[str, ...] = ()
    overfilled: bool = False  # the venue reported more filled than we sent (capped): a venue to stop using


@dataclass(eq=False, slots=True)
class ChildOrder:
    child_id: ChildId
    parent_id: ParentId
    venue: VenueName
    sweep: int
    side: Side
    symbol: Symbol
    quantity: int
    min_qty: int | None
    limit_price: float | None
    sent_at: float
    state: ChildState = ChildState.SENT
    cum_qty: int = 0
    notional: float = 0.0
    final_at: float | None = None
    timed_out: bool = False  # gave up on at a deadline: its outcome teaches the weights nothing
    cancel_attempts: int = 0
    seen_exec_ids: set[str] = field(default_factory=set)

    @property
    def is_final(self) -> bool:
        return self.state.is_final

    @property
    def open_quantity(self) -> int:
        """Shares that may still fill: reserved on the parent until the child is final."""
        return 0 if self.is_final else self.quantity - self.cum_qty

    @property
    def avg_px(self) -> float:
        return self.notional / self.cum_qty if self.cum_qty else 0.0

    def transition(self, trigger: ChildTrigger) -> str | None:
        """Apply a trigger; an impossible one leaves the child as it is and is returned as an anomaly."""
        target = CHILD_TABLE.next(self.state, trigger)
        if target is None:
            return f"child {self.child_id}: {trigger.value} is impossible in state {self.state.value}"
        self.state = target
        return None

    def apply(self, report: VenueReport, now: float) -> ChildChange:
        if report.exec_id in self.seen_exec_ids:
            return ChildChange()
        self.seen_exec_ids.add(report.exec_id)
        anomalies: list[str] = []
        was_final = self.is_final
        filled, price = self._new_fill(report, anomalies)
        if filled:
            self.cum_qty += filled
            self.notional += filled * price
            if was_final:
                _note(anomalies, self.transition(_T.LATE_FILL))
            elif self.cum_qty >= self.quantity:
                _note(anomalies, self.transition(_T.FILL_COMPLETE))
            else:
                _note(anomalies, self.transition(_T.FILL))
        if not self.is_final:
            trigger = self._final_trigger(report)
            if trigger is not None:
                _note(anomalies, self.transition(trigger))
            elif report.kind is VenueReportKind.NEW:
                _note(anomalies, self.transition(_T.ACK))
        became_final = self.is_final and not was_final
        if became_final:
            self.final_at = now
        return ChildChange(filled, price, became_final, was_final and filled > 0, tuple(anomalies),
                           any(text.startswith(_OVERFILL) for text in anomalies))

    def _new_fill(self, report: VenueReport, anomalies: list[str]) -> tuple[int, float]:
        """Shares this report adds, counted from the venue's CumQty when it gives one."""
        if report.cum_qty is not None:
            venue_cum = int(report.cum_qty)
        elif report.kind is VenueReportKind.TRADE:
            venue_cum = self.cum_qty + int(report.last_qty)
        else:
            return 0, 0.0
        if venue_cum > self.quantity:
            anomalies.append(f"{_OVERFILL} {self.child_id}: venue reports {venue_cum} filled of {self.quantity} sent")
            venue_cum = self.quantity
        filled = venue_cum - self.cum_qty
        if filled <= 0:
            return 0, 0.0
        if report.kind is VenueReportKind.TRADE and report.last_px > 0:
            return filled, report.last_px
        if report.avg_px:  # a status or final report carrying a fill we had not seen
            missing_notional = report.avg_px * venue_cum - self.notional
            return filled, (missing_notional / filled if missing_notional > 0 else report.avg_px)
        return filled, report.last_px

    def _final_trigger(self, report: VenueReport) -> ChildTrigger | None:
        if report.unknown_order:
            return _T.CANCELED  # the venue does not have it: nothing more can fill
        if report.status.is_final:
            return _FINAL_TRIGGER[report.status]
        if report.kind is VenueReportKind.CANCELED:
            return _T.CANCELED
        if report.kind is VenueReportKind.REJECTED:
            return _T.REJECTED
        if report.kind is VenueReportKind.EXPIRED:
            return _T.EXPIRED
        return None


_OVERFILL = "overfill of child"


def _note(anomalies: list[str], anomaly: str | None) -> None:
    if anomaly is not None:
        anomalies.append(anomaly)
