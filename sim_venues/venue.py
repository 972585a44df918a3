"""One simulated dark venue's order handling: plain requests in, plain reports out (no FIX types).

Sequence per order (the fill rules are in :mod:`sim_venues.matching`):

- invalid -> one Rejected report (150=8, 39=8) with OrdRejReason and Text;
- IOC, style ``fill_then_cancel``: New (optional, ``ack_new``), Trade (F) if anything filled, then
  Canceled (4, LeavesQty 0) for any remainder. Style ``single_final``: New (optional), then a single
  report carrying the final state: Trade with OrdStatus Filled, or Trade with OrdStatus Canceled and
  LeavesQty 0 for a partial fill, or Canceled when nothing traded;
- DAY: New, a Trade for whatever crossed on arrival, and the rest rests until cancelled. A resting
  order trades only on arrival (the simulator has no contra order flow to cross it with later).

Prices: every order trades at the host's shared midpoint for its symbol (:mod:`sim_venues.pricing`),
and a fill at a venue with ``toxicity`` may meet an informed contra, which then moves that midpoint
against us; the ground-truth record says so (``informed``) next to the ``midpoint`` and the
``market_step`` it traded at.

Cancels of live orders answer Canceled; of finished orders OrderCancelReject 102=0 (too late); of
orders never seen 102=1 (unknown). OrderID is stable per order, ExecIDs are unique per run (a run
token keeps them unique across restarts, so an engine deduplicating ExecIDs never drops real fills).

Durable memory (``store: file``) stays outside this module: every state change is handed, as a
plain dict, to ``on_change`` *before* the call returns the reports, so whoever writes it (see
:mod:`sim_venues.order_store`) writes ahead of the reports. :meth:`Venue.restore` rebuilds the
memory from those dicts and :meth:`Venue.cancel_resting` applies the cancel-on-restart rule.
"""

from __future__ import annotations

import itertools
import os
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, NamedTuple

from sim_venues.liquidity import LiquiditySource
from sim_venues.matching import (REJECT_DUPLICATE_ORDER, CancelRequest, NewOrder, Rejection,
                                 StatusRequest, ValidOrder, VenueRules, match, validate)
from sim_venues.pricing import VenuePrice


class ExecReport(NamedTuple):  # a NamedTuple: immutable and cheap, built 2-3 times per order
    order_id: str
    cl_ord_id: str
    exec_id: str
    exec_type: str  # 150
    ord_status: str  # 39
    side: str
    symbol: str
    order_qty: float
    cum_qty: int
    leaves_qty: int
    avg_px: float
    last_mkt: str
    last_qty: int = 0
    last_px: float = 0.0
    orig_cl_ord_id: str | None = None
    time_in_force: str | None = None
    min_qty: int | None = None
    price: float | None = None
    ord_rej_reason: int | None = None
    text: str | None = None


@dataclass(frozen=True, slots=True)
class CancelReject:
    order_id: str
    cl_ord_id: str
    orig_cl_ord_id: str
    ord_status: str
    reason: int  # CxlRejReason: 0 too late, 1 unknown order
    text: str


@dataclass(slots=True)
class _OrderState:
    order_id: str
    order: ValidOrder
    cum_qty: int = 0
    avg_px: float = 0.0
    status: str = "0"

    @property
    def leaves(self) -> int:
        return 0 if self.status in ("2", "4", "8") else self.order.quantity - self.cum_qty

    def record(self, event: str) -> dict[str, Any]:
        """Everything needed to answer for this order again after a restart (the last record wins)."""
        order = self.order
        return {"event": event, "cl_ord_id": order.cl_ord_id, "order_id": self.order_id, "symbol": order.symbol,
                "side": order.side, "quantity": order.quantity, "time_in_force": order.time_in_force,
                "min_qty": order.min_qty, "price": order.price, "cum_qty": self.cum_qty, "avg_px": self.avg_px,
                "status": self.status}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> "_OrderState":
        order = ValidOrder(record["cl_ord_id"], record["side"], record["symbol"], record["quantity"],
                           record["time_in_force"], record["min_qty"], record["price"])
        return cls(record["order_id"], order, record["cum_qty"], record["avg_px"], record["status"])


ChangeHook = Callable[[dict[str, Any]], None]
REJECTED_EVENT = "rejected"
STATE_EVENTS = frozenset({"order", "canceled", "canceled_on_restart", "state"})
_starts = itertools.count()


def new_run_token() -> str:
    """Unique per Venue start, so ExecIDs and OrderIDs never repeat across restarts. The clock alone
    repeats when two starts fall in the same microsecond (or the clock steps back): the pid separates
    processes, the counter the venues started by one process. 'p' and 'n' are not hex digits, so no
    two different triples spell the same token."""
    return f"{time.time_ns() // 1000 % 36**8:x}p{os.getpid():x}n{next(_starts)}"


