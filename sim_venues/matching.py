"""The venue's order vocabulary and its fill rules, as plain data and pure functions (no FIX types).

Fill rules of a simulated dark midpoint venue, applied to one arriving order:

1. The order is validated (:func:`validate`); a broken order is rejected with a FIX OrdRejReason
   and a text, and touches neither the liquidity nor the price.
2. The venue draws the hidden contra liquidity ``hidden`` (a fresh draw in iid mode, the standing
   quantity in book mode) *before* looking at the price or MinQty, so a limit or a MinQty never
   shifts the random stream: the same order flow gives the same draws.
3. It executes at the midpoint. A limit Price caps it: a buy limited below the midpoint, or a sell
   above it, gets nothing.
4. Otherwise the fill is ``min(quantity, hidden)``, and 0 when that is below MinQty. No lot rounding
   of fills: the ground-truth log then proves censoring is exactly ``min(sent, hidden)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from engine.allocation.profiles import VenueProfile

# FIX 4.4 OrdRejReason (103) values used here.
REJECT_UNKNOWN_SYMBOL = 1
REJECT_EXCEEDS_LIMIT = 3
REJECT_DUPLICATE_ORDER = 6
REJECT_UNSUPPORTED_CHARACTERISTIC = 11
REJECT_INCORRECT_QUANTITY = 13
REJECT_OTHER = 99


class Side:
    """FIX Side codes kept as plain strings (an Enum's attribute access costs on every report)."""

    BUY = "1"
    SELL = "2"
    CONTRA = {"1": "2", "2": "1"}


# The per-order records are NamedTuples, immutable like frozen dataclasses but about four times
# cheaper to create: they sit on the path every order takes (see bench/venues.py).
class NewOrder(NamedTuple):
    """A NewOrderSingle as received; fields a sender may omit are None (validation decides)."""

    cl_ord_id: str
    side: str
    symbol: str | None
    quantity: float | None
    ord_type: str | None
    exec_inst: str | None
    time_in_force: str | None  # FIX 59 code; None means the FIX default (DAY)
    min_qty: float | None = None
    price: float | None = None


@dataclass(frozen=True, slots=True)
class CancelRequest:
    cl_ord_id: str
    orig_cl_ord_id: str
    side: str
    symbol: str | None


@dataclass(frozen=True, slots=True)
class StatusRequest:
    cl_ord_id: str
    side: str
    symbol: str | None


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: int  # OrdRejReason
    text: str


class ValidOrder(NamedTuple):
    """An order that passed validation: typed, whole shares."""

    cl_ord_id: str
    side: str  # Side.BUY or Side.SELL
    symbol: str
    quantity: int
    time_in_force: str  # "3" IOC or "0" DAY
    min_qty: int
    price: float | None


@dataclass(frozen=True, slots=True)
class VenueRules:
    lot_size: int
    min_order_size: int
    max_order_size: int | None
    time_in_force: frozenset[str]  # accepted FIX 59 codes

    @classmethod
    def of(cls, profile: VenueProfile, time_in_force_codes: frozenset[str]) -> "VenueRules":
        return cls(profile.lot_size, profile.min_order_size, profile.max_order_size, time_in_force_codes)


class Fill(NamedTuple):
    quantity: int
    limit_blocked: bool  # the limit price was on the wrong side of the midpoint
    min_qty_blocked: bool  # min(quantity, hidden) was below MinQty


def validate(order: NewOrder, rules: VenueRules, known_symbols: frozenset[str] | dict) -> ValidOrder | Rejection:
    """Check one order against the venue's rules; the first problem found is the reason given."""
    if not order.symbol:
        return Rejection(REJECT_OTHER, "missing Symbol (55)")
    if order.quantity is None:
        return Rejection(REJECT_OTHER, "missing OrderQty (38)")
    if order.symbol not in known_symbols:
        return Rejection(REJECT_UNKNOWN_SYMBOL, f"unknown symbol {order.symbol}")
    if order.ord_type != "P":
        return Rejection(REJECT_UNSUPPORTED_CHARACTERISTIC,
                         f"OrdType {order.ord_type} not supported: midpoint pegs only (40=P, 18=M)")
    if order.exec_inst is None or "M" not in order.exec_inst.split():
        return Rejection(REJECT_UNSUPPORTED_CHARACTERISTIC,
                         f"ExecInst {order.exec_inst} not supported: the peg must be mid-price (18=M)")
    if order.side not in Side.CONTRA:
        return Rejection(REJECT_UNSUPPORTED_CHARACTERISTIC, f"Side {order.side} not supported: buy (1) or sell (2)")
    time_in_force = "0" if order.time_in_force is None else order.time_in_force
    if time_in_force not in rules.time_in_force:
        return Rejection(REJECT_UNSUPPORTED_CHARACTERISTIC,
                         f"TimeInForce {time_in_force} not supported here: {sorted(rules.time_in_force)}")
    quantity = order.quantity
    if not float(quantity).is_integer() or quantity <= 0:
        return Rejection(REJECT_INCORRECT_QUANTITY, f"OrderQty {quantity:g} is not a positive whole number")
    quantity = int(quantity)
    if quantity % rules.lot_size:
        return Rejection(REJECT_INCORRECT_QUANTITY, f"OrderQty {quantity} is not a multiple of the lot {rules.lot_size}")
    if quantity < rules.min_order_size:
        return Rejection(REJECT_INCORRECT_QUANTITY, f"OrderQty {quantity} below the minimum {rules.min_order_size}")
    if rules.max_order_size is not None and quantity > rules.max_order_size:
        return Rejection(REJECT_EXCEEDS_LIMIT, f"OrderQty {quantity} above the maximum {rules.max_order_size}")
    min_qty = 0.0 if order.min_qty is None else order.min_qty
    if not float(min_qty).is_integer() or not 0 <= min_qty <= quantity:
        return Rejection(REJECT_INCORRECT_QUANTITY, f"MinQty {min_qty:g} must be a whole number in [0, OrderQty]")
    if order.price is not None and not order.price > 0:
        return Rejection(REJECT_OTHER, f"Price {order.price:g} must be > 0")
    return ValidOrder(order.cl_ord_id, order.side, order.symbol, quantity, time_in_force, int(min_qty),
                      order.price)


def match(order: ValidOrder, hidden: int, midpoint: float, tick: float) -> Fill:
    """Fill of ``order`` against ``hidden`` contra shares at ``midpoint`` (pure)."""
    # Half a tick of slack: prices arrive as decimal strings, the midpoint is a float on the tick grid.
    slack = tick * 0.5
    if order.price is not None and (
            (order.side == Side.BUY and order.price < midpoint - slack)
            or (order.side == Side.SELL and order.price > midpoint + slack)):
        return Fill(0, True, False)
    crossing = min(order.quantity, max(hidden, 0))
    if crossing < order.min_qty or crossing == 0:
        return Fill(0, False, crossing > 0)
    return Fill(crossing, False, False)
