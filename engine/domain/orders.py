"""What a trader can ask for, and the checks a parent order passes before the engine accepts it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from engine.domain.ids import ClOrdId, SessionKey, Symbol


class Side(Enum):
    BUY = "buy"
    SELL = "sell"


class OrderType(Enum):
    MARKET = "market"  # midpoint, any price
    LIMIT = "limit"    # midpoint only when the midpoint is within the limit


class TimeInForce(Enum):
    DAY = "day"
    IOC = "ioc"  # exactly one sweep
    GTD = "gtd"  # until expire_at


class RejectReason(Enum):
    """Why a parent order was refused; the FIX edge maps each to an OrdRejReason code."""

    UNKNOWN_SYMBOL = "unknown symbol"
    INCORRECT_QUANTITY = "incorrect quantity"
    DUPLICATE_ORDER = "duplicate order"
    UNSUPPORTED = "unsupported order characteristic"
    TOO_LATE = "too late to enter"
    UNKNOWN_ORDER = "unknown order"
    EXCEEDS_LIMIT = "order exceeds limit"          # a risk limit (engine.domain.risk)
    HALTED = "exchange closed or symbol halted"    # the restricted list, a halt
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class ParentSpec:
    """A parent order as the trader asked for it (validated by :func:`check_parent`)."""

    session: SessionKey
    cl_ord_id: ClOrdId
    side: Side
    symbol: Symbol
    quantity: int
    order_type: OrderType
    time_in_force: TimeInForce
    limit_price: float | None = None
    expire_at: float | None = None  # epoch seconds, GTD only
    min_qty: int | None = None       # the smallest execution the trader accepts from any venue


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: RejectReason
    text: str


def check_parent(spec: ParentSpec, known_symbols: frozenset[str], now: float) -> Refusal | None:
    """None when the engine can work ``spec``; otherwise why not, in words a trader understands."""
    if spec.symbol not in known_symbols:
        return Refusal(RejectReason.UNKNOWN_SYMBOL, f"unknown symbol {spec.symbol!r}; traded: {', '.join(sorted(known_symbols))}")
    if spec.quantity <= 0:
        return Refusal(RejectReason.INCORRECT_QUANTITY, f"OrderQty {spec.quantity} must be a positive whole number")
    if spec.order_type is OrderType.LIMIT:
        if spec.limit_price is None or not math.isfinite(spec.limit_price) or spec.limit_price <= 0:
            return Refusal(RejectReason.OTHER, "a limit order needs a positive Price (44)")
    elif spec.limit_price is not None:
        return Refusal(RejectReason.UNSUPPORTED, "a market order must not carry a Price (44)")
    if spec.min_qty is not None and not 0 < spec.min_qty <= spec.quantity:
        return Refusal(RejectReason.INCORRECT_QUANTITY, f"MinQty {spec.min_qty} must be within 1..OrderQty {spec.quantity}")
    if spec.time_in_force is TimeInForce.GTD:
        if spec.expire_at is None:
            return Refusal(RejectReason.OTHER, "a GTD order needs an ExpireTime (126)")
        if spec.expire_at <= now:
            return Refusal(RejectReason.TOO_LATE, "ExpireTime (126) is in the past")
    elif spec.expire_at is not None:
        return Refusal(RejectReason.UNSUPPORTED, "ExpireTime (126) is only for GTD orders")
    return None
