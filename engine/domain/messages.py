"""What crosses between the order manager and its edges, as frozen plain data.

Inbound from traders: :class:`NewParent`, :class:`CancelParent`, :class:`ReplaceParent`,
:class:`ParentStatusQuery`, :class:`UnsupportedMessage`. Outbound to traders: :class:`ParentReport`
(every ExecutionReport), :class:`CancelRefused`, :class:`BusinessRefusal`. Outbound to venues:
:class:`SubmitChild`, :class:`CancelChild`, :class:`QueryChild`. Inbound from venues:
:class:`VenueReport` and :class:`VenueCancelRefused`. Commands are imperative, reports past tense.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from engine.domain.ids import ChildId, ClOrdId, ExecId, SessionKey, Symbol, VenueName
from engine.domain.orders import ParentSpec, RejectReason, Side

# -- trader -> engine -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewParent:
    spec: ParentSpec


@dataclass(frozen=True, slots=True)
class InvalidParent:
    """A NewOrderSingle the edge could not turn into a :class:`ParentSpec` (an unsupported OrdType
    or TimeInForce, a missing field): answered with a rejected ExecutionReport."""

    session: SessionKey
    cl_ord_id: ClOrdId
    side: Side | None
    symbol: str
    quantity: int
    reason: RejectReason
    text: str


@dataclass(frozen=True, slots=True)
class CancelParent:
    session: SessionKey
    cl_ord_id: ClOrdId       # of this request
    orig_cl_ord_id: ClOrdId  # of the parent to cancel


@dataclass(frozen=True, slots=True)
class ReplaceParent:
    session: SessionKey
    cl_ord_id: ClOrdId
    orig_cl_ord_id: ClOrdId
    quantity: int  # the new total quantity; only reductions are accepted


@dataclass(frozen=True, slots=True)
class ParentStatusQuery:
    session: SessionKey
    cl_ord_id: ClOrdId


@dataclass(frozen=True, slots=True)
class UnsupportedMessage:
    session: SessionKey
    msg_type: str
    ref_seq_num: str | None


# -- engine -> trader -------------------------------------------------------------------------


class ReportKind(Enum):
    """ExecType of a report to the trader."""

    PENDING_NEW = "pending new"
    NEW = "new"
    TRADE = "trade"
    PENDING_CANCEL = "pending cancel"
    CANCELED = "canceled"
    PENDING_REPLACE = "pending replace"
    REPLACED = "replaced"
    REJECTED = "rejected"
    EXPIRED = "expired"
    STATUS = "status"


@dataclass(frozen=True, slots=True)
class ParentReport:
    session: SessionKey
    order_id: str
    cl_ord_id: ClOrdId
    exec_id: ExecId
    kind: ReportKind
    status: "ParentStatus"
    side: Side | None  # None only when rejecting an order whose Side was unreadable
    symbol: Symbol
    quantity: int
    cum_qty: int
    leaves_qty: int
    avg_px: float
    last_qty: int = 0
    last_px: float = 0.0
    last_market: VenueName | None = None
    orig_cl_ord_id: ClOrdId | None = None
    limit_price: float | None = None
    reject_reason: RejectReason | None = None
    text: str | None = None
    poss_resend: bool = False  # sent again after a restart (97=Y, the same ExecID): the trader drops a copy


class ParentStatus(Enum):
    """OrdStatus as the trader sees it."""

    PENDING_NEW = "pending new"
    NEW = "new"
    PARTIALLY_FILLED = "partially filled"
    FILLED = "filled"
    PENDING_CANCEL = "pending cancel"
    PENDING_REPLACE = "pending replace"
    CANCELED = "canceled"
    EXPIRED = "expired"
    REJECTED = "rejected"


# What a trader sends that changes state: the trader inbox keeps it until the journal has it, and a
# restart replays it when the journal never got it.
STATE_CHANGING_REQUESTS = (NewParent, InvalidParent, CancelParent, ReplaceParent)

_REPORT_ENUMS = {"kind": ReportKind, "status": ParentStatus, "side": Side, "reject_reason": RejectReason}


def report_record(report: ParentReport) -> dict:
    """A report as plain values (the journal keeps it until it is sent)."""
    record = {name: getattr(report, name) for name in ParentReport.__dataclass_fields__}
    for name in _REPORT_ENUMS:
        if record[name] is not None:
            record[name] = record[name].value
    return record


def report_from_record(record: dict) -> ParentReport:
    values = dict(record)
    for name, kind in _REPORT_ENUMS.items():
        if values.get(name) is not None:
            values[name] = kind(values[name])
    return ParentReport(**values)


@dataclass(frozen=True, slots=True)
class CancelRefused:
    session: SessionKey
    order_id: str
    cl_ord_id: ClOrdId
    orig_cl_ord_id: ClOrdId
    status: ParentStatus | None
    for_replace: bool
    too_late: bool  # else: unknown order
    text: str
    broker_option: bool = False  # refused by our rule (a limit, a halt): CxlRejReason 2, not "unknown order"


@dataclass(frozen=True, slots=True)
class BusinessRefusal:
    session: SessionKey
    ref_msg_type: str
    ref_seq_num: str | None
    text: str


# -- engine -> venue --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SubmitChild:
    """A midpoint-pegged IOC child order."""

    venue: VenueName
    child_id: ChildId
    side: Side
    symbol: Symbol
    quantity: int
    min_qty: int | None
    limit_price: float | None


@dataclass(frozen=True, slots=True)
class CancelChild:
    venue: VenueName
    cancel_id: ChildId
    child_id: ChildId
    side: Side
    symbol: Symbol
    quantity: int


@dataclass(frozen=True, slots=True)
class QueryChild:
    venue: VenueName
    child_id: ChildId
    side: Side
    symbol: Symbol
    request_id: str | None = None  # OrdStatusReqID (790), unique across runs


# -- venue -> engine --------------------------------------------------------------------------


class VenueReportKind(Enum):
    NEW = "new"
    TRADE = "trade"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    STATUS = "status"
    PENDING = "pending"  # pending new / pending cancel: informational
    OTHER = "other"


class VenueOrderStatus(Enum):
    """A venue's OrdStatus for our child."""

    PENDING_NEW = "pending new"
    NEW = "new"
    PARTIALLY_FILLED = "partially filled"
    FILLED = "filled"
    PENDING_CANCEL = "pending cancel"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"
    OTHER = "other"

    @property
    def is_final(self) -> bool:
        return self in _FINAL_VENUE_STATUSES


