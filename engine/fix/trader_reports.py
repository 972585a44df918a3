"""What a FIX trader receives, as plain records: ExecutionReports as :class:`TraderReport`, any other
application message as :class:`ClientMessage`, and :func:`describe` for one readable line.

Pure (no quickfix), so a report can be parsed and printed without loading QuickFIX.
:mod:`engine.fix.trader_client` re-exports every name here: existing imports from it keep working.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from engine.fix.translate import fields_of

DONE_STATUSES = frozenset({"2", "4", "8", "C"})
EXEC_TYPE_NAMES = {"A": "PENDING_NEW", "0": "NEW", "F": "TRADE", "6": "PENDING_CANCEL", "4": "CANCELED",
                   "E": "PENDING_REPLACE", "5": "REPLACED", "8": "REJECTED", "C": "EXPIRED", "I": "STATUS",
                   "3": "DONE_FOR_DAY"}
ORD_STATUS_NAMES = {"A": "PENDING_NEW", "0": "NEW", "1": "PARTIALLY_FILLED", "2": "FILLED", "6": "PENDING_CANCEL",
                    "E": "PENDING_REPLACE", "4": "CANCELED", "C": "EXPIRED", "8": "REJECTED", "3": "DONE_FOR_DAY"}


@dataclass(frozen=True, slots=True)
class TraderReport:
    """An ExecutionReport as the trader sees it (quantities and prices as floats)."""

    exec_type: str
    ord_status: str
    order_id: str
    cl_ord_id: str
    orig_cl_ord_id: str | None
    exec_id: str
    last_qty: float
    last_px: float
    last_mkt: str | None
    cum_qty: float
    leaves_qty: float
    avg_px: float
    text: str | None
    ord_rej_reason: str | None
    fields: dict[int, str]
    received_at: float  # time.time() on arrival

    @property
    def is_done(self) -> bool:
        """A final report of the order (a status answer never ends anything)."""
        return self.ord_status in DONE_STATUSES and self.exec_type != "I"


@dataclass(frozen=True, slots=True)
class ClientMessage:
    """Any other application message (OrderCancelReject 9, BusinessMessageReject j, ...), or a
    session Reject (3) or Logout (5)."""

    msg_type: str
    fields: dict[int, str]
    received_at: float  # time.time()


def parse_report(text: str, received_at: float = 0.0) -> TraderReport:
    """An ExecutionReport's tag=value text -> :class:`TraderReport` (pure; tests use it directly)."""
    raw = fields_of(text)
    get = raw.get
    return TraderReport(
        exec_type=get("150", ""), ord_status=get("39", ""), order_id=get("37", ""), cl_ord_id=get("11", ""),
        orig_cl_ord_id=get("41"), exec_id=get("17", ""), last_qty=_float(get("32")), last_px=_float(get("31")),
        last_mkt=get("30"), cum_qty=_float(get("14")), leaves_qty=_float(get("151")), avg_px=_float(get("6")),
        text=get("58"), ord_rej_reason=get("103"), fields=int_keys(raw), received_at=received_at)


def parse_message(text: str, received_at: float) -> ClientMessage:
    """Any message's tag=value text -> :class:`ClientMessage`."""
    raw = fields_of(text)
    return ClientMessage(raw.get("35", ""), int_keys(raw), received_at)


def _float(text: str | None) -> float:
    try:
        return float(text) if text is not None else 0.0
    except ValueError:
        return float("nan")


def int_keys(raw: dict[str, str]) -> dict[int, str]:
    """``{"35": "8"}`` -> ``{35: "8"}`` (tags that are not numbers are dropped)."""
    return {int(tag): value for tag, value in raw.items() if tag.isdigit()}


def describe(report: TraderReport) -> str:
    """One readable line: time, ExecType, OrdStatus, LastQty@LastPx on LastMkt, CumQty, LeavesQty,
    AvgPx, Text."""
    at = report.received_at or time.time()
    clock = time.strftime("%H:%M:%S", time.localtime(at)) + f".{int(at * 1000) % 1000:03d}"
    line = (f"{clock}  {EXEC_TYPE_NAMES.get(report.exec_type, report.exec_type):<15} "
            f"{ORD_STATUS_NAMES.get(report.ord_status, report.ord_status):<16} ")
    if report.exec_type == "F":
        line += f"{report.last_qty:g} @ {report.last_px:g} on {report.last_mkt or '?'}"
    line += f"  cum {report.cum_qty:g}  leaves {report.leaves_qty:g}  avg {report.avg_px:g}"
    if report.text:
        line += f"  {report.text}"
    return line
