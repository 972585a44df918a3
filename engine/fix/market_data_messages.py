"""FIX 4.4 market data as the engine uses it: a subscription request out, snapshots and incremental
refreshes in, the best bid and offer per symbol kept, and the midpoint derived. Pure string functions
(no quickfix), like :mod:`engine.fix.translate`.

    request = market_data_request("MD-1", ["VOD.L", "BARC.L"])     # 35=V, snapshot + updates
    book = QuoteBook()
    book.apply(text_of_35_W_or_X)    # -> {"VOD.L": 25.005}: symbols whose midpoint changed

Repeating groups are read in order (a tag=value dict would keep only one entry of each tag): an entry
of NoMDEntries (268) starts at its MDEntryType (269) in a snapshot, at its MDUpdateAction (279) in an
incremental refresh. An entry without its own Symbol (55) belongs to the message's. Only bids (269=0)
and offers (269=1) count; a Delete (279=2) removes that side, and a symbol's midpoint is known only
while both sides are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from engine.fix.translate import SOH, build_message, parse_number

SNAPSHOT, INCREMENTAL, REQUEST_REJECT = "W", "X", "Y"
SNAPSHOT_AND_UPDATES, UNSUBSCRIBE = "1", "2"
BID, OFFER = "0", "1"
DELETE = "2"


def market_data_request(request_id: str, symbols: Iterable[str], subscribe: bool = True) -> str:
    """MarketDataRequest (35=V): top of book (264=1), bids and offers, full refresh updates."""
    symbols = list(symbols)
    fields: list[tuple[int, object]] = [(262, request_id), (263, SNAPSHOT_AND_UPDATES if subscribe else UNSUBSCRIBE),
                                        (264, 1), (265, 1), (267, 2), (269, BID), (269, OFFER), (146, len(symbols))]
    fields += [(55, symbol) for symbol in symbols]
    return build_message("V", fields)


def pairs_of(text: str) -> list[tuple[str, str]]:
    """Every tag=value of a message text, in order (repeated tags kept)."""
    found = []
    for part in text.split(SOH):
        tag, equals, value = part.partition("=")
        if equals:
            found.append((tag, value))
    return found


@dataclass(frozen=True, slots=True)
class QuoteEntry:
    symbol: str | None
    side: str | None
    price: float | None
    delete: bool


def quote_entries(text: str) -> tuple[str | None, str | None, list[QuoteEntry]]:
    """(MsgType, the message's Symbol, its NoMDEntries entries) of a 35=W or 35=X text."""
    pairs = pairs_of(text)
    msg_type = next((value for tag, value in pairs if tag == "35"), None)
    starts_entry = "279" if msg_type == INCREMENTAL else "269"
    top_symbol, entries, current = None, [], None
    in_group = False
    for tag, value in pairs:
        if tag == "268":
            in_group = True
            continue
        if not in_group:
            if tag == "55":
                top_symbol = value
            continue
        if tag == starts_entry:
            if current is not None:
                entries.append(current)
            current = {}
        if current is not None and tag in ("55", "269", "270", "279"):
            current.setdefault(tag, value)
    if current is not None:
        entries.append(current)
    return msg_type, top_symbol, [QuoteEntry(entry.get("55"), entry.get("269"), parse_number(entry.get("270")),
                                             entry.get("279") == DELETE) for entry in entries]


class QuoteBook:
    """Best bid and offer per symbol from snapshots and incremental refreshes."""

    def __init__(self) -> None:
        self._sides: dict[str, dict[str, float]] = {}

    def apply(self, text: str) -> dict[str, float]:
        """Apply one 35=W or 35=X; the symbols whose midpoint is now known and changed, with it."""
        msg_type, top_symbol, entries = quote_entries(text)
        if msg_type not in (SNAPSHOT, INCREMENTAL):
            return {}
        touched: set[str] = set()
        before = {}
        if msg_type == SNAPSHOT and top_symbol is not None:  # a snapshot replaces the symbol's book
            before[top_symbol] = self.midpoint(top_symbol)
            self._sides[top_symbol] = {}
            touched.add(top_symbol)
        for entry in entries:
            symbol = entry.symbol or top_symbol
            if symbol is None or entry.side not in (BID, OFFER):
                continue
            if symbol not in before:
                before[symbol] = self.midpoint(symbol)
            sides = self._sides.setdefault(symbol, {})
            if entry.delete or entry.price is None or entry.price <= 0:
                sides.pop(entry.side, None)
            else:
                sides[entry.side] = entry.price
            touched.add(symbol)
        changed = {}
        for symbol in touched:
            now = self.midpoint(symbol)
            if now is not None and now != before.get(symbol):
                changed[symbol] = now
        return changed

    def midpoint(self, symbol: str) -> float | None:
        sides = self._sides.get(symbol, {})
        if BID in sides and OFFER in sides and sides[OFFER] >= sides[BID]:
            return (sides[BID] + sides[OFFER]) / 2.0
        return None

    def forget(self) -> None:
        """After a disconnect nothing is known until the next snapshot."""
        self._sides.clear()
