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

from engine.allocation.censored import CensoredHistograms, outcome_log_likelihood_kernel
from engine.allocation.oracle import oracle_allocation
from engine.allocation.policies import AllocationPolicy, _caps, _params_from_fit, params_array
from engine.allocation.profiles import LiquidityParams


class AdaptivePolicy(AllocationPolicy):
    name = "adaptive"
    state_fields = (CensoredHistograms.state_fields("long") + CensoredHistograms.state_fields("short")
                    + ("evidence", "changes_detected", "_since_long_fit", "_rounds", "long_fit_array",
                       "short_fit_array"))

    def __init__(self, venue_count: int, half_life: float = 1500.0, threshold: float = 20.0,
                 warm_up: float = 500.0, refit_fraction: float = 0.05, short_refit_every: int = 100) -> None:
        super().__init__(venue_count)
        self.long = CensoredHistograms(venue_count)
        self.short = CensoredHistograms(venue_count, half_life=half_life)
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
        self._scores = np.zeros((2, venue_count))

    def desired_allocation(self, quantity, rules, available):
        return oracle_allocation(quantity, self.long_fit, _caps(rules, available))

    def _learn(self, quantity, sent, filled):
        long_score, short_score = self._scores
        outcome_log_likelihood_kernel(sent, filled, *self.long_fit.as_tuple(), long_score)
        outcome_log_likelihood_kernel(sent, filled, *self.short_fit.as_tuple(), short_score)
        # until the short model has seen enough of a venue, both models are still learning the same
        # venue and their disagreement says nothing about change
        settled = self.short.effective_counts() >= self.warm_up
        self.evidence = np.where(settled, np.maximum(0.0, self.evidence + short_score - long_score), 0.0)
        self.long.record(sent, filled)
        self.short.record(sent, filled)
        self._rounds += 1
        self._since_long_fit += 1
        changed = np.flatnonzero(self.evidence > self.threshold)
        for venue in changed:
            self.long.copy_venue_from(self.short, venue)
            self.evidence[venue] = 0.0
            self.changes_detected[venue] += 1
        if len(changed) or self._since_long_fit >= max(1.0, self.refit_fraction * self._rounds):
            self.long_fit = _params_from_fit(self.long.fit())
            self._since_long_fit = 0
        if self._rounds % self.short_refit_every == 0:
            self.short_fit = _params_from_fit(self.short.fit())

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
