"""The net-of-toxicity objective: the net-value oracle, the markout estimator, every policy's mask."""

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from engine.allocation.netvalue import (MarkoutEstimator, NetValue, expected_net_value,
                                        net_weights, record_markouts_kernel, record_markouts_reference)
from engine.allocation.oracle import greedy_allocation_reference, oracle_allocation, table_allocation
from engine.allocation.profiles import LiquidityParams
from engine.allocation.registry import POLICY_NAMES, make_policy
from engine.allocation.rules import VenueRules
from tests.allocation.markets import small_market
from tests.allocation.test_oracle import _params, _tables, venues
from tests.allocation.test_policies import _rounds

# net values in bps: some venues worth nothing or less (they must get nothing)
net_values = st.lists(st.one_of(st.floats(-20.0, 30.0), st.just(0.0)), min_size=5, max_size=5)


@given(venues, net_values, st.integers(0, 30))
@settings(max_examples=80, deadline=None)
def test_net_oracle_equals_brute_force_and_gives_nothing_where_the_net_value_is_not_positive(rows, values, quantity):
    params = _params(rows[:3])
    values = np.array(values[:params.venue_count])
    best = 0.0  # sending nothing is allowed: sum v_i <= V
    for split in np.ndindex(*([quantity + 1] * params.venue_count)):
        if sum(split) <= quantity:
            best = max(best, expected_net_value(np.array(split), params, values))
    fast = oracle_allocation(quantity, params, values=values)
    assert fast.sum() <= quantity
    assert np.all(fast[values <= 0] == 0)
    assert expected_net_value(fast, params, values) == pytest.approx(best, rel=1e-9, abs=1e-9)


@given(venues, net_values, st.integers(0, 150))
@settings(max_examples=80, deadline=None)
def test_net_threshold_kernel_matches_its_unit_by_unit_twin(rows, values, quantity):
    params = _params(rows)
    values = np.array(values[:params.venue_count])
    fast = oracle_allocation(quantity, params, values=values)
    slow = greedy_allocation_reference(quantity, _tables(params, quantity + 100), values)
    assert np.all(slow[values <= 0] == 0)
    assert expected_net_value(fast, params, values) == pytest.approx(expected_net_value(slow, params, values),
                                                                     rel=1e-9, abs=1e-9)


def test_table_allocation_takes_the_same_net_values():
    params = _params([(0.3, 1.2, 5, 500), (0.1, 0.5, 20, 800), (0.2, 0.9, 10, 600)])
    breakpoints = np.arange(1, 1001, dtype=float)
    tails = _tables(params, 999)[:, 1:]
    limit = np.full(3, len(breakpoints) - 1)
    values = np.array([4.0, 10.0, -1.0])
    for quantity in (1, 10, 57, 300, 900):
        table = table_allocation(quantity, tails, breakpoints, limit, np.full(3, np.inf), values)
        assert table[2] == 0
        assert expected_net_value(table, params, values) == pytest.approx(
            expected_net_value(oracle_allocation(quantity, params, values=values), params, values), rel=1e-9)


@pytest.mark.parametrize("quantity", [0, 1, 17, 900, 40_000, 1_000_000, 3_000_000])
def test_an_infinite_fill_value_is_the_fill_only_oracle_bit_for_bit(quantity):
    params = LiquidityParams.of(small_market())
    old = oracle_allocation(quantity, params)
    infinite = NetValue(4, fill_value_bps=math.inf).values()
    assert infinite is None
    np.testing.assert_array_equal(oracle_allocation(quantity, params, values=infinite), old)
    np.testing.assert_array_equal(oracle_allocation(quantity, params, values=np.full(4, 7.5)), old)  # all alike
    np.testing.assert_array_equal(oracle_allocation(quantity, params, values=net_weights(np.full(4, np.inf), 4)), old)


def test_the_net_oracle_moves_shares_off_a_venue_whose_value_shrinks():
    params = LiquidityParams.of(small_market())
    shares = [oracle_allocation(200_000, params, values=np.array([10.0, 10.0 - m, 10.0, 10.0]))[1]
              for m in (0.0, 3.0, 6.0, 9.0, 10.0, 15.0)]
    assert all(a >= b for a, b in zip(shares, shares[1:])) and shares[0] > shares[3] > 0
    assert shares[-2] == shares[-1] == 0  # worth 0 or less: nothing


def test_net_weights_scale_to_the_largest_and_refuse_nonsense():
    np.testing.assert_array_equal(net_weights(None, 3), np.ones(3))
    np.testing.assert_allclose(net_weights(np.array([5.0, 10.0, -2.0]), 3), [0.5, 1.0, 0.0])
    np.testing.assert_array_equal(net_weights(np.array([-1.0, 0.0]), 2), [0.0, 0.0])
    for bad in (np.array([np.nan, 1.0]), np.array([np.inf, 1.0]), np.array([1.0])):
        with pytest.raises(ValueError):
            net_weights(bad, 2)