@dataclass(frozen=True, slots=True)
class OrderOutcome:
    reports: list[ExecReport]
    truth: dict[str, Any]  # the ground-truth record of this order


class Venue:
    def __init__(self, name: str, rules: VenueRules, liquidity: dict[str, LiquiditySource],
                 prices: dict[str, VenuePrice], *, report_style: str = "fill_then_cancel",
                 ack_new: bool = True, history_limit: int = 200_000, run_token: str | None = None,
                 on_change: ChangeHook | None = None) -> None:
        self.name = name
        self.rules = rules
        self._liquidity = liquidity
        self._prices = prices
        self._single_final = report_style == "single_final"
        self._ack_new = ack_new
        self._history_limit = history_limit
        self._token = run_token or new_run_token()
        self.on_change = on_change  # None (store: memory): no record is even built
        self._live: dict[str, _OrderState] = {}  # resting DAY orders by ClOrdID
        self._done: OrderedDict[str, _OrderState] = OrderedDict()  # finished, most recent last
        self._rejected_ids: OrderedDict[str, None] = OrderedDict()
        self._order_seq = 0
        self._exec_seq = 0
        self.orders_seen = 0

    # -- requests -----------------------------------------------------------------------------

    def new_order(self, request: NewOrder) -> OrderOutcome:
        self.orders_seen += 1
        if self.is_known(request.cl_ord_id):
            return self._reject(request, Rejection(REJECT_DUPLICATE_ORDER, f"duplicate ClOrdID {request.cl_ord_id}"),
                                remember=False)
        checked = validate(request, self.rules, self._prices)
        if isinstance(checked, Rejection):
            return self._reject(request, checked, remember=True)
        order: ValidOrder = checked
        source = self._liquidity[order.symbol]
        price = self._prices[order.symbol]
        hidden = source.hidden(order.side)
        midpoint, market_step = price.price_order()  # the host's shared midpoint, now
        fill = match(order, hidden, midpoint, price.tick)
        informed = False
        if fill.quantity:
            source.consume(order.side, fill.quantity)
            informed = price.filled(order.side, midpoint)  # one draw per fill: reproducible given the fills
        self._order_seq += 1
        state = _OrderState(f"{self.name}-{self._token}-{self._order_seq}", order)
        reports = self._reports_for(state, fill.quantity, midpoint)
        if self.on_change is not None:
            self.on_change(state.record("order"))
        truth = {"event": "order", "venue": self.name, "cl_ord_id": order.cl_ord_id, "order_id": state.order_id,
                 "symbol": order.symbol, "side": order.side, "quantity": order.quantity,
                 "min_qty": order.min_qty, "price": order.price, "time_in_force": order.time_in_force,
                 "midpoint": midpoint, "market_step": market_step, "hidden": hidden, "filled": fill.quantity,
                 "informed": informed, "limit_blocked": fill.limit_blocked,
                 "min_qty_blocked": fill.min_qty_blocked}
        return OrderOutcome(reports, truth)

    def cancel(self, request: CancelRequest) -> ExecReport | CancelReject:
        state = self._live.pop(request.orig_cl_ord_id, None)
        if state is not None:
            state.status = "4"
            self._remember(state)
            if self.on_change is not None:
                self.on_change(state.record("canceled"))
            return self._report(state, "4", cl_ord_id=request.cl_ord_id, orig_cl_ord_id=request.orig_cl_ord_id)
        finished = self._done.get(request.orig_cl_ord_id)
        if finished is not None:
            return CancelReject(finished.order_id, request.cl_ord_id, request.orig_cl_ord_id, finished.status, 0,
                                "too late to cancel: the order is finished")
        return CancelReject("NONE", request.cl_ord_id, request.orig_cl_ord_id, "8", 1,
                            f"unknown order {request.orig_cl_ord_id}")

    def status(self, request: StatusRequest) -> ExecReport:
        state = self._live.get(request.cl_ord_id) or self._done.get(request.cl_ord_id)
        if state is None:
            return ExecReport("NONE", request.cl_ord_id, self._exec_id(), "I", "8", request.side,
                              request.symbol or "[N/A]", 0, 0, 0, 0.0, self.name, ord_rej_reason=5,
                              text=f"unknown order {request.cl_ord_id}")
        return self._report(state, "I")

    def resting(self) -> int:
        return len(self._live)

    # -- durable memory (the records of on_change) ----------------------------------------------

    def restore(self, records: Iterable[dict[str, Any]]) -> None:
        """Memory from earlier runs' records, oldest first: an order's last record is its state,
        bounded by ``history_limit`` as in a run. Raises ValueError for a record it cannot read."""
        for record in records:
            try:
                event = record["event"]
                if event == REJECTED_EVENT:
                    self._remember_rejected(record["cl_ord_id"])
                    continue
                if event not in STATE_EVENTS:
                    raise ValueError(f"unknown event {event!r}")
                state = _OrderState.from_record(record)
            except (KeyError, TypeError) as error:
                raise ValueError(f"unreadable order record {record!r}: {error!r}") from None
            cl_ord_id = state.order.cl_ord_id
            self._live.pop(cl_ord_id, None)
            self._done.pop(cl_ord_id, None)  # re-inserted last: the most recent change
            if state.leaves:
                self._live[cl_ord_id] = state
            else:
                self._remember(state)

    def cancel_resting(self) -> list[dict[str, Any]]:
        """The venue's cancel-on-restart rule: resting DAY orders do not outlive the process that
        took them. Returns their records (also passed to ``on_change``)."""
        records = []
        for state in self._live.values():
            state.status = "4"
            self._remember(state)
            records.append(state.record("canceled_on_restart"))
            if self.on_change is not None:
                self.on_change(records[-1])
        self._live.clear()
        return records

    def remembered(self) -> Iterator[dict[str, Any]]:
        """The records of everything in memory (what an order file compacts to)."""
        for cl_ord_id in self._rejected_ids:
            yield {"event": REJECTED_EVENT, "cl_ord_id": cl_ord_id}
        for state in self._done.values():
            yield state.record("state")
        for state in self._live.values():
            yield state.record("state")

    # -- internals ----------------------------------------------------------------------------

    def _reports_for(self, state: _OrderState, filled: int, midpoint: float) -> list[ExecReport]:
        order = state.order
        ioc = order.time_in_force == "3"
        reports = []
        if self._ack_new or not ioc:
            reports.append(self._report(state, "0"))
        if filled:
            state.cum_qty, state.avg_px = filled, midpoint
            complete = filled == order.quantity
            if complete:
                state.status = "2"
            elif ioc and self._single_final:
                state.status = "4"  # the one-message ending: the trade and the cancel of the rest
            else:
                state.status = "1"
            reports.append(self._report(state, "F", last_qty=filled, last_px=midpoint))
        if ioc and state.status not in ("2", "4"):
            state.status = "4"
            reports.append(self._report(state, "4"))
        if state.leaves:
            self._live[order.cl_ord_id] = state
        else:
            self._remember(state)
        return reports

    def _report(self, state: _OrderState, exec_type: str, *, last_qty: int = 0, last_px: float = 0.0,
                cl_ord_id: str | None = None, orig_cl_ord_id: str | None = None) -> ExecReport:
        order = state.order
        return ExecReport(state.order_id, cl_ord_id or order.cl_ord_id, self._exec_id(), exec_type, state.status,
                          order.side, order.symbol, order.quantity, state.cum_qty, state.leaves,
                          state.avg_px, self.name, last_qty, last_px, orig_cl_ord_id, order.time_in_force,
                          order.min_qty or None, order.price)

    def _reject(self, request: NewOrder, rejection: Rejection, remember: bool) -> OrderOutcome:
        if remember:
            # A rejected ClOrdID is used up too: a resend with the same id is a duplicate.
            self._remember_rejected(request.cl_ord_id)
            if self.on_change is not None:
                self.on_change({"event": REJECTED_EVENT, "cl_ord_id": request.cl_ord_id})
        report = ExecReport("NONE", request.cl_ord_id, self._exec_id(), "8", "8", request.side,
                            request.symbol or "[N/A]", request.quantity or 0, 0, 0, 0.0, self.name,
                            ord_rej_reason=rejection.reason, text=rejection.text)
        truth = {"event": "rejected", "venue": self.name, "cl_ord_id": request.cl_ord_id,
                 "symbol": request.symbol, "reason": rejection.reason, "text": rejection.text}
        return OrderOutcome([report], truth)

    def is_known(self, cl_ord_id: str) -> bool:
        return cl_ord_id in self._live or cl_ord_id in self._done or cl_ord_id in self._rejected_ids

    def _remember_rejected(self, cl_ord_id: str) -> None:
        self._rejected_ids[cl_ord_id] = None
        if len(self._rejected_ids) > self._history_limit:
            self._rejected_ids.popitem(last=False)

    def _remember(self, state: _OrderState) -> None:
        self._done[state.order.cl_ord_id] = state
        if len(self._done) > self._history_limit:
            self._done.popitem(last=False)

    def _exec_id(self) -> str:
        self._exec_seq += 1
        return f"{self.name}-{self._token}-E{self._exec_seq}"
