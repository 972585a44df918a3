"""The market-data session: the shared midpoints (:mod:`sim_venues.market`) published over FIX 4.4 as
a primary exchange's top of book, bid = midpoint - spread/2 and offer = midpoint + spread/2
(``spread_ticks`` and ``quote_size`` per symbol).

The subset served, checked against fix_specs/FIX44.xml (whose MarketDataRequest requires 264 and
the 267 group, so a client must send them):

- in:  ``V`` MarketDataRequest: 262 MDReqID, 263 SubscriptionRequestType (0 snapshot, 1 snapshot
  and updates, 2 unsubscribe the 262 given), 264 MarketDepth (any: there is only a top level),
  265 MDUpdateType (1 incremental, the default; 0 full refresh), 267 NoMDEntryTypes with 269
  (0 bid, 1 offer; other types are left out), 146 NoRelatedSym with 55;
- out: ``W`` MarketDataSnapshotFullRefresh, one per symbol: 262, 55, 268 with 269/270/271 per entry
  type; ``X`` MarketDataIncrementalRefresh, one per subscription and market step in which the
  midpoint of one of its symbols changed: 262, 268 with 279=1 (change)/269/55/270/271 (a full-refresh
  subscription gets a W per changed symbol instead); ``Y`` MarketDataRequestReject: 262, 281
  MDReqRejReason (0 unknown symbol, 1 duplicate MDReqID, 4 SubscriptionRequestType, 6 MDUpdateType,
  8 MDEntryType), 58 Text.

Subscriptions end with the session: after a logout the client subscribes again and gets a fresh
snapshot (market data is never resent, so the session resets its sequence numbers at every logon).

Threads: every subscription is touched by the scheduler thread only. The QuickFIX callback parses the
request into plain data and hands it to the scheduler, which also runs the market-step timer; one
thread then orders every message of a subscription (a snapshot is never overtaken by an update), and
no Python lock is ever held across ``sendToTarget``. Messages are built as text in the dictionary's
field order and parsed once with the data dictionary, which QuickFIX needs to keep repeating groups
together (without it the fields are sorted by tag and the groups fall apart).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import quickfix as fix

from sim_venues.market import Market
from sim_venues.scheduler import Scheduler

SOH = "\x01"
BID, OFFER = "0", "1"
SNAPSHOT, SUBSCRIBE, UNSUBSCRIBE = "0", "1", "2"
REJECT_UNKNOWN_SYMBOL, REJECT_DUPLICATE_ID = "0", "1"
REJECT_SUBSCRIPTION_TYPE, REJECT_UPDATE_TYPE, REJECT_ENTRY_TYPE = "4", "6", "8"


@dataclass(frozen=True, slots=True)
class MarketDataRequest:
    req_id: str
    subscription: str | None
    symbols: tuple[str, ...]
    entry_types: tuple[str, ...]
    update_type: str | None = None


def request_from_text(text: str) -> MarketDataRequest:
    """A MarketDataRequest's fields; every 55 and 269 is a group entry (neither is in V's body)."""
    first: dict[str, str] = {}
    symbols: list[str] = []
    types: list[str] = []
    for part in text.split(SOH):
        tag, _, value = part.partition("=")
        if tag == "55":
            symbols.append(value)
        elif tag == "269":
            types.append(value)
        else:
            first.setdefault(tag, value)
    return MarketDataRequest(first.get("262", ""), first.get("263"), tuple(symbols), tuple(types), first.get("265"))


@dataclass(frozen=True, slots=True)
class Book:
    """How a symbol's top of book is drawn from its midpoint."""

    tick: float
    spread_ticks: int
    size: int
    digits: int  # of the tick; quotes get one more (an odd spread puts them on half ticks)

    def entry(self, entry_type: str, midpoint: float) -> tuple[str, str]:
        half = self.spread_ticks * self.tick / 2
        price = midpoint - half if entry_type == BID else midpoint + half
        return _decimal(price, self.digits + 1), str(self.size)


def _decimal(value: float, digits: int) -> str:
    text = f"{value:.{digits}f}".rstrip("0").rstrip(".")  # never 1e-05 or 25.010000000001
    return text or "0"


def snapshot_text(req_id: str, symbol: str, entries: list[tuple[str, str, str]]) -> str:
    """W: entries are (269, 270, 271)."""
    parts = ["8=FIX.4.4", "9=0", "35=W", f"262={req_id}", f"55={symbol}", f"268={len(entries)}"]
    for entry_type, price, size in entries:
        parts += [f"269={entry_type}", f"270={price}", f"271={size}"]
    return SOH.join(parts + ["10=000", ""])


def incremental_text(req_id: str, entries: list[tuple[str, str, str, str]]) -> str:
    """X: entries are (269, 55, 270, 271), each a change (279=1)."""
    parts = ["8=FIX.4.4", "9=0", "35=X", f"262={req_id}", f"268={len(entries)}"]
    for entry_type, symbol, price, size in entries:
        parts += ["279=1", f"269={entry_type}", f"55={symbol}", f"270={price}", f"271={size}"]
    return SOH.join(parts + ["10=000", ""])


def reject_text(req_id: str, reason: str | None, text: str) -> str:
    parts = ["8=FIX.4.4", "9=0", "35=Y", f"262={req_id}"]
    if reason is not None:
        parts.append(f"281={reason}")
    parts.append("58=" + text.replace(SOH, " "))
    return SOH.join(parts + ["10=000", ""])


