"""The pure risk gate: each limit at exactly its level is accepted, one unit over is refused (hard)
or warned about (soft), with a Text naming the limit, its level and the order's value; fail closed
when a price is needed and no usable reference exists."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings, strategies as st

from engine.domain.ids import ClOrdId, SessionKey, Symbol
from engine.domain.orders import OrderType, ParentSpec, RejectReason, Side, TimeInForce
from engine.domain.risk import (ChildLimits, Limit, OrderLimits, ReferencePrice, RiskGate, RiskLimits, SessionLimits,
                                Severity, WorkingOrder)

NOW = 1_790_000_000.0  # a fixed epoch second
SESSION = SessionKey("FIX.4.4:DARKAGG->TRADER1")
REFERENCES = {"VOD.L": ReferencePrice(25.0, NOW - 60)}


def spec(quantity: int = 1000, price: float | None = None, symbol: str = "VOD.L", side: Side = Side.BUY,
         cl_ord_id: str = "A") -> ParentSpec:
    return ParentSpec(SESSION, ClOrdId(cl_ord_id), side, Symbol(symbol), quantity,
                      OrderType.LIMIT if price is not None else OrderType.MARKET, TimeInForce.DAY, limit_price=price)


def gate(**changes) -> RiskGate:
    return RiskGate(replace(RiskLimits(references=REFERENCES), **changes))


@pytest.mark.parametrize("limits, at_limit, over, name", [
    (dict(order=OrderLimits(max_quantity=Limit(hard=5000))), spec(5000), spec(5001), "order.max_quantity 5,000"),
    # 4,000 shares at the 25.00 reference is 100,000; a share more is 100,025
    (dict(order=OrderLimits(max_notional=Limit(hard=100_000))), spec(4000), spec(4001), "order.max_notional 100,000"),
    # a limit of 25.25 is 100 bps from the 25.00 reference; 25.26 is 104 bps
    (dict(order=OrderLimits(collar_bps=Limit(hard=100))), spec(10, 25.25), spec(10, 25.26), "order.collar_bps 100"),
    (dict(session=SessionLimits(max_open_notional=Limit(hard=150_000))), spec(2000), spec(2001),
     "session.max_open_notional 150,000"),
])
def test_a_parent_at_the_limit_is_accepted_and_one_over_refused_naming_it(limits, at_limit, over, name):
    # 100,000 open: 1,000 shares at a 30.00 limit and 2,800 at the 25.00 reference
    working = [WorkingOrder("VOD.L", 1000, 30.0), WorkingOrder("VOD.L", 2800)] if "session" in limits else []
    assert gate(**limits).check_parent(at_limit, NOW, working).accepted
    verdict = gate(**limits).check_parent(over, NOW, working)
    assert verdict.refusal.reason is RejectReason.EXCEEDS_LIMIT
    assert verdict.refusal.text.startswith(f"{name} exceeded (hard): ")
    assert verdict.breach.value > verdict.breach.level


def test_a_soft_level_accepts_warns_and_the_hard_level_still_refuses():
    limits = dict(order=OrderLimits(max_quantity=Limit(hard=10_000, soft=5000)))
    verdict = gate(**limits).check_parent(spec(6000), NOW)
    assert verdict.accepted and [(w.limit, w.severity, w.level, w.value) for w in verdict.warnings] == [
        ("order.max_quantity", Severity.SOFT, 5000, 6000)]
    assert gate(**limits).check_parent(spec(5000), NOW).warnings == ()
    assert not gate(**limits).check_parent(spec(10_001), NOW).accepted


def test_the_daily_notional_counts_fills_and_starts_afresh_each_utc_day():
    risk = gate(session=SessionLimits(max_daily_notional=Limit(hard=50_000)))
    risk.on_fill(str(SESSION), "VOD.L", 2000, 25.0, NOW)
    assert risk.check_parent(spec(1), NOW).accepted            # 50,000 filled: at the limit
    risk.on_fill(str(SESSION), "VOD.L", 1, 25.0, NOW)
    refused = risk.check_parent(spec(1), NOW)
    assert refused.refusal.text == "session.max_daily_notional 50,000 exceeded (hard): 50,025"
    assert risk.check_parent(spec(1), NOW + 86_400).accepted   # the next day


def test_message_rate_per_session_over_a_sliding_second():
    risk = gate(session=SessionLimits(max_messages_per_second=Limit(hard=3)))
    assert all(risk.check_message(str(SESSION), NOW + i * 0.1).accepted for i in range(3))
    assert risk.check_message(str(SESSION), NOW + 0.3).refusal.text.startswith("session.max_messages_per_second 3")
    assert risk.check_message("FIX.4.4:DARKAGG->TRADER2", NOW + 0.3).accepted  # per session
    assert risk.check_message(str(SESSION), NOW + 1.15).accepted               # the first ones slid out


def test_no_usable_reference_fails_closed_for_notional_and_collar():
    no_reference = gate(references={}, order=OrderLimits(max_notional=Limit(hard=1e9)))
    assert "no reference price for VOD.L" in no_reference.check_parent(spec(10), NOW).refusal.text
    # a limit order's notional is priced at its limit: no reference needed without a collar
    assert no_reference.check_parent(spec(10, 25.0), NOW).accepted
    stale = gate(order=OrderLimits(collar_bps=Limit(hard=100)), reference_max_age_seconds=30)
    assert not stale.check_parent(spec(10, 25.0), NOW).accepted  # the reference is 60 s old
    # the newest of fill and configured reference wins
    stale.on_fill(str(SESSION), "VOD.L", 10, 30.0, NOW - 1)
    assert stale.reference_price("VOD.L", NOW) == ReferencePrice(30.0, NOW - 1)
    assert stale.check_parent(spec(10, 30.3), NOW).accepted and not stale.check_parent(spec(10, 25.0), NOW).accepted


def test_open_notional_fails_closed_when_a_working_order_cannot_be_priced():
    risk = gate(session=SessionLimits(max_open_notional=Limit(hard=1e9)))
    assert not risk.check_parent(spec(10), NOW, [WorkingOrder("BARC.L", 100)]).accepted  # no BARC.L reference
    assert risk.check_parent(spec(10), NOW, [WorkingOrder("BARC.L", 100, 18.0)]).accepted


def test_no_limits_configured_needs_no_price():
    assert gate(references={}).check_parent(spec(10**12), NOW).accepted


def test_restricted_symbols_and_duplicates_have_their_own_reasons():
    assert gate(restricted=frozenset({"VOD.L"})).check_parent(spec(), NOW).refusal.reason is RejectReason.HALTED
    risk = gate(duplicate_window_seconds=5.0)
    assert risk.check_parent(spec(cl_ord_id="A"), NOW).accepted
    assert risk.check_parent(spec(cl_ord_id="B"), NOW + 5).refusal.reason is RejectReason.DUPLICATE_ORDER
    assert risk.check_parent(spec(cl_ord_id="C", side=Side.SELL), NOW + 5).accepted
    assert risk.check_parent(spec(cl_ord_id="D"), NOW + 5.01).accepted  # A is out of the window


@pytest.mark.parametrize("limits, at_limit, over", [
    (ChildLimits(max_quantity=Limit(hard=500)), (500, 25.0), (501, 25.0)),
    (ChildLimits(max_notional=Limit(hard=10_000)), (400, 25.0), (401, 25.0)),
])
def test_a_child_at_the_limit_leaves_and_one_over_does_not(limits, at_limit, over):
    risk = gate(by_venue={"V1": limits})
    assert risk.check_child("V1", *at_limit, unreserved=10_000, now=NOW).accepted
    assert not risk.check_child("V1", *over, unreserved=10_000, now=NOW).accepted
    assert risk.check_child("V2", *over, unreserved=10_000, now=NOW).accepted  # V2 has the (empty) default


def test_a_child_never_exceeds_the_parents_unreserved_quantity_and_venue_rates_count_sent_children():
    risk = gate(child=ChildLimits(max_orders_per_second=Limit(hard=2)))
    assert not risk.check_child("V1", 101, 25.0, unreserved=100, now=NOW).accepted
    assert risk.check_child("V1", 100, 25.0, unreserved=100, now=NOW).accepted
    assert risk.check_child("V1", 100, 25.0, unreserved=100, now=NOW + 0.1).accepted
    assert risk.check_child("V1", 100, 25.0, unreserved=100, now=NOW + 0.2).refusal.text.startswith(
        "child.max_orders_per_second 2")
    assert risk.check_child("V1", 100, 25.0, unreserved=100, now=NOW + 1.0).accepted  # the first slid out


@settings(max_examples=200, deadline=None)
@given(orders=st.lists(st.tuples(st.integers(1, 20_000), st.one_of(st.none(), st.floats(20.0, 30.0)),
                                 st.integers(0, 2)), min_size=1, max_size=40),
       hard_quantity=st.integers(1, 20_000), hard_notional=st.floats(1_000, 500_000), collar=st.floats(1, 2000))
def test_no_accepted_parent_breaks_a_hard_limit(orders, hard_quantity, hard_notional, collar):
    risk = gate(order=OrderLimits(max_quantity=Limit(hard=hard_quantity), max_notional=Limit(hard=hard_notional),
                                  collar_bps=Limit(hard=collar)))
    for index, (quantity, price, change) in enumerate(orders):
        if change == 2:  # a limit change mid-flow, as ops would make
            hard_quantity = max(1, hard_quantity // 2)
            risk.change_limits(replace(risk.limits, order=replace(risk.limits.order,
                                                                  max_quantity=Limit(hard=hard_quantity))))
        order = spec(quantity, price, cl_ord_id=str(index))
        if risk.check_parent(order, NOW).accepted:
            notional_price = price if price is not None else 25.0
            assert quantity <= hard_quantity and quantity * notional_price <= hard_notional
            assert price is None or abs(price - 25.0) / 25.0 * 10_000 <= collar


def test_the_live_feed_midpoint_is_the_collar_reference_until_the_feed_goes_stale():
    risk = gate(order=OrderLimits(collar_bps=Limit(hard=100)), reference_max_age_seconds=30)
    risk.on_fill(str(SESSION), "VOD.L", 10, 25.0, NOW - 1)
    risk.on_market_midpoint("VOD.L", 26.0, NOW - 5)  # older than the fill, but the primary's midpoint
    assert risk.reference_price("VOD.L", NOW) == ReferencePrice(26.0, NOW - 5)
    assert risk.check_parent(spec(10, 26.2), NOW).accepted and not risk.check_parent(spec(10, 25.0), NOW).accepted
    risk.on_market_stale("VOD.L")  # back to the last fill
    assert risk.reference_price("VOD.L", NOW) == ReferencePrice(25.0, NOW - 1)
    assert risk.check_parent(spec(10, 25.0), NOW).accepted
