import numpy as np
import pytest

from engine.allocation.censored import (CensoredHistograms, kaplan_meier_kernel, kaplan_meier_reference,
                                        outcome_log_likelihood_kernel)
from engine.allocation.liquidity import sample_liquidity, tail_probability_kernel
from engine.allocation.profiles import LiquidityParams
from tests.allocation.markets import small_market


def _observed(seed: int, rounds: int) -> tuple[CensoredHistograms, LiquidityParams]:
    params = LiquidityParams.of(small_market())
    rng = np.random.default_rng(seed)
    hidden = sample_liquidity(rng, params, rounds)
    sent = np.floor(np.exp(rng.uniform(np.log(20), np.log(400_000), hidden.shape)))
    history = CensoredHistograms(params.venue_count)
    for t in range(rounds):
        history.record(sent[t], np.minimum(sent[t], hidden[t]))
    return history, params


def test_kaplan_meier_kernel_agrees_with_its_numpy_twin():
    history, _ = _observed(1, 3_000)
    tails = np.empty_like(history.exact)
    cutoff = np.empty(4, dtype=np.int64)
    kaplan_meier_kernel(history.totals, history.zeros, history.exact, history.censored,
                        history.breakpoints, 20.0, tails, cutoff)
    ref_tails, ref_cutoff = kaplan_meier_reference(history.totals, history.zeros, history.exact,
                                                   history.censored, history.breakpoints, 20.0)
    np.testing.assert_allclose(tails, ref_tails, rtol=1e-10, atol=1e-15)
    np.testing.assert_array_equal(cutoff, ref_cutoff)


def test_kaplan_meier_recovers_the_tail_inside_the_well_observed_region():
    history, params = _observed(2, 20_000)
    tails, cutoff = history.kaplan_meier(200.0)
    for i in range(params.venue_count):
        for j in (0, 40, cutoff[i] // 2, cutoff[i]):
            truth = tail_probability_kernel(history.breakpoints[j], *[x[i] for x in params.as_tuple()])
            assert tails[i, j] == pytest.approx(truth, abs=0.02 + 0.15 * truth), (i, j)


def test_censored_mle_recovers_fill_probability_and_tail_exponent_within_their_errors():
    history, params = _observed(3, 20_000)
    fit = history.fit()
    for i in range(params.venue_count):
        q, a = params.fill_probability[i], params.tail_exponent[i]
        n = history.totals[i]
        assert abs(fit[i, 0] - q) <= 4 * np.sqrt(q * (1 - q) / n)
        # the binned likelihood adds a small bias of its own on top of sampling error
        assert abs(fit[i, 1] - a) <= 4 * fit[i, 4] + 0.03 * a, (i, fit[i])
        assert params.min_size[i] <= fit[i, 2] <= 1.01 * params.min_size[i]  # the smallest fill seen


def test_discounted_history_forgets_old_outcomes_at_the_half_life():
    history = CensoredHistograms(1, half_life=100)
    for _ in range(100):
        history.record(np.array([10.0]), np.array([0.0]))
    for _ in range(100):
        history.record(np.array([10.0]), np.array([10.0]))
    # zeros are one half-life older: they weigh half as much as the censored fills
    assert history.zeros[0] / history.totals[0] == pytest.approx(1 / 3, abs=0.01)


def test_an_outcome_impossible_under_a_model_scores_far_below_a_likely_one():
    q, a, m, big_m = (np.array([x]) for x in (0.3, 1.0, 100.0, 1000.0))
    likely, unlikely = np.empty(1), np.empty(1)
    outcome_log_likelihood_kernel(np.array([50.0]), np.array([0.0]), q, a, m, big_m, likely)
    outcome_log_likelihood_kernel(np.array([5000.0]), np.array([5000.0]), q, a, m, big_m, unlikely)
    assert likely[0] == pytest.approx(np.log(0.7))
    assert unlikely[0] < -20
