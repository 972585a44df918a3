import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from engine.allocation.liquidity import (expected_fill, expected_fill_kernel, expected_fill_reference,
                                         sample_liquidity, sample_liquidity_kernel,
                                         sample_liquidity_reference, tail_probability_kernel,
                                         tail_probability_reference)
from engine.allocation.profiles import LiquidityParams
from tests.allocation.markets import small_market

venue = st.tuples(st.floats(0.01, 1.0), st.floats(0.1, 2.5), st.integers(1, 300), st.integers(2, 400))


def test_tail_follows_the_market_profile_contract():
    q, a, m, big_m = 0.2, 0.5, 100.0, 10_000.0
    c = (m / big_m) ** a
    assert tail_probability_kernel(0, q, a, m, big_m) == 1.0
    assert tail_probability_kernel(1, q, a, m, big_m) == q
    assert tail_probability_kernel(100, q, a, m, big_m) == q
    assert tail_probability_kernel(400, q, a, m, big_m) == pytest.approx(q * ((m / 400) ** a - c) / (1 - c))
    assert tail_probability_kernel(10_000, q, a, m, big_m) == 0.0
    assert tail_probability_kernel(20_000, q, a, m, big_m) == 0.0


@given(venue, st.integers(0, 3000))
@settings(max_examples=60, deadline=None)
def test_tail_kernel_agrees_with_its_numpy_twin(params, u):
    q, a, m, extra = params
    big_m = m + extra
    assert tail_probability_kernel(u, q, a, m, big_m) == pytest.approx(
        float(tail_probability_reference(np.array([u]), q, a, m, big_m)[0]), rel=1e-12, abs=1e-15)


@given(venue, st.integers(0, 6000))
@settings(max_examples=60, deadline=None)
def test_expected_fill_equals_the_defining_sum(params, v):
    q, a, m, extra = params
    big_m = float(m + extra * 20)
    assert expected_fill_kernel(v, q, a, m, big_m) == pytest.approx(
        expected_fill_reference(v, q, a, m, big_m), rel=1e-9, abs=1e-9)


@given(venue, st.floats(0, 3000))
@settings(max_examples=60, deadline=None)
def test_expected_fill_of_a_fractional_child_is_the_mean_of_its_unbiased_rounding(params, v):
    # liquidity is whole shares: E[min(v, s)] interpolates between the neighbouring whole children,
    # which is exactly what a rounding up with probability frac(v) fills on average
    q, a, m, extra = params
    big_m = float(m + extra * 20)
    low, fraction = np.floor(v), v - np.floor(v)
    mean = (1 - fraction) * expected_fill_kernel(low, q, a, m, big_m) + fraction * expected_fill_kernel(low + 1, q, a, m, big_m)
    # both sides sum up to a few thousand float terms: rounding alone reaches ~1e-12 relative
    # (q near 1 found it), so 1e-10 is tight for an identity and never hit by chance
    assert expected_fill_kernel(v, q, a, m, big_m) == pytest.approx(mean, rel=1e-10, abs=1e-12)
    assert expected_fill_kernel(v, q, a, m, big_m) == pytest.approx(
        expected_fill_reference(v, q, a, m, big_m), rel=1e-9, abs=1e-9)


def test_expected_fill_of_a_huge_child_is_exact_beyond_the_direct_sum():
    q, a, m, big_m = 0.05, 0.4, 300.0, 2_000_000.0
    for v in (10_000, 300_000, 1_999_999, 5_000_000):
        assert expected_fill_kernel(v, q, a, m, big_m) == pytest.approx(
            expected_fill_reference(v, q, a, m, big_m), rel=1e-10)


def test_sampling_kernel_and_numpy_twin_give_identical_draws():
    params = LiquidityParams.of(small_market())
    rng = np.random.default_rng(5)
    zero, size = rng.random((500, 4)), rng.random((500, 4))
    out = np.empty((500, 4))
    sample_liquidity_kernel(zero, size, *params.as_tuple(), out)
    np.testing.assert_array_equal(out, sample_liquidity_reference(zero, size, params))


def test_sampled_liquidity_matches_the_tail_within_sampling_error():
    market = small_market()
    params = LiquidityParams.of(market)
    n = 200_000
    draws = sample_liquidity(np.random.default_rng(11), params, n)
    for i, v in enumerate(market.venues):
        for u in (1, v.min_size, 3 * v.min_size, 30 * v.min_size):
            p = tail_probability_kernel(u, *[x[i] for x in params.as_tuple()])
            tolerance = 5 * np.sqrt(max(p * (1 - p), 1e-12) / n)
            assert abs((draws[:, i] >= u).mean() - p) <= tolerance, (v.name, u)
        assert draws[:, i].max() < v.max_size


def test_expected_fill_of_an_allocation_matches_the_simulated_mean_fill():
    params = LiquidityParams.of(small_market())
    children = np.array([300, 2_000, 10_000, 50_000])
    n = 100_000
    fills = np.minimum(children, sample_liquidity(np.random.default_rng(3), params, n)).sum(axis=1)
    assert abs(fills.mean() - expected_fill(children, params)) <= 5 * fills.std() / np.sqrt(n)
