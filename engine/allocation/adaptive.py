"""The adaptive policy: the parametric policy's accuracy when venues are stable, ExpGrad's speed
when they change.

The literature has no policy best in both worlds: censored MLE wins when liquidity is stationary
(it pools every outcome into two parameters per venue) and ExpGrad wins when a venue changes (MLE
averages over all of history). We keep, per venue, two censored histories: a long one (everything
since the venue's last change) and a short, exponentially discounted one (half-life in rounds). Each
outcome is scored under both fitted models *before* it is recorded, an honest predictive test; a
CUSUM of the log-likelihood ratio (short over long) accumulates evidence that the venue changed.
Stationary, the short model predicts worse (it knows less) and the statistic stays near zero; after a
change it predicts better and the statistic crosses the threshold within a few dozen outcomes,
whereupon the venue's long history is replaced by its short one. Allocation is the oracle's greedy
on the long models.
"""

from __future__ import annotations

import numpy as np

from numba import njit

from engine.allocation.censored import CensoredHistograms, outcome_log_likelihood_kernel, record_discounted_kernel
from engine.allocation.oracle import oracle_allocation
from engine.allocation.policies import AllocationPolicy, _caps, _params_from_fit, params_array
from engine.allocation.profiles import LiquidityParams


class AdaptivePolicy(AllocationPolicy):
    name = "adaptive"
    state_fields = (CensoredHistograms.state_fields("long") + CensoredHistograms.state_fields("short")
                    + ("evidence", "changes_detected", "_since_long_fit", "_rounds", "long_fit_array",
                       "short_fit_array"))

    def __init__(self, venue_count: int, half_life: float = 1500.0, threshold: float = 20.0,
                 warm_up: float = 500.0, refit_fraction: float = 0.05, short_refit_every: int = 250) -> None:
        super().__init__(venue_count)
        self.long = CensoredHistograms(venue_count, warm_start=True)
        self.short = CensoredHistograms(venue_count, half_life=half_life, warm_start=True)
        self.threshold = threshold
        self.warm_up = warm_up
        self.refit_fraction = refit_fraction
        self.short_refit_every = short_refit_every
        self.evidence = np.zeros(venue_count)
        self.changes_detected = np.zeros(venue_count, dtype=np.int64)
        self._since_long_fit = 0
        self._rounds = 0
        self.long_fit = _params_from_fit(self.long.fit())
        self.short_fit = _params_from_fit(self.short.fit())
        self._changed = np.zeros(venue_count, dtype=np.bool_)

    def desired_allocation(self, quantity, rules, available):
        return oracle_allocation(quantity, self.long_fit, _caps(rules, available), self._net_or_none())

    def _learn(self, quantity, sent, filled):
        long, short = self.long, self.short
        long._weight, short._weight, changes = adaptive_step_kernel(
            sent, filled, *self.long_fit.as_tuple(), *self.short_fit.as_tuple(), self.evidence, self.warm_up,
            self.threshold, self._changed, long._weight, long.totals, long.zeros, long.exact, long.censored,
            long.smallest_exact, short._weight, short._growth, short.totals, short.zeros, short.exact,
            short.censored, short.smallest_exact, long.breakpoints)
        self._rounds += 1
        self._since_long_fit += 1
        if changes:  # the changed venues restart from their short history: refit them at once
            changed = np.flatnonzero(self._changed)
            self.changes_detected[changed] += 1
            self.long_fit = _merge_fit(self.long_fit, long.fit(standard_error=False, venues=changed), changed)
        if self._since_long_fit >= max(1.0, self.refit_fraction * self._rounds):
            self.long_fit = _params_from_fit(long.fit(standard_error=False))
            self._since_long_fit = 0
        if self._rounds % self.short_refit_every == 0:
            self.short_fit = _params_from_fit(short.fit(standard_error=False))

    @property
    def long_fit_array(self) -> np.ndarray:
        return params_array(self.long_fit)

    @long_fit_array.setter
    def long_fit_array(self, value: np.ndarray) -> None:
        self.long_fit = LiquidityParams(*(np.array(row) for row in value))

    @property
    def short_fit_array(self) -> np.ndarray:
        return params_array(self.short_fit)

    @short_fit_array.setter
    def short_fit_array(self, value: np.ndarray) -> None:
        self.short_fit = LiquidityParams(*(np.array(row) for row in value))


def _merge_fit(params: LiquidityParams, fit: np.ndarray, venues: np.ndarray) -> LiquidityParams:
    columns = [column.copy() for column in params.as_tuple()]
    for k, column in enumerate(columns):
        column[venues] = fit[venues, k]
    return LiquidityParams(*columns)


@njit(cache=True)
def adaptive_step_kernel(sent, filled, long_q, long_a, long_m, long_big_m, short_q, short_a, short_m,
                         short_big_m, evidence, warm_up, threshold, changed, long_weight, long_totals,
                         long_zeros, long_exact, long_censored, long_smallest, short_weight, short_growth,
                         short_totals, short_zeros, short_exact, short_censored, short_smallest,
                         breakpoints):
    """One outcome: score it under both models (before recording it: an honest predictive test),
    update each venue's CUSUM, record it in both histories, and restart the long history of every
    venue whose evidence crossed the threshold from its short one. Returns the two histories' new
    weights and how many venues changed (flagged in ``changed``)."""
    venues = sent.shape[0]
    long_score = np.empty(venues)
    short_score = np.empty(venues)
    outcome_log_likelihood_kernel(sent, filled, long_q, long_a, long_m, long_big_m, long_score)
    outcome_log_likelihood_kernel(sent, filled, short_q, short_a, short_m, short_big_m, short_score)
    for i in range(venues):
        # until the short model has seen enough of a venue, both models are still learning the same
        # venue and their disagreement says nothing about change
        settled = short_totals[i] / short_weight >= warm_up
        evidence[i] = max(0.0, evidence[i] + short_score[i] - long_score[i]) if settled else 0.0
    long_weight = record_discounted_kernel(sent, filled, long_weight, 1.0, breakpoints, long_totals, long_zeros,
                                           long_exact, long_censored, long_smallest)
    short_weight = record_discounted_kernel(sent, filled, short_weight, short_growth, breakpoints, short_totals,
                                            short_zeros, short_exact, short_censored, short_smallest)
    changes = 0
    for i in range(venues):
        changed[i] = evidence[i] > threshold
        if not changed[i]:
            continue
        changes += 1
        evidence[i] = 0.0
        scale = long_weight / short_weight  # both in units of the next outcome's weight
        long_totals[i] = short_totals[i] * scale
        long_zeros[i] = short_zeros[i] * scale
        long_exact[i] = short_exact[i] * scale
        long_censored[i] = short_censored[i] * scale
        long_smallest[i] = short_smallest[i]
    return long_weight, short_weight, changes
