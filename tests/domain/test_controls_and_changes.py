"""The pure kill switches (halts by scope, the reject storm) and limit changes: what a halt covers,
which halt a refusal names, how a change lands in the defaults or an override and when it is
refused; and, under random orders and limit changes, no accepted parent or child breaks a hard
limit in force at that moment."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings, strategies as st

from engine.domain.controls import GLOBAL, Halt, RejectStorm, Scope, Target, TradingControls
from engine.domain.limit_changes import LimitChange, LimitChangeError, apply_change, describe_limits, parse_value
from engine.domain.orders import RejectReason
from engine.domain.risk import ChildLimits, Limit, OrderLimits, RiskGate, RiskLimits
from tests.domain.test_risk_gate import NOW, REFERENCES, SESSION, spec


def halt(target: Target, reason: str = "r") -> Halt:
    return Halt(target, reason, "ops:test", NOW)


def test_each_scope_covers_its_parents_and_a_refusal_names_the_broadest_halt():
    controls = TradingControls()
    assert controls.refusal(spec()) is None
    controls.halt(halt(Target(Scope.SYMBOL, "VOD.L"), "news"))
    assert controls.refusal(spec(symbol="BARC.L")) is None
    refusal = controls.refusal(spec())
    assert refusal.reason is RejectReason.HALTED and refusal.text == "trading halted (symbol VOD.L): news"
    controls.halt(halt(GLOBAL, "all stop"))
    assert controls.refusal(spec()).text == "trading halted (global): all stop"
    assert controls.refusal(spec(symbol="BARC.L")) is not None
    controls.resume(GLOBAL)
    assert controls.refusal(spec(symbol="BARC.L")) is None and controls.refusal(spec()) is not None
    controls.halt(halt(Target(Scope.SESSION, str(SESSION))))
    assert controls.halt_of(str(SESSION), "BARC.L") is not None and controls.halt_of("other", "BARC.L") is None


def test_a_venue_halt_disables_only_that_venue_and_refuses_no_parent():
    controls = TradingControls()
    controls.halt(halt(Target(Scope.VENUE, "V1")))
    assert controls.disabled_venues == {"V1"} and controls.refusal(spec()) is None
    assert controls.resume(Target(Scope.VENUE, "V2")) is None and controls.disabled_venues == {"V1"}
    assert controls.resume(Target(Scope.VENUE, "V1")) is not None and controls.disabled_venues == frozenset()


def test_a_target_needs_a_key_except_the_global_one():
    with pytest.raises(ValueError):
        Target(Scope.VENUE)
    with pytest.raises(ValueError):
        Target(Scope.GLOBAL, "x")


def test_a_reject_storm_is_that_many_rejects_within_the_window_per_venue():
    storm = RejectStorm(3, 10.0)
    assert not storm.on_reject("A", 0.0) and not storm.on_reject("A", 5.0)
    assert not storm.on_reject("B", 6.0)
    assert not storm.on_reject("A", 10.5)  # the first fell out of the window
    assert storm.on_reject("A", 11.0)      # 5.0, 10.5, 11.0
    assert not storm.on_reject("A", 11.5)  # counting starts afresh after a storm


def test_a_change_to_a_default_or_an_override_keeps_the_other_levels():
    limits = RiskLimits(order=OrderLimits(max_quantity=Limit(hard=1000, soft=500), max_notional=Limit(hard=9e6)))
    changed = apply_change(limits, LimitChange("order.max_quantity", 800.0))
    assert changed.order.max_quantity == Limit(hard=800, soft=500) and limits.order.max_quantity.hard == 1000
    override = apply_change(limits, LimitChange("order.max_quantity", 600.0, "hard", "VOD.L"))
    assert override.for_symbol("VOD.L") == OrderLimits(max_quantity=Limit(hard=600, soft=500),
                                                       max_notional=Limit(hard=9e6))
    assert override.for_symbol("BARC.L") == limits.order
    removed = apply_change(limits, LimitChange("order.max_quantity", None, "soft"))
    assert removed.order.max_quantity == Limit(hard=1000)


@pytest.mark.parametrize("change, message", [
    (LimitChange("order.max_quantity", 600.0, "soft"), "soft level"),
    (LimitChange("order.max_qty", 1.0), "unknown limit 'order.max_qty'"),
    (LimitChange("orders.max_quantity", 1.0), "unknown limit"),
    (LimitChange("order.max_quantity", 1.0, "medium"), "hard or soft"),
    (LimitChange("reference_price", 25.0), "needs a symbol"),
    (LimitChange("reference_max_age_seconds", 60.0, "hard", "VOD.L"), "takes no symbol"),
    (LimitChange("reference_max_age_seconds", 0.0), "> 0"),
])
def test_a_change_that_makes_no_sense_is_refused_whole(change, message):
    limits = RiskLimits(order=OrderLimits(max_quantity=Limit(hard=500)))
    with pytest.raises(LimitChangeError, match=message):
        apply_change(limits, change)


def test_settings_and_reference_prices_change_and_show():
    limits = apply_change(RiskLimits(), LimitChange("reference_price", 26.5, "hard", "VOD.L", NOW))
    limits = apply_change(limits, LimitChange("duplicate_window_seconds", 0.0))
    limits = apply_change(limits, LimitChange("child.max_orders_per_second", 50.0, "hard", "V1"))
    shown = describe_limits(limits)
    assert shown["reference_prices"] == {"VOD.L": {"price": 26.5, "as_of": NOW}}
    assert shown["duplicate_window_seconds"] is None
    assert shown["venues"] == {"V1": {"max_orders_per_second": {"hard": 50.0}}}
    assert RiskGate(limits).reference_price("VOD.L", NOW + 1).price == 26.5


def test_values_as_an_operator_types_them():
    assert parse_value("2,500,000") == 2_500_000 and parse_value("none") is None and parse_value("1e3") == 1000
    for bad in ("-1", "lots", "nan", "inf"):
        with pytest.raises(LimitChangeError):
            parse_value(bad)


CHANGES = st.sampled_from(["order.max_quantity", "order.max_notional", "child.max_quantity", "child.max_notional"])


@settings(max_examples=150, deadline=None)
@given(steps=st.lists(st.one_of(
    st.tuples(st.just("parent"), st.integers(1, 20_000), st.one_of(st.none(), st.floats(20.0, 30.0))),
    st.tuples(st.just("child"), st.integers(1, 20_000), st.one_of(st.none(), st.floats(20.0, 30.0))),
    st.tuples(st.just("change"), CHANGES, st.one_of(st.none(), st.floats(1.0, 600_000.0)))), min_size=1, max_size=50))
def test_under_random_orders_and_limit_changes_nothing_accepted_breaks_a_hard_limit(steps):
    risk = RiskGate(RiskLimits(references=REFERENCES, order=OrderLimits(max_quantity=Limit(hard=10_000)),
                               child=ChildLimits(max_quantity=Limit(hard=5_000))))
    for index, step in enumerate(steps):
        kind, first, second = step
        if kind == "change":
            risk.change_limits(apply_change(risk.limits, LimitChange(first, second, "hard")))
            continue
        quantity, price = first, second
        shares_price = price if price is not None else 25.0
        if kind == "parent":
            if risk.check_parent(spec(quantity, price, cl_ord_id=str(index)), NOW).accepted:
                order = risk.limits.order
                assert order.max_quantity.hard is None or quantity <= order.max_quantity.hard
                assert order.max_notional.hard is None or quantity * shares_price <= order.max_notional.hard * (1 + 1e-9)
        elif risk.check_child("V1", quantity, shares_price, 20_000, NOW + index).accepted:
            child = risk.limits.for_venue("V1")
            assert child.max_quantity.hard is None or quantity <= child.max_quantity.hard
            assert child.max_notional.hard is None or quantity * shares_price <= child.max_notional.hard * (1 + 1e-9)


def test_limit_changes_do_not_touch_the_limits_a_gate_already_holds():
    original = RiskLimits(order=OrderLimits(max_quantity=Limit(hard=10)))
    gate = RiskGate(original)
    changed = apply_change(gate.limits, LimitChange("order.max_quantity", 20.0))
    assert gate.limits.order.max_quantity.hard == 10 and replace(changed).order.max_quantity.hard == 20