_FINAL_VENUE_STATUSES = frozenset({VenueOrderStatus.FILLED, VenueOrderStatus.CANCELED,
                                   VenueOrderStatus.REJECTED, VenueOrderStatus.EXPIRED})


@dataclass(frozen=True, slots=True)
class VenueReport:
    """An ExecutionReport from a venue about one of our children (``child_id`` is the order's own
    ClOrdID even when the report answers a cancel, whose ClOrdID is the cancel's)."""

    venue: VenueName
    child_id: str
    exec_id: str
    kind: VenueReportKind
    status: VenueOrderStatus
    last_qty: float = 0.0
    last_px: float = 0.0
    cum_qty: float | None = None
    leaves_qty: float | None = None
    avg_px: float | None = None
    unknown_order: bool = False  # a status answer for an order the venue does not know
    text: str | None = None


@dataclass(frozen=True, slots=True)
class VenueCancelRefused:
    venue: VenueName
    child_id: str
    too_late: bool
    text: str | None


@dataclass(frozen=True, slots=True)
class VenueSessionChanged:
    venue: VenueName
    logged_on: bool


@dataclass(frozen=True, slots=True)
class TraderSessionChanged:
    session: SessionKey
    logged_on: bool


@dataclass(frozen=True, slots=True)
class MarketMidpoint:
    """The primary market's midpoint for a symbol from the market-data feed; None when the feed can
    no longer vouch for it (logged out)."""

    symbol: str
    midpoint: float | None
    at: float