@pytest.mark.parametrize("by_shares", [False, True])
def test_the_markout_record_kernel_agrees_with_its_numpy_twin(by_shares):
    rng = np.random.default_rng(5)
    filled = np.where(rng.random((40, 6)) < 0.4, rng.integers(1, 5_000, (40, 6)), 0).astype(float)
    markouts = rng.normal(3.0, 8.0, (40, 6))
    markouts[filled == 0] = np.nan  # not looked at where nothing filled
    fast = [np.zeros(6) for _ in range(3)]
    slow = [np.zeros(6) for _ in range(3)]
    assert not record_markouts_kernel(filled, markouts, by_shares, *fast)
    record_markouts_reference(filled, markouts, by_shares, *slow)
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_a_venue_without_history_is_at_zero_and_estimates_shrink_towards_it():
    estimator = MarkoutEstimator(2, prior_fills=10.0)
    np.testing.assert_array_equal(estimator.moves_bps(), [0.0, 0.0])
    estimator.record(np.array([[100.0, 0.0]] * 10), np.array([[8.0, 99.0]] * 10))
    np.testing.assert_allclose(estimator.moves_bps(), [4.0, 0.0])  # 10 fills against 10 pseudo-fills at 0
    shares = MarkoutEstimator(1, prior_fills=0.0, weighting="share")
    shares.record(np.array([[100.0], [300.0]]), np.array([[4.0], [8.0]]))
    assert shares.moves_bps()[0] == pytest.approx(7.0)  # (100 x 4 + 300 x 8) / 400
    with pytest.raises(ValueError):
        estimator.record(np.array([[1.0, 1.0]]), np.array([[np.nan, 0.0]]))


def test_known_moves_ignore_markouts():
    net = NetValue(2, fill_value_bps=10.0, known_moves_bps=np.array([10.0, 0.0]))
    net.record_markouts(np.array([5.0, 5.0]), np.array([50.0, 50.0]))
    np.testing.assert_array_equal(net.values(), [0.0, 10.0])


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_no_policy_sends_anything_to_a_venue_worth_nothing(name):
    market = small_market()
    rules = VenueRules.of(market)
    policy = make_policy(name, market, seed=2)
    policy.set_net_values(np.array([10.0, -3.0, 6.0, 10.0]))  # MID is toxic past its fill value
    sizes, liquidity = _rounds(market, 2, 600)
    sent, _ = policy.run_rounds(sizes, liquidity, rules)
    assert np.all(sent[:, 1] == 0) and sent[:, [0, 2, 3]].sum() > 0
    for quantity in (50, 5_000, 150_000):
        allocation = policy.allocate(quantity, rules)
        assert allocation.children[1] == 0 and allocation.desired[1] == 0
        assert allocation.children.sum() <= quantity


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_fill_only_net_values_leave_every_policy_as_it_was(name):
    market = small_market()
    rules = VenueRules.of(market)
    sizes, liquidity = _rounds(market, 3, 800)
    plain, told = make_policy(name, market, seed=3), make_policy(name, market, seed=3)
    told.set_net_values(None)
    told.set_net_values(np.full(4, 12.0))  # every venue worth the same: the fill-only objective
    for a, b in zip(plain.run_rounds(sizes, liquidity, rules), told.run_rounds(sizes, liquidity, rules)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", POLICY_NAMES)
def test_when_no_venue_is_worth_a_share_nothing_is_sent(name):
    market = small_market()
    policy = make_policy(name, market, seed=1)
    policy.set_net_values(np.array([-1.0, 0.0, -5.0, -0.5]))
    sizes, liquidity = _rounds(market, 1, 50)
    sent, _ = policy.run_rounds(sizes, liquidity, VenueRules.of(market))
    assert not sent.any() and not policy.allocate(10_000, VenueRules.of(market)).children.any()


def test_the_estimator_snapshot_restores_its_estimates_and_refuses_another_shape():
    estimator = MarkoutEstimator(3)
    estimator.record(np.array([[10.0, 0.0, 5.0]]), np.array([[4.0, 0.0, -2.0]]))
    copy = MarkoutEstimator(3)
    copy.restore(estimator.snapshot())
    np.testing.assert_array_equal(copy.moves_bps(), estimator.moves_bps())
    with pytest.raises(ValueError):
        MarkoutEstimator(2).restore(estimator.snapshot())
    with pytest.raises(ValueError):
        MarkoutEstimator(2, weighting="median")
    with pytest.raises(ValueError):
        NetValue(2, fill_value_bps=float("nan"))
