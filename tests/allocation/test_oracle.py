import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from engine.allocation.liquidity import expected_fill, tail_probability_reference
from engine.allocation.oracle import greedy_allocation_reference, oracle_allocation, table_allocation
from engine.allocation.profiles import LiquidityParams

venues = st.lists(st.tuples(st.floats(0.02, 1.0), st.floats(0.1, 2.0), st.integers(1, 20), st.integers(2, 60)),
                  min_size=1, max_size=5)


def _params(rows) -> LiquidityParams:
    q, a, m, extra = (np.array(col, dtype=float) for col in zip(*rows))
    return LiquidityParams(q, a, m, m + extra)


def _tables(params: LiquidityParams, largest: int) -> np.ndarray:
    units = np.arange(0, largest + 2)
    return np.array([tail_probability_reference(units, *[x[i] for x in params.as_tuple()])
                     for i in range(params.venue_count)])


@given(venues, st.integers(0, 150))
@settings(max_examples=120, deadline=None)
def test_oracle_is_as_good_as_unit_by_unit_greedy(rows, quantity):
    params = _params(rows)
    fast = oracle_allocation(quantity, params)
    slow = greedy_allocation_reference(quantity, _tables(params, quantity + 100))
    assert fast.sum() <= quantity
    assert expected_fill(fast, params) == pytest.approx(expected_fill(slow, params), rel=1e-9, abs=1e-9)


@given(venues, st.integers(1, 40))
@settings(max_examples=60, deadline=None)
def test_greedy_equals_brute_force_on_tiny_instances(rows, quantity):
    params = _params(rows[:3])
    best = 0.0
    k = params.venue_count
    for split in np.ndindex(*([quantity + 1] * k)):
        if sum(split) == quantity:
            best = max(best, expected_fill(np.array(split), params))
    assert expected_fill(oracle_allocation(quantity, params), params) == pytest.approx(best, rel=1e-9, abs=1e-12)


def test_oracle_allocations_are_nested_in_the_order_size():
    params = _params([(0.3, 1.2, 50, 5000), (0.05, 0.3, 500, 900000), (0.1, 0.7, 100, 60000)])
    previous = np.zeros(3)
    for v in np.geomspace(10, 500_000, 40).astype(int):
        current = oracle_allocation(int(v), params)
        assert np.all(current >= previous - 1)  # ties may move a single share
        previous = current


def test_oracle_respects_caps_and_unavailable_venues():
    params = _params([(0.3, 1.2, 50, 5000), (0.05, 0.3, 500, 900000)])
    out = oracle_allocation(10_000, params, caps=np.array([0.0, np.inf]))
    assert out[0] == 0 and out[1] == 10_000


def test_table_allocation_matches_the_oracle_on_exact_tables():
    params = _params([(0.3, 1.2, 5, 500), (0.1, 0.5, 20, 800)])
    breakpoints = np.arange(1, 1001, dtype=float)
    tails = _tables(params, 999)[:, 1:]
    limit = np.full(2, len(breakpoints) - 1)
    for quantity in (1, 10, 57, 300, 900):
        table = table_allocation(quantity, tails, breakpoints, limit, np.full(2, np.inf))
        assert expected_fill(table, params) == pytest.approx(
            expected_fill(oracle_allocation(quantity, params), params), rel=1e-9)
