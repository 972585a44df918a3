"""Pre-trade risk controls: pure checks with no I/O, their state fed by the order manager.

Three gates, each asked at its moment (SEC Rule 15c3-5, MiFID II RTS 6 Art. 15 in substance):

- :meth:`RiskGate.check_message`: every new, cancel and replace of a trader session counts against
  its messages per second (a sliding one-second window);
- :meth:`RiskGate.check_parent`: a new parent against the restricted list, its quantity, notional
  and price collar, its session's open and daily notional, and the duplicate-order window;
- :meth:`RiskGate.check_child`: every child again just before it leaves, so a defect in allocation
  cannot send an absurd order: quantity and notional per venue, never more than the parent's
  unreserved quantity, child orders per second per venue.

Each limit has a hard level (refuse) and an optional soft level (accept, warn and count). A value
*at* a level passes it; one over breaks it. Fail closed: a notional or a collar that needs a price
when no usable reference is known refuses the order rather than guess.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from typing import Iterable, Mapping

from engine.domain.orders import OrderType, ParentSpec, Refusal, RejectReason

WINDOW_SECONDS = 1.0  # the rate limits are per second
SECONDS_PER_DAY = 86_400.0


class Severity(Enum):
    SOFT = "soft"  # accepted, warned about and counted
    HARD = "hard"  # refused


@dataclass(frozen=True, slots=True)
class Limit:
    """``hard``: refuse above it; ``soft``: accept above it but warn. None: no such level."""

    hard: float | None = None
    soft: float | None = None

    def breach(self, value: float) -> Severity | None:
        if self.hard is not None and _over(value, self.hard):
            return Severity.HARD
        if self.soft is not None and _over(value, self.soft):
            return Severity.SOFT
        return None

    def level(self, severity: Severity) -> float | None:
        return self.hard if severity is Severity.HARD else self.soft


NO_LIMIT = Limit()


def _over(value: float, level: float) -> bool:
    """Over the level by more than floating-point noise: a price exactly at a collar (whose basis
    points come out as 100.00000000000024) is at it, not over it."""
    return value > level + abs(level) * 1e-9


@dataclass(frozen=True, slots=True)
class OrderLimits:
    max_quantity: Limit = NO_LIMIT
    max_notional: Limit = NO_LIMIT
    collar_bps: Limit = NO_LIMIT  # a limit price's distance from the reference price


@dataclass(frozen=True, slots=True)
class SessionLimits:
    max_open_notional: Limit = NO_LIMIT    # working parents' leaves (children in flight included)
    max_daily_notional: Limit = NO_LIMIT   # filled today (UTC)
    max_messages_per_second: Limit = NO_LIMIT


@dataclass(frozen=True, slots=True)
class ChildLimits:
    max_quantity: Limit = NO_LIMIT
    max_notional: Limit = NO_LIMIT
    max_orders_per_second: Limit = NO_LIMIT


@dataclass(frozen=True, slots=True)
class ReferencePrice:
    price: float
    as_of: float  # epoch seconds


@dataclass(frozen=True)
class RiskLimits:
    """Defaults with per-symbol, per-session and per-venue overrides (an override replaces the
    default's whole group for that key)."""

    order: OrderLimits = OrderLimits()
    session: SessionLimits = SessionLimits()
    child: ChildLimits = ChildLimits()
    by_symbol: Mapping[str, OrderLimits] = field(default_factory=dict)
    by_session: Mapping[str, SessionLimits] = field(default_factory=dict)
    by_venue: Mapping[str, ChildLimits] = field(default_factory=dict)
    references: Mapping[str, ReferencePrice] = field(default_factory=dict)  # configured, per symbol
    reference_max_age_seconds: float = 86_400.0
    restricted: frozenset[str] = frozenset()
    duplicate_window_seconds: float | None = None  # same session, side, symbol and quantity

    def for_symbol(self, symbol: str) -> OrderLimits:
        return self.by_symbol.get(symbol, self.order)

    def for_session(self, session: str) -> SessionLimits:
        return self.by_session.get(session, self.session)

    def for_venue(self, venue: str) -> ChildLimits:
        return self.by_venue.get(venue, self.child)


@dataclass(frozen=True, slots=True)
class WorkingOrder:
    """What open notional counts of a working parent: its leaves, priced at its limit or else at the
    symbol's reference."""

    symbol: str
    leaves: int
    limit_price: float | None = None


@dataclass(frozen=True, slots=True)
class Breach:
    limit: str            # e.g. "order.max_notional"
    severity: Severity
    level: float          # the level broken
    value: float          # the order's value

    @property
    def text(self) -> str:
        return f"{self.limit} {_number(self.level)} exceeded ({self.severity.value}): {_number(self.value)}"


@dataclass(frozen=True, slots=True)
class Verdict:
    refusal: Refusal | None = None
    warnings: tuple[Breach, ...] = ()
    breach: Breach | None = None  # the hard breach behind a refusal, when a limit caused it

    @property
    def accepted(self) -> bool:
        return self.refusal is None


ACCEPTED = Verdict()


class RiskGate:
    """The limits and the little state they need: message and child timestamps, the notional
    filled today per session, the newest fill price per symbol and the recent parents (duplicates).
    Everything is passed ``now`` (epoch seconds): the gate never reads a clock."""

    def __init__(self, limits: RiskLimits) -> None:
        self.limits = limits
        self._messages: dict[str, deque[float]] = {}
        self._children: dict[str, deque[float]] = {}
        self._filled_today: dict[str, float] = {}
        self._day_start = float("-inf")  # the UTC day the filled notional is of
        self._last_fill: dict[str, ReferencePrice] = {}
        self._market: dict[str, ReferencePrice] = {}  # the primary's midpoint while the feed is live
        self._recent: deque[tuple[float, tuple]] = deque()

    # -- the gates -------------------------------------------------------------------------------

    def check_message(self, session: str, now: float) -> Verdict:
        """Counts this message (new, cancel or replace) and judges the session's rate."""
        window = _slide(self._messages.setdefault(session, deque()), now)
        window.append(now)
        return _judge([("session.max_messages_per_second", self.limits.for_session(session).max_messages_per_second,
                        float(len(window)))], RejectReason.EXCEEDS_LIMIT)

    def check_parent(self, spec: ParentSpec, now: float, working: Iterable[WorkingOrder] = ()) -> Verdict:
        """``working``: the session's working parents (the manager knows them), whose leaves are its
        open notional, children in flight included. An accepted parent is remembered for the
        duplicate check."""
        if spec.symbol in self.limits.restricted:
            return Verdict(Refusal(RejectReason.HALTED, f"{spec.symbol} is on the restricted list"))
        duplicate = self._duplicate(spec, now)
        if duplicate is not None:
            return duplicate
        order_limits = self.limits.for_symbol(spec.symbol)
        session_limits = self.limits.for_session(str(spec.session))
        checks: list[tuple[str, Limit, float]] = [("order.max_quantity", order_limits.max_quantity, float(spec.quantity))]
        needs_price = any(limit.hard is not None or limit.soft is not None for limit in (
            order_limits.max_notional, order_limits.collar_bps, session_limits.max_open_notional))
        if needs_price:
            reference = self.reference_price(spec.symbol, now)
            price = self.price_of(spec.symbol, spec.limit_price, now)
            if reference is None and (spec.order_type is not OrderType.LIMIT or order_limits.collar_bps != NO_LIMIT):
                return Verdict(Refusal(RejectReason.EXCEEDS_LIMIT, f"no reference price for {spec.symbol} younger than "
                                       f"{_number(self.limits.reference_max_age_seconds)} s: the limits cannot be evaluated"))
            open_notional = self.open_notional(working, now) if session_limits.max_open_notional != NO_LIMIT else 0.0
            if open_notional is None:
                return Verdict(Refusal(RejectReason.EXCEEDS_LIMIT, "a working order has no usable reference price: "
                                       "session.max_open_notional cannot be evaluated"))
            notional = spec.quantity * price
            checks.append(("order.max_notional", order_limits.max_notional, notional))
            if spec.order_type is OrderType.LIMIT and reference is not None:
                checks.append(("order.collar_bps", order_limits.collar_bps,
                               abs(spec.limit_price - reference.price) / reference.price * 10_000))
            checks.append(("session.max_open_notional", session_limits.max_open_notional, open_notional + notional))
        checks.append(("session.max_daily_notional", session_limits.max_daily_notional,
                       self.filled_today(str(spec.session), now)))
        verdict = _judge(checks, RejectReason.EXCEEDS_LIMIT)
        if verdict.accepted and self.limits.duplicate_window_seconds is not None:
            self._recent.append((now, _order_key(spec)))
        return verdict

    def check_child(self, venue: str, quantity: int, price: float | None, unreserved: int, now: float) -> Verdict:
        """A child about to leave, ``price`` its limit or the symbol's reference (None: none known).
        Accepted children count against the venue's orders per second; a refused one is not sent (a
        sweep skips that venue)."""
        if quantity > unreserved:
            return Verdict(Refusal(RejectReason.EXCEEDS_LIMIT, f"child of {quantity} over the parent's unreserved "
                                   f"{unreserved}"), breach=Breach("child.unreserved", Severity.HARD, unreserved, quantity))
        limits = self.limits.for_venue(venue)
        if price is None and limits.max_notional != NO_LIMIT:
            return Verdict(Refusal(RejectReason.EXCEEDS_LIMIT, "no reference price: child.max_notional cannot be evaluated"))
        window = _slide(self._children.setdefault(venue, deque()), now)
        verdict = _judge([("child.max_quantity", limits.max_quantity, float(quantity)),
                          ("child.max_notional", limits.max_notional, quantity * (price or 0.0)),
                          ("child.max_orders_per_second", limits.max_orders_per_second, float(len(window) + 1))],
                         RejectReason.EXCEEDS_LIMIT)
        if verdict.accepted:
            window.append(now)
        return verdict

    # -- the state the manager feeds ----------------------------------------------------------------

    def on_fill(self, session: str, symbol: str, quantity: int, price: float, now: float) -> None:
        self._roll_day(now)
        self._filled_today[session] = self._filled_today.get(session, 0.0) + quantity * price
        self._last_fill[symbol] = ReferencePrice(price, now)

    def on_market_midpoint(self, symbol: str, midpoint: float, now: float) -> None:
        """The market-data feed's newest midpoint: the reference while the feed is live."""
        if midpoint > 0:
            self._market[symbol] = ReferencePrice(midpoint, now)

    def on_market_stale(self, symbol: str) -> None:
        """The feed cannot vouch for the symbol's midpoint any more (down, silent): back to the
        last fill and the configured reference, with their age limit."""
        self._market.pop(symbol, None)

    def change_limits(self, limits: RiskLimits) -> None:
        self.limits = limits

    # -- what the checks read --------------------------------------------------------------------

    def reference_price(self, symbol: str, now: float) -> ReferencePrice | None:
        """The live feed's midpoint; else the newest of the symbol's last fill and its configured
        reference, if young enough."""
        market = self._market.get(symbol)
        if market is not None:
            return market
        known = [p for p in (self._last_fill.get(symbol), self.limits.references.get(symbol)) if p is not None]
        newest = max(known, key=lambda p: p.as_of, default=None)
        if newest is None or now - newest.as_of > self.limits.reference_max_age_seconds:
            return None
        return newest

    def price_of(self, symbol: str, limit_price: float | None, now: float) -> float | None:
        """What an order's shares are priced at for its notional: its limit, else the reference."""
        if limit_price is not None:
            return limit_price
        reference = self.reference_price(symbol, now)
        return reference.price if reference is not None else None

    def filled_today(self, session: str, now: float) -> float:
        self._roll_day(now)
        return self._filled_today.get(session, 0.0)

    def _roll_day(self, now: float) -> None:
        if self._day_start <= now < self._day_start + SECONDS_PER_DAY:
            return
        self._day_start = now - now % SECONDS_PER_DAY  # 00:00 UTC (epoch days are UTC days)
        self._filled_today = {}

    def open_notional(self, working: Iterable[WorkingOrder], now: float) -> float | None:
        total = 0.0
        references: dict[str, float | None] = {}  # one reference lookup per symbol, not per order
        for order in working:
            price = order.limit_price
            if price is None:
                if order.symbol not in references:
                    references[order.symbol] = self.price_of(order.symbol, None, now)
                price = references[order.symbol]
                if price is None:
                    return None
            total += order.leaves * price
        return total

    def _duplicate(self, spec: ParentSpec, now: float) -> Verdict | None:
        window = self.limits.duplicate_window_seconds
        if window is None:
            return None
        while self._recent and now - self._recent[0][0] > window:
            self._recent.popleft()
        if any(key == _order_key(spec) for _, key in self._recent):
            return Verdict(Refusal(RejectReason.DUPLICATE_ORDER, f"same session, side, symbol and quantity as an "
                                   f"order less than {_number(window)} s ago"))
        return None


def _order_key(spec: ParentSpec) -> tuple:
    return (spec.session, spec.side, spec.symbol, spec.quantity)


def _slide(window: deque[float], now: float) -> deque[float]:
    while window and now - window[0] >= WINDOW_SECONDS:
        window.popleft()
    return window


def _judge(checks: list[tuple[str, Limit, float]], reason: RejectReason) -> Verdict:
    """The first hard breach refuses; soft breaches are warnings."""
    warnings = []
    for name, limit, value in checks:
        severity = limit.breach(value)
        if severity is None:
            continue
        breach = Breach(name, severity, limit.level(severity), value)
        if severity is Severity.HARD:
            return Verdict(Refusal(reason, breach.text), tuple(warnings), breach)
        warnings.append(breach)
    return Verdict(warnings=tuple(warnings))


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() or abs(value) >= 100 else f"{value:,.2f}"