@dataclass(slots=True)
class _Subscription:
    req_id: str
    symbols: tuple[str, ...]
    entry_types: tuple[str, ...]
    full_refresh: bool
    last: dict[str, float] = field(default_factory=dict)  # the midpoint last sent per symbol


class MarketDataFeed:
    def __init__(self, market: Market, books: dict[str, Book], session_id: fix.SessionID,
                 data_dictionary: str, scheduler: Scheduler, *,
                 require_credentials: bool = False, clock: Callable[[], float] = time.monotonic,
                 send: Callable[[fix.Message, fix.SessionID], object] = fix.Session.sendToTarget) -> None:
        self.market = market
        self.books = books
        self.session_id = session_id  # our own copy, safe on any thread
        self.require_credentials = require_credentials
        self._dictionary = fix.DataDictionary(data_dictionary)
        self._scheduler = scheduler
        self._clock = clock
        self._send = send
        self._subscriptions: dict[str, _Subscription] = {}  # scheduler thread only
        self._running = False
        self.logged_on = False
        self.sent = 0

    # -- called from QuickFIX threads: hand over to the scheduler thread ------------------------

    def receive(self, text: str) -> None:
        request = request_from_text(text)
        self._scheduler.later(0.0, lambda: self.handle(request))

    def session_ended(self) -> None:
        self._scheduler.later(0.0, self._subscriptions.clear)

    # -- the timer --------------------------------------------------------------------------------

    def start(self) -> None:
        self._running = True
        self._schedule_tick()

    def stop(self) -> None:
        self._running = False

    def _tick(self) -> None:
        if not self._running:
            return
        try:
            self.publish()
        finally:
            self._schedule_tick()

    def _schedule_tick(self) -> None:
        # Just after the next market step, whatever this one cost: an update leaves as its step begins.
        due = self.market.next_step_time(self._clock())
        self._scheduler.at(due + self.market.step_seconds * 1e-3, self._tick)

    # -- scheduler thread -------------------------------------------------------------------------

    def handle(self, request: MarketDataRequest) -> None:
        req_id = request.req_id
        if request.subscription == UNSUBSCRIBE:
            if self._subscriptions.pop(req_id, None) is None:
                self._message(reject_text(req_id, None, f"no subscription {req_id} to end"))
            return
        problem = self._problem(request)
        if problem is not None:
            self._message(reject_text(req_id, *problem))
            return
        types = tuple(dict.fromkeys(t for t in request.entry_types if t in (BID, OFFER)))
        midpoints = self.market.midpoints()
        for symbol in dict.fromkeys(request.symbols):
            self._snapshot(req_id, symbol, types, midpoints[symbol])
        if request.subscription == SUBSCRIBE:
            self._subscriptions[req_id] = _Subscription(
                req_id, tuple(dict.fromkeys(request.symbols)), types, request.update_type == "0",
                {symbol: midpoints[symbol] for symbol in request.symbols})

    def _problem(self, request: MarketDataRequest) -> tuple[str, str] | None:
        if request.subscription not in (SNAPSHOT, SUBSCRIBE):
            return REJECT_SUBSCRIPTION_TYPE, f"SubscriptionRequestType {request.subscription} not supported: 0, 1 or 2"
        if request.update_type not in (None, "0", "1"):
            return REJECT_UPDATE_TYPE, f"MDUpdateType {request.update_type} not supported: 0 or 1"
        if not request.symbols:
            return REJECT_UNKNOWN_SYMBOL, "no Symbol (55) in NoRelatedSym (146)"
        unknown = [symbol for symbol in request.symbols if symbol not in self.market]
        if unknown:
            return REJECT_UNKNOWN_SYMBOL, f"unknown symbol {', '.join(unknown)}"
        if not any(t in (BID, OFFER) for t in request.entry_types):
            return REJECT_ENTRY_TYPE, "MDEntryType (269) must include 0 (bid) or 1 (offer)"
        if request.subscription == SUBSCRIBE and request.req_id in self._subscriptions:
            return REJECT_DUPLICATE_ID, f"MDReqID {request.req_id} is subscribed already"
        return None

    def publish(self) -> None:
        """Send what changed since each subscription last heard (on every market step)."""
        if not self._subscriptions:
            return
        midpoints = self.market.midpoints()
        for subscription in list(self._subscriptions.values()):
            changed = [s for s in subscription.symbols if midpoints[s] != subscription.last[s]]
            if not changed:
                continue
            for symbol in changed:
                subscription.last[symbol] = midpoints[symbol]
            if subscription.full_refresh:
                for symbol in changed:
                    self._snapshot(subscription.req_id, symbol, subscription.entry_types, midpoints[symbol])
                continue
            entries = []
            for symbol in changed:
                book = self.books[symbol]
                entries += [(t, symbol, *book.entry(t, midpoints[symbol])) for t in subscription.entry_types]
            self._message(incremental_text(subscription.req_id, entries))

    def subscriptions(self) -> int:
        return len(self._subscriptions)

    def _snapshot(self, req_id: str, symbol: str, types: tuple[str, ...], midpoint: float) -> None:
        book = self.books[symbol]
        self._message(snapshot_text(req_id, symbol, [(t, *book.entry(t, midpoint)) for t in types]))

    def _message(self, text: str) -> None:
        self._send(fix.Message(text, self._dictionary, False), self.session_id)
        self.sent += 1
