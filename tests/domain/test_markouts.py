"""Markout arithmetic for buys and sells at every horizon, and which midpoint settles a markout."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, strategies as st

from engine.domain.markouts import Fill, MarkoutBook, markout_bps
from engine.domain.orders import Side

prices = st.floats(min_value=0.01, max_value=10_000, allow_nan=False)


def test_a_buy_marks_out_positive_when_the_midpoint_rises_and_a_sell_negative():
    assert markout_bps(Side.BUY, 25.00, 25.05) == pytest.approx(20.0)
    assert markout_bps(Side.SELL, 25.00, 25.05) == pytest.approx(-20.0)
    assert markout_bps(Side.BUY, 25.00, 24.95) == pytest.approx(-20.0)
    assert markout_bps(Side.SELL, 25.00, 24.95) == pytest.approx(20.0)
    assert markout_bps(Side.BUY, 25.00, 25.00) == 0.0
    with pytest.raises(ValueError):
        markout_bps(Side.BUY, 0.0, 25.0)


@given(prices, prices)
def test_buy_and_sell_markouts_are_opposite_and_in_bps_of_the_fill_midpoint(at_fill, later):
    buy, sell = markout_bps(Side.BUY, at_fill, later), markout_bps(Side.SELL, at_fill, later)
    assert buy == -sell
    assert math.isclose(at_fill * (1 + buy / 10_000), later, rel_tol=1e-9)


def test_every_horizon_is_settled_with_the_midpoint_in_force_at_it():
    book = MarkoutBook(horizons=(1.0, 10.0, 60.0))
    book.fill(Fill("F1", "V2", Side.BUY, "VOD.L", 500, midpoint=25.00, at=100.0))
    assert book.midpoint("VOD.L", 25.01, at=100.5) == []          # before the first horizon
    done = book.midpoint("VOD.L", 24.90, at=101.5)                 # the 1 s markout: 25.01 was in force at 101
    assert [(m.horizon_seconds, round(m.bps, 6)) for m in done] == [(1.0, 4.0)]
    done = book.midpoint("VOD.L", 24.95, at=110.0)                 # due exactly at 110: settled with this one
    assert [(m.horizon_seconds, round(m.bps, 6)) for m in done] == [(10.0, -20.0)]
    assert book.pending("VOD.L") == 1
    done = book.settle_until("VOD.L", 160.0)
    assert [(m.horizon_seconds, round(m.bps, 6), m.venue, m.quantity) for m in done] == [(60.0, -20.0, "V2", 500)]
    assert book.pending() == 0


def test_a_markout_due_exactly_at_an_update_takes_that_update_and_a_late_update_is_ignored():
    book = MarkoutBook(horizons=(10.0,))
    book.fill(Fill("S1", "V5", Side.SELL, "BARC.L", 100, midpoint=20.00, at=0.0))
    assert book.midpoint("BARC.L", 19.00, at=5.0) == []
    assert book.midpoint("BARC.L", 21.00, at=4.0) == []           # older than the latest: changes nothing
    done = book.midpoint("BARC.L", 19.50, at=10.0)
    assert [round(m.bps, 6) for m in done] == [250.0]              # sold at mid 20, mid 19.5 at 10 s
    assert book.latest("BARC.L") == (19.50, 10.0)


def test_fills_of_other_symbols_wait_for_their_own_midpoints():
    book = MarkoutBook(horizons=(1.0,))
    book.fill(Fill("A", "V1", Side.BUY, "VOD.L", 1, midpoint=25.0, at=0.0))
    book.fill(Fill("B", "V1", Side.BUY, "HSBA.L", 1, midpoint=62.0, at=0.0))
    assert book.midpoint("VOD.L", 25.1, at=2.0)[0].fill_id == "A"
    assert book.pending("HSBA.L") == 1 and book.pending("VOD.L") == 0


@given(st.lists(st.tuples(st.floats(0, 100), prices), min_size=1, max_size=30), prices,
       st.sampled_from([Side.BUY, Side.SELL]))
def test_settled_markouts_use_the_last_midpoint_stamped_at_or_before_the_due_time(updates, first_mid, side):
    book = MarkoutBook(horizons=(1.0, 5.0))
    book.fill(Fill("F", "V1", side, "X", 10, midpoint=first_mid, at=0.0))
    history = [(0.0, first_mid)]
    settled = []
    for at, mid in sorted(updates):
        settled += book.midpoint("X", mid, at)
        history.append((at, mid))
    settled += book.settle_until("X", 1e9)
    assert sorted(m.horizon_seconds for m in settled) == [1.0, 5.0]
    for markout in settled:
        in_force = [mid for at, mid in history if at <= markout.horizon_seconds][-1]
        assert markout.bps == pytest.approx(markout_bps(side, first_mid, in_force))
