"""Rebuilding the open parents from the journal at start-up.

A child that was not final when the engine stopped (or was killed) is restored as UNRESOLVED
(timed out): its shares stay reserved on the parent and the reconciler asks its venue about it once
the session is up, so a fill that happened while we were down is booked, and nothing is sent twice.
The write-ahead guarantees such a row exists for every child that may have left. Each restored
child remembers the venue ExecIDs already booked for it, so a report the venue resends (PossDup)
is recognised; counting fills from the venue's CumQty books none twice either way.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Callable

from engine.domain.child import ChildOrder, ChildState
from engine.domain.ids import ChildId, ClOrdId, ParentId, SessionKey, Symbol, VenueName
from engine.domain.messages import CancelParent, ParentStatus, ReplaceParent
from engine.domain.orders import OrderType, ParentSpec, Side, TimeInForce
from engine.domain.parent import ParentOrder
from engine.journal import child_row, open_parents, parent_row, seen_exec_ids


def restore_parents(journal: Path, adopt: Callable[[ChildOrder], None]) -> list[ParentOrder]:
    if not Path(journal).exists():
        return []
    restored = []
    opened = open_parents(journal)
    booked = seen_exec_ids(journal, [child["child_id"] for _, children in opened for child in children])
    for row, child_rows in opened:
        parent = _parent(row)
        for child_row in child_rows:
            child = _child(child_row, parent)
            child.seen_exec_ids = booked.get(child.child_id, set())
            parent.hold(child)
            adopt(child)
        restored.append(parent)
    return restored


def recall_parent(journal: Path, parent_id: ParentId) -> ParentOrder | None:
    """A parent as the journal last recorded it (for one that has left memory), or None."""
    try:
        row = parent_row(journal, parent_id)
    except (OSError, sqlite3.Error):
        return None
    return _parent(row) if row is not None else None


def recall_child(journal: Path, child_id: str, parent: ParentOrder) -> ChildOrder | None:
    """A child as the journal last recorded it, with the ExecIDs booked for it, or None: for a
    report about a child that left memory (a finished one, not restored at start), such as a
    venue's resend (PossDup) of a fill already booked, which must then change nothing."""
    try:
        row = child_row(journal, child_id)
        if row is None or row["parent_id"] != parent.parent_id:
            return None
        booked = seen_exec_ids(journal, [child_id])[child_id]
    except (OSError, sqlite3.Error):
        return None
    child = _child(row, parent)
    child.state, child.timed_out, child.final_at = ChildState(row["state"]), bool(row["timed_out"]), row["final_at"]
    child.seen_exec_ids = booked
    return child


def _parent(row: dict) -> ParentOrder:
    spec = ParentSpec(session=SessionKey(row["session"]), cl_ord_id=ClOrdId(row["orig_cl_ord_id"]),
                      side=Side(row["side"]), symbol=Symbol(row["symbol"]), quantity=row["original_quantity"],
                      order_type=OrderType(row["order_type"]), time_in_force=TimeInForce(row["time_in_force"]),
                      limit_price=row["limit_price"], expire_at=row["expire_at"], min_qty=row["min_qty"])
    state = ParentStatus(row["state"])
    current = ClOrdId(row["cl_ord_id"])
    request_id = row.get("pending_cl_ord_id")  # the request's own ClOrdID, answered by the report that ends it
    pending_cancel = pending_replace = None
    if state is ParentStatus.PENDING_CANCEL:  # the trader asked to cancel: finish that first
        pending_cancel = CancelParent(spec.session, ClOrdId(request_id or current), current)
    elif state is ParentStatus.PENDING_REPLACE and request_id is not None and row.get("pending_quantity"):
        pending_replace = ReplaceParent(spec.session, ClOrdId(request_id), current, row["pending_quantity"])
    elif state is ParentStatus.PENDING_REPLACE:  # a journal from before requests were kept: the trader may ask again
        state = ParentStatus.PARTIALLY_FILLED if row["cum_qty"] else ParentStatus.NEW
    return ParentOrder(ParentId(row["parent_id"]), spec, row["created_at"], quantity=row["quantity"], state=state,
                       cl_ord_id=current, cum_qty=row["cum_qty"], notional=row["notional"],
                       sweeps=row["sweeps"], pending_cancel=pending_cancel, pending_replace=pending_replace)


def _child(row: dict, parent: ParentOrder) -> ChildOrder:
    return ChildOrder(ChildId(row["child_id"]), parent.parent_id, VenueName(row["venue"]), row["sweep"],
                      parent.spec.side, parent.spec.symbol, row["quantity"], row["min_qty"], row["limit_price"],
                      row["sent_at"], state=ChildState.UNRESOLVED, cum_qty=row["cum_qty"], notional=row["notional"],
                      timed_out=True)
