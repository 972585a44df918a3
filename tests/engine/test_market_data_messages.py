"""The market-data messages the engine reads and sends, as canned FIX strings (no quickfix)."""

from __future__ import annotations

import pytest

from engine.fix.market_data_messages import QuoteBook, market_data_request, pairs_of, quote_entries
from engine.fix.translate import SOH


def message(*fields: tuple[int, object]) -> str:
    return SOH.join(f"{tag}={value}" for tag, value in [(8, "FIX.4.4"), (9, 0), *fields]) + SOH


def snapshot(symbol: str, bid: float, offer: float) -> str:
    return message((35, "W"), (262, "R1"), (55, symbol), (268, 2), (269, 0), (270, bid), (271, 1000),
                   (269, 1), (270, offer), (271, 1000))


def test_the_request_subscribes_to_bids_and_offers_of_every_symbol():
    pairs = pairs_of(market_data_request("MD-1", ["VOD.L", "BARC.L"]))
    assert ("35", "V") in pairs and ("263", "1") in pairs and ("146", "2") in pairs
    assert [value for tag, value in pairs if tag == "269"] == ["0", "1"]
    assert [value for tag, value in pairs if tag == "55"] == ["VOD.L", "BARC.L"]
    assert ("263", "2") in pairs_of(market_data_request("MD-1", ["VOD.L"], subscribe=False))


def test_a_snapshot_gives_the_midpoint_and_an_update_of_one_side_moves_it():
    book = QuoteBook()
    assert book.apply(snapshot("VOD.L", 24.99, 25.01)) == {"VOD.L": pytest.approx(25.00)}
    update = message((35, "X"), (262, "R1"), (268, 1), (279, 1), (269, 1), (55, "VOD.L"), (270, 25.03), (271, 500))
    assert book.apply(update) == {"VOD.L": pytest.approx(25.01)}
    assert book.apply(update) == {}                                   # no change, nothing reported
    delete = message((35, "X"), (268, 1), (279, 2), (269, 0), (55, "VOD.L"))
    assert book.apply(delete) == {} and book.midpoint("VOD.L") is None  # one side only: no midpoint


def test_an_incremental_refresh_may_carry_several_symbols_and_a_crossed_book_has_no_midpoint():
    book = QuoteBook()
    book.apply(snapshot("VOD.L", 24.99, 25.01))
    book.apply(snapshot("BARC.L", 17.99, 18.01))
    update = message((35, "X"), (268, 2), (279, 1), (269, 0), (55, "VOD.L"), (270, 25.00),
                     (279, 1), (269, 0), (55, "BARC.L"), (270, 18.05))
    changed = book.apply(update)
    assert changed == {"VOD.L": pytest.approx(25.005)}               # BARC.L's bid crossed its offer
    assert book.midpoint("BARC.L") is None
    _, _, entries = quote_entries(update)
    assert [(e.symbol, e.side, e.price) for e in entries] == [("VOD.L", "0", 25.0), ("BARC.L", "0", 18.05)]


def test_a_new_snapshot_replaces_the_book_and_forget_clears_it():
    book = QuoteBook()
    book.apply(snapshot("VOD.L", 24.99, 25.01))
    assert book.apply(snapshot("VOD.L", 25.09, 25.11)) == {"VOD.L": pytest.approx(25.10)}
    book.forget()
    assert book.midpoint("VOD.L") is None
    assert book.apply(message((35, "8"), (55, "VOD.L"))) == {}       # not market data: ignored
