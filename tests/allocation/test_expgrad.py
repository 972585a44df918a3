import numpy as np
import pytest

from engine.allocation.expgrad import (GRADIENT_ORDER, GRADIENT_POSITION, expgrad_desired_kernel,
                                       expgrad_desired_reference, expgrad_update_kernel,
                                       expgrad_update_reference, prior_rows_kernel)
from engine.allocation.expgrad_policy import ExpGradPolicy
from engine.allocation.grid import bucket_edges
from engine.allocation.oracle import oracle_allocation
from engine.allocation.profiles import LiquidityParams
from engine.allocation.rules import VenueRules
from tests.allocation.markets import small_market
from tests.allocation.test_policies import _rounds


def _state(seed: int, rows: int = 16, venues: int = 5):
    """weights, played, prior, edges, scale, visits, events, steps: a mid-run state."""
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.ones(venues), size=rows)
    prior = rng.dirichlet(np.ones(venues), size=rows)
    played = 0.7 * weights + 0.3 * prior
    steps = np.vstack([rng.uniform(0.01, 0.5, rows), np.zeros(rows)])
    steps[1] = np.exp(steps[0])
    return (weights, played, prior, bucket_edges(50_000, rows), rng.uniform(0.01, 0.9, rows),
            rng.integers(1, 50, rows).astype(float), rng.integers(0, 40, rows).astype(float), steps)


@pytest.mark.parametrize("quantity", [0.5, 1, 37, 4_000, 50_000, 80_000])
def test_desired_kernel_agrees_with_its_numpy_twin(quantity):
    weights, _, _, edges, *_ = _state(1)
    out = np.empty(weights.shape[1])
    expgrad_desired_kernel(weights, edges, float(quantity), out)
    np.testing.assert_allclose(out, expgrad_desired_reference(weights, edges, float(quantity)), rtol=1e-12)
    assert out.sum() == pytest.approx(quantity)


def _outcome(weights, edges, seed):
    rng = np.random.default_rng(100 + seed)
    quantity = float(rng.integers(10, 60_000))
    desired = np.empty(weights.shape[1])
    expgrad_desired_kernel(weights, edges, quantity, desired)
    sent = np.floor(desired)
    sent[rng.integers(0, len(sent))] = 0.0
    filled = np.minimum(sent, np.where(rng.random(len(sent)) < 0.5, rng.integers(0, 5_000, len(sent)), 10**9))
    return quantity, sent, filled


@pytest.mark.parametrize("with_prior", [True, False])
@pytest.mark.parametrize("gradient", [GRADIENT_POSITION, GRADIENT_ORDER])
@pytest.mark.parametrize("seed", range(6))
def test_update_kernel_agrees_with_its_numpy_twin(gradient, seed, with_prior):
    weights, played, prior, edges, scale, visits, events, steps = _state(seed)
    if not with_prior:
        played = weights
    quantity, sent, filled = _outcome(played, edges, seed)
    strength = 50.0 if with_prior else 0.0
    fast = [x.copy() for x in (weights, played, scale, visits, events, steps)]
    slow = [x.copy() for x in (weights, played, scale, visits, events, steps)]
    for state, step in ((fast, expgrad_update_kernel), (slow, expgrad_update_reference)):
        w, p = state[0], (state[1] if with_prior else state[0])
        step(w, p, prior, edges, state[2], state[3], state[4], state[5], quantity, sent, filled,
             0.05, 0.01, 1e-3, strength, gradient)
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(fast[0].sum(axis=1), 1.0)
    assert np.any(fast[3] != visits)  # the outcome reached some rows


def test_a_venue_that_keeps_filling_gains_weight_and_one_that_never_fills_loses_it():
    weights, _, prior, edges, scale, visits, events, steps = _state(0, venues=3)
    weights[:] = 1 / 3
    for _ in range(200):
        desired = np.empty(3)
        expgrad_desired_kernel(weights, edges, 1_000.0, desired)
        sent = np.maximum(np.floor(desired), 1.0)
        filled = np.array([sent[0], 0.0, min(sent[2], 5.0)])  # 0 always exhausted, 1 empty, 2 holds 5
        expgrad_update_kernel(weights, weights, prior, edges, scale, visits, events, steps, 1_000.0, sent,
                              filled, 0.05, 0.01, 1e-4, 0.0, GRADIENT_POSITION)
    touched = edges[1:] <= 1_000  # rows wholly inside the order
    assert np.all(weights[touched, 1] < 0.01)
    assert np.all(weights[touched, 0] >= weights[touched, 2] - 1e-9)
    beyond_five = touched & (edges[:-1] > 20)  # rows whose units lie past venue 2's five shares
    assert np.all(weights[beyond_five, 0] > 0.9)
    np.testing.assert_allclose(weights[edges[:-1] >= 1_000], 1 / 3)  # rows above the order are untouched


def test_prior_rows_are_the_greedy_allocation_per_bucket():
    params = LiquidityParams.of(small_market())
    edges = bucket_edges(200_000, 24)
    rows = np.empty((24, 4))
    prior_rows_kernel(edges, *params.as_tuple(), rows)
    np.testing.assert_allclose(rows.sum(axis=1), 1.0)
    widths = np.diff(edges)
    rebuilt = ((rows - 0.01 / 4) / 0.99 * widths[:, None]).sum(axis=0)  # the allocation of the largest order
    np.testing.assert_allclose(rebuilt, oracle_allocation(200_000, params), rtol=1e-6, atol=1e-3)


def test_the_prior_carries_rarely_informed_buckets_and_busy_buckets_follow_their_own_rows():
    market = small_market()
    policy = ExpGradPolicy(4, market.order_size_range()[1], buckets=32, prior_strength=1_000.0, seed=3)
    sizes, liquidity = _rounds(market, 3, 6_000)
    policy.run_rounds(sizes, liquidity, VenueRules.of(market))
    lam = 1_000.0 / (1_000.0 + policy.events)
    np.testing.assert_allclose(policy.played, (1 - lam[:, None]) * policy.weights + lam[:, None] * policy.prior,
                               atol=1e-12)
    assert lam[0] < 0.5 < lam[-1]  # the smallest bucket has seen thousands of informative outcomes
    assert policy.last_refit > 0
