"""A parent order: its state table, its children, and the invariant that protects the trader.

Invariant (checked on every change): ``cum_qty + reserved <= quantity``, where ``reserved`` is the
open quantity of children not yet final. A child is created only from the unreserved remainder, and
a fill on a child that had already ended (a late fill) is booked only up to what is still free, so
no sequence of venue reports can overfill the trader. Fills the parent cannot take are returned as
``unbooked`` for the operator.

Cancel and replace requests wait for the sweep in flight: they are held as pending and carried out
by the order manager once the sweep's children have resolved or been given up on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from engine.domain.child import ChildChange, ChildOrder
from engine.domain.ids import ChildId, ClOrdId, ExecId, ParentId, VenueName
from engine.domain.messages import CancelParent, ParentReport, ParentStatus, ReplaceParent, ReportKind
from engine.domain.orders import ParentSpec, RejectReason, TimeInForce
from engine.domain.state_table import StateTable


class ParentTrigger(Enum):
    ACCEPT = "accept"
    REJECT = "reject"
    FILL = "fill"
    FILL_COMPLETE = "fill complete"
    REQUEST_CANCEL = "request cancel"
    REQUEST_REPLACE = "request replace"
    RESUME_NEW = "resume as new"
    RESUME_PARTIAL = "resume partially filled"
    CANCEL = "cancel"
    EXPIRE = "expire"


_P, _T = ParentStatus, ParentTrigger
_WORKING = (_P.NEW, _P.PARTIALLY_FILLED)
_PENDING = (_P.PENDING_CANCEL, _P.PENDING_REPLACE)
PARENT_TABLE: StateTable[ParentStatus, ParentTrigger] = StateTable.from_rules([
    ((_P.PENDING_NEW,), _T.ACCEPT, _P.NEW),
    ((_P.PENDING_NEW,), _T.REJECT, _P.REJECTED),
    (_WORKING, _T.FILL, _P.PARTIALLY_FILLED),
    (_PENDING, _T.FILL, None),
    (_WORKING + _PENDING, _T.FILL_COMPLETE, _P.FILLED),
    (_WORKING + (_P.PENDING_REPLACE,), _T.REQUEST_CANCEL, _P.PENDING_CANCEL),
    (_WORKING, _T.REQUEST_REPLACE, _P.PENDING_REPLACE),
    ((_P.PENDING_REPLACE,), _T.RESUME_NEW, _P.NEW),
    ((_P.PENDING_REPLACE,), _T.RESUME_PARTIAL, _P.PARTIALLY_FILLED),
    (_WORKING + _PENDING, _T.CANCEL, _P.CANCELED),
    (_WORKING + _PENDING, _T.EXPIRE, _P.EXPIRED),
])

FINAL_PARENT_STATES = frozenset({_P.FILLED, _P.CANCELED, _P.EXPIRED, _P.REJECTED})


class InvariantBroken(RuntimeError):
    """Our own bug (never a venue's): the engine tried to reserve more than the parent has."""


@dataclass(frozen=True, slots=True)
class BookedFill:
    booked: int
    price: float
    unbooked: int  # a late fill the parent could no longer take


@dataclass(eq=False, slots=True)
class ParentOrder:
    parent_id: ParentId
    spec: ParentSpec
    created_at: float
    quantity: int = 0
    state: ParentStatus = ParentStatus.PENDING_NEW
    cl_ord_id: ClOrdId = ClOrdId("")  # the trader's current ClOrdID (a replace changes it)
    cum_qty: int = 0
    notional: float = 0.0
    sweeps: int = 0
    done_at: float | None = None
    pending_cancel: CancelParent | None = None
    pending_replace: ReplaceParent | None = None
    open_children: dict[ChildId, ChildOrder] = field(default_factory=dict)
    anomalies: int = 0
    # ``reserved`` is kept as a running total (it is read on every report): each open child's
    # contribution is remembered, so a change replaces it instead of summing all children again.
    reserved: int = field(default=0, init=False)
    _held: dict[ChildId, int] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        if not self.quantity:
            self.quantity = self.spec.quantity
        if not self.cl_ord_id:
            self.cl_ord_id = self.spec.cl_ord_id

    # -- quantities ---------------------------------------------------------------------------

    @property
    def unreserved(self) -> int:
        """Shares a new sweep may send."""
        return self.quantity - self.cum_qty - self.reserved

    @property
    def leaves_qty(self) -> int:
        return 0 if self.is_final else self.quantity - self.cum_qty

    @property
    def avg_px(self) -> float:
        return self.notional / self.cum_qty if self.cum_qty else 0.0

    @property
    def is_final(self) -> bool:
        return self.state in FINAL_PARENT_STATES

    @property
    def is_ioc(self) -> bool:
        return self.spec.time_in_force is TimeInForce.IOC

    # -- transitions --------------------------------------------------------------------------

    def transition(self, trigger: ParentTrigger, now: float) -> str | None:
        target = PARENT_TABLE.next(self.state, trigger)
        if target is None:
            self.anomalies += 1
            return f"parent {self.parent_id}: {trigger.value} is impossible in state {self.state.value}"
        self.state = target
        if self.is_final and self.done_at is None:
            self.done_at = now
        return None

    def add_child(self, child: ChildOrder) -> None:
        if child.quantity <= 0 or child.quantity > self.unreserved:
            raise InvariantBroken(f"parent {self.parent_id}: child of {child.quantity} but only "
                                  f"{self.unreserved} unreserved (quantity {self.quantity}, cum {self.cum_qty})")
        self.hold(child)

    def hold(self, child: ChildOrder) -> None:
        """Reserve an open child's remaining shares (a new child, or one restored from the journal)."""
        self.open_children[child.child_id] = child
        self._update_hold(child)

    def book(self, child: ChildOrder, change: ChildChange, now: float) -> BookedFill:
        """Books a child's change on the parent; returns what the trader is to be told."""
        booked = change.filled
        if change.late:  # the child's quantity was released when it ended: take what still fits
            booked = max(0, min(change.filled, self.quantity - self.cum_qty - self.reserved))
        if booked:
            self.cum_qty += booked
            self.notional += booked * change.price
            complete = self.cum_qty >= self.quantity
            if not self.is_final:
                self.transition(ParentTrigger.FILL_COMPLETE if complete else ParentTrigger.FILL, now)
        if child.child_id in self.open_children:
            self._update_hold(child)
        self._check()
        return BookedFill(booked, change.price, change.filled - booked)

    def release(self, child_id: ChildId) -> None:
        self.open_children.pop(child_id, None)
        self.reserved -= self._held.pop(child_id, 0)

    def _update_hold(self, child: ChildOrder) -> None:
        held = child.open_quantity
        self.reserved += held - self._held.pop(child.child_id, 0)
        if held:
            self._held[child.child_id] = held
        if child.is_final:
            self.open_children.pop(child.child_id, None)

    def replace_quantity(self, request: ReplaceParent) -> str | None:
        """Carry out a pending reduction; returns why it cannot be done (then nothing changes)."""
        if request.quantity < self.cum_qty + self.reserved:
            return (f"cannot reduce to {request.quantity}: {self.cum_qty} filled and "
                    f"{self.reserved} still in flight")
        self.quantity = request.quantity
        self.cl_ord_id = request.cl_ord_id
        return None

    def _check(self) -> None:
        if self.cum_qty + self.reserved > self.quantity:
            raise InvariantBroken(f"parent {self.parent_id}: cum {self.cum_qty} + reserved {self.reserved} "
                                  f"> quantity {self.quantity}")

    # -- what the trader sees -----------------------------------------------------------------

    def report(self, kind: ReportKind, exec_id: ExecId, *, last_qty: int = 0, last_px: float = 0.0,
               last_market: VenueName | None = None, cl_ord_id: ClOrdId | None = None,
               orig_cl_ord_id: ClOrdId | None = None, status: ParentStatus | None = None,
               text: str | None = None, reject_reason: RejectReason | None = None) -> ParentReport:
        spec = self.spec
        return ParentReport(
            session=spec.session, order_id=self.parent_id, cl_ord_id=cl_ord_id or self.cl_ord_id,
            exec_id=exec_id, kind=kind, status=status or self.state, side=spec.side, symbol=spec.symbol,
            quantity=self.quantity, cum_qty=self.cum_qty, leaves_qty=self.leaves_qty, avg_px=self.avg_px,
            last_qty=last_qty, last_px=last_px, last_market=last_market, orig_cl_ord_id=orig_cl_ord_id,
            limit_price=spec.limit_price, reject_reason=reject_reason, text=text)
