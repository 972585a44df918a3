"""ExpGrad under the net-of-toxicity objective: the kernel against its twin, the prior, the policy."""

import numpy as np
import pytest

from engine.allocation.expgrad import (GRADIENT_ORDER, GRADIENT_POSITION, expgrad_update_kernel,
                                       expgrad_update_reference, prior_rows_kernel)
from engine.allocation.expgrad_policy import ExpGradPolicy
from engine.allocation.grid import bucket_edges
from engine.allocation.netvalue import net_weights
from engine.allocation.oracle import oracle_allocation
from engine.allocation.profiles import LiquidityParams
from engine.allocation.rules import VenueRules
from tests.allocation.markets import small_market
from tests.allocation.test_expgrad import _outcome, _state
from tests.allocation.test_policies import _rounds


def _net_state(seed: int):
    weights, played, prior, edges, scale, visits, events, steps = _state(seed)
    rng = np.random.default_rng(50 + seed)
    value = net_weights(np.where(rng.random(5) < 0.3, -1.0, rng.uniform(0.5, 10.0, 5)) + 0.0, 5)
    if not value.any():
        value[0] = 1.0
    played = np.where(value > 0, played, 0.0)
    played /= played.sum(axis=1, keepdims=True)
    return (weights, played, prior, edges, scale, visits, events, steps), value


@pytest.mark.parametrize("with_prior", [True, False])
@pytest.mark.parametrize("gradient", [GRADIENT_POSITION, GRADIENT_ORDER])
@pytest.mark.parametrize("seed", range(6))
def test_net_update_kernel_agrees_with_its_numpy_twin(gradient, seed, with_prior):
    (weights, played, prior, edges, scale, visits, events, steps), value = _net_state(seed)
    quantity, sent, filled = _outcome(played, edges, seed)
    sent[value <= 0] = 0.0  # what the policy sends: nothing to venues worth nothing
    filled = np.minimum(filled, sent)
    strength = 50.0 if with_prior else 0.0
    fast = [x.copy() for x in (weights, played, scale, visits, events, steps)]
    slow = [x.copy() for x in (weights, played, scale, visits, events, steps)]
    for state, step in ((fast, expgrad_update_kernel), (slow, expgrad_update_reference)):
        step(state[0], state[1], prior, edges, state[2], state[3], state[4], state[5], quantity, sent, filled,
             0.05, 0.01, 1e-3, strength, gradient, value)
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(fast[0].sum(axis=1), 1.0)
    assert np.all(fast[1][:, value <= 0] == 0)  # played rows stay off the excluded venues
    assert np.any(fast[3] != visits)


def test_the_net_step_with_every_venue_worth_the_same_is_the_fill_only_step():
    state, _ = _net_state(2)
    weights, played, prior, edges, scale, visits, events, steps = state
    quantity, sent, filled = _outcome(weights, edges, 2)
    runs = []
    for value in (None, np.ones(5)):
        copies = [x.copy() for x in (weights, weights, scale, visits, events, steps)]
        copies[1] = copies[0] if value is None else copies[1]
        arguments = (copies[0], copies[1], prior, edges, copies[2], copies[3], copies[4], copies[5], quantity,
                     sent, filled, 0.05, 0.01, 1e-3, 0.0, GRADIENT_POSITION)
        expgrad_update_kernel(*arguments) if value is None else expgrad_update_kernel(*arguments, value)
        runs.append(copies)
    for a, b in zip(*runs):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_net_prior_rows_are_the_net_greedy_allocation_per_bucket():
    params = LiquidityParams.of(small_market())
    edges = bucket_edges(200_000, 24)
    values = np.array([10.0, 4.0, -2.0, 10.0])
    rows = np.empty((24, 4))
    prior_rows_kernel(edges, *params.as_tuple(), rows, values)
    np.testing.assert_allclose(rows.sum(axis=1), 1.0)
    assert np.all(rows[:, 2] == 0)  # worth nothing: no floor either
    widths = np.diff(edges)
    rebuilt = ((rows - np.where(values > 0, 0.01 / 3, 0.0)) / 0.99 * widths[:, None]).sum(axis=0)
    np.testing.assert_allclose(rebuilt, oracle_allocation(200_000, params, values=values), rtol=1e-6, atol=1e-3)


def _share(policy, venue: int, quantities) -> np.ndarray:
    rules, everywhere = VenueRules.unconstrained(4), np.ones(4, dtype=bool)
    return np.array([policy.desired_allocation(int(v), rules, everywhere)[venue] / v for v in quantities])


def test_net_values_shift_expgrads_weight_away_from_a_toxic_venue():
    """MID (venue 1) is worth 3 bps a share, the others 10: trained on the same draws, the net learner
    gives MID less weight than the fill-only one at every size where MID matters, and the allocation
    it plays is close to the net-value oracle's; worth nothing, MID gets no share at all."""
    market = small_market()
    rules = VenueRules.of(market)
    sizes, liquidity = _rounds(market, 6, 8_000)
    values = np.array([10.0, 3.0, 10.0, 10.0])
    fill_only = ExpGradPolicy(4, market.order_size_range()[1], buckets=32, seed=6)
    net = ExpGradPolicy(4, market.order_size_range()[1], buckets=32, seed=6)
    net.set_net_values(values)
    fill_only.run_rounds(sizes, liquidity, rules)
    net.run_rounds(sizes, liquidity, rules)
    quantities = np.geomspace(300, 100_000, 12)
    before, after = _share(fill_only, 1, quantities), _share(net, 1, quantities)
    matters = before > 0.05
    assert matters.sum() >= 6 and np.all(after[matters] < 0.8 * before[matters])
    truth = LiquidityParams.of(market)
    oracle = np.array([oracle_allocation(int(v), truth, values=values)[1] / int(v) for v in quantities])
    assert np.all(np.abs(after - oracle)[matters] < 0.1)
    net.set_net_values(np.array([10.0, -1.0, 10.0, 10.0]))
    assert np.all(_share(net, 1, quantities) == 0)
    sent, _ = net.run_rounds(sizes[:500], liquidity[:500], rules)
    assert np.all(sent[:, 1] == 0)


def test_net_values_can_be_withdrawn_without_a_prior_too():
    market = small_market()
    rules = VenueRules.of(market)
    sizes, liquidity = _rounds(market, 7, 1_000)
    policy = ExpGradPolicy(4, market.order_size_range()[1], buckets=16, prior_strength=0.0, seed=7)
    policy.set_net_values(np.array([10.0, 0.0, 10.0, 10.0]))
    assert policy.played is not policy.weights and np.all(policy.played[:, 1] == 0)
    policy.run_rounds(sizes, liquidity, rules)
    assert np.all(policy.played[:, 1] == 0)
    policy.set_net_values(None)  # back to fill-only: the learned rows are played as they are
    assert policy.played is policy.weights and not policy.net_active
