"""Censored outcomes per venue: sufficient statistics, Kaplan-Meier tails, censored maximum likelihood.

A child of u shares that filled r tells us s = r exactly when r < u (r = 0 means the zero bin) and
only s >= u when r = u. We keep, per venue, weighted histograms on :func:`histogram_breakpoints`
(exact whole shares up to 64, then 3% bins): zeros, exact sizes and censoring points. Weights let a
caller discount old outcomes (the adaptive policy); plain counts are weight 1.

* Kaplan-Meier (Ganchev et al.): hazard of bin j = exact_j / (exact at or above j + censored above j
  + half the censored inside a wide bin j), T(b_0 = 1) = 1 - zeros / total.
* Censored MLE of zero bin + truncated Pareto: q = positives / total in closed form; scale m = the
  smallest exact size, tracked exactly (the MLE of a Pareto scale); truncation M = twice the largest size seen (the
  MLE, the largest size, would never let the policy probe beyond it); tail exponent by golden-section
  search on the binned censored log-likelihood, with a standard error from its curvature.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from engine.allocation.grid import histogram_breakpoints
from engine.allocation.liquidity import tail_probability_kernel

TRUNCATION_OPTIMISM = 2.0
PRIOR_TAIL_EXPONENT = 1.0
_LOG_ALPHA_RANGE = (math.log(0.02), math.log(8.0))
_GOLDEN_STEPS = 24  # the bracket shrinks to 1e-5 of its width in log alpha
_WARM_HALF_WIDTH = 0.3
_WARM_STEPS = 12    # 0.6 wide -> 2e-3 in log alpha


@njit(cache=True)
def bin_index(breakpoints: np.ndarray, size: float) -> int:
    return max(np.searchsorted(breakpoints, size, side="right") - 1, 0)


@njit(cache=True)
def record_outcomes_kernel(sent: np.ndarray, filled: np.ndarray, weight: float,
                           breakpoints: np.ndarray, totals: np.ndarray, zeros: np.ndarray,
                           exact: np.ndarray, censored: np.ndarray, smallest: np.ndarray) -> None:
    for i in range(sent.shape[0]):
        if sent[i] <= 0.0:
            continue
        totals[i] += weight
        if filled[i] <= 0.0:
            zeros[i] += weight
        elif filled[i] < sent[i]:
            exact[i, bin_index(breakpoints, filled[i])] += weight
            smallest[i] = min(smallest[i], filled[i])
        else:
            censored[i, bin_index(breakpoints, sent[i])] += weight


@njit(cache=True)
def record_discounted_kernel(sent: np.ndarray, filled: np.ndarray, weight: float, growth: float,
                             breakpoints: np.ndarray, totals: np.ndarray, zeros: np.ndarray,
                             exact: np.ndarray, censored: np.ndarray, smallest: np.ndarray) -> float:
    """Record one round at ``weight`` and return the next round's weight (discounting by growing the
    weight of new outcomes; everything is rescaled before it overflows)."""
    record_outcomes_kernel(sent, filled, weight, breakpoints, totals, zeros, exact, censored, smallest)
    if growth == 1.0:
        return weight
    weight *= growth
    if weight > 1e100:
        factor = 1.0 / weight
        totals *= factor
        zeros *= factor
        exact *= factor
        censored *= factor
        weight = 1.0
    return weight


@njit(cache=True)
def kaplan_meier_kernel(totals: np.ndarray, zeros: np.ndarray, exact: np.ndarray,
                        censored: np.ndarray, breakpoints: np.ndarray, min_at_risk: float,
                        tails: np.ndarray, cutoff: np.ndarray) -> None:
    """tails[i, j] = estimated P(s_i >= b_j); cutoff[i] = last bin with >= min_at_risk at risk."""
    venues, bins = exact.shape
    for i in range(venues):
        if totals[i] <= 0.0:
            tails[i, :] = 1.0  # never tried: optimistic, so the first sweep learns something
            cutoff[i] = 0
            continue
        survival = 1.0 - zeros[i] / totals[i]
        exact_at_or_above = 0.0
        censored_above = 0.0
        last = -1
        for j in range(bins):  # totals over every bin, peeled off as j rises; and the last bin in use
            exact_at_or_above += exact[i, j]
            censored_above += censored[i, j]
            if exact[i, j] > 0.0 or censored[i, j] > 0.0:
                last = j
        cutoff[i] = 0
        for j in range(last + 1):
            tails[i, j] = survival
            censored_above -= censored[i, j]
            wide = j + 1 < bins and breakpoints[j + 1] - breakpoints[j] > 1.0
            at_risk = exact_at_or_above + censored_above + (0.5 * censored[i, j] if wide else 0.0)
            if at_risk >= min_at_risk:
                cutoff[i] = j
            if at_risk > 0.0:
                survival *= 1.0 - exact[i, j] / at_risk
            exact_at_or_above -= exact[i, j]
        if min_at_risk <= 0.0 and last + 1 < bins:
            cutoff[i] = bins - 1  # nothing is at risk past the data, and nothing is needed
        tails[i, last + 1:] = survival  # past the data nothing more is learned


@njit(cache=True)
def optimistic_tails_kernel(tails: np.ndarray, cutoff: np.ndarray, breakpoints: np.ndarray,
                            untried: np.ndarray, limit: np.ndarray) -> None:
    """The km policy's optimism (in place): an untried venue is always liquid; past a venue's cutoff
    its tail keeps the cutoff's value up to twice the cutoff size (limit = that bin)."""
    bins = breakpoints.shape[0]
    for i in range(tails.shape[0]):
        if untried[i]:
            tails[i, :] = 1.0
        reach = np.searchsorted(breakpoints, 2.0 * breakpoints[min(cutoff[i] + 1, bins - 1)])
        limit[i] = min(reach, bins - 1)
        for j in range(cutoff[i] + 1, limit[i] + 1):
            tails[i, j] = tails[i, cutoff[i]]


def kaplan_meier_reference(totals, zeros, exact, censored, breakpoints, min_at_risk):
    """Vectorised twin of :func:`kaplan_meier_kernel`."""
    wide = np.append(np.diff(breakpoints) > 1.0, False)
    exact_at_or_above = np.cumsum(exact[:, ::-1], axis=1)[:, ::-1]
    censored_above = np.cumsum(censored[:, ::-1], axis=1)[:, ::-1] - censored
    at_risk = exact_at_or_above + censored_above + 0.5 * censored * wide
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard = np.where(at_risk > 0, exact / np.where(at_risk > 0, at_risk, 1.0), 0.0)
    start = np.where(totals > 0, 1.0 - zeros / np.where(totals > 0, totals, 1.0), 1.0)
    survival = start[:, None] * np.concatenate(
        (np.ones((len(totals), 1)), np.cumprod(1.0 - hazard, axis=1)[:, :-1]), axis=1)
    survival[totals <= 0] = 1.0
    enough = at_risk >= min_at_risk
    cutoff = np.where(enough.any(axis=1), exact.shape[1] - 1 - np.argmax(enough[:, ::-1], axis=1), 0)
    cutoff[totals <= 0] = 0
    return survival, cutoff


@njit(cache=True)
def _tail_log_likelihood(a: float, log_m: float, log_big_m: float, exact_row: np.ndarray,
                         censored_row: np.ndarray, breakpoints: np.ndarray, log_breakpoints: np.ndarray,
                         first: int, last: int, survival: np.ndarray) -> float:
    """Censored log-likelihood of the positive outcomes (bins first..last) under a Pareto tail with
    exponent ``a``, scale m and truncation M (given as logs). Survival at every breakpoint is computed
    once (exp(-a log(b/m)), one exp per bin) and shared by neighbouring bins."""
    c = math.exp(-a * (log_big_m - log_m))
    norm = 1.0 / (1.0 - c)
    bins = log_breakpoints.shape[0]
    for j in range(first, last + 2):
        log_b = log_breakpoints[j] if j < bins else log_breakpoints[bins - 1] + math.log(1.03)
        if log_b <= log_m:
            survival[j] = 1.0
        elif log_b >= log_big_m:
            survival[j] = 0.0
        else:
            survival[j] = (math.exp(-a * (log_b - log_m)) - c) * norm
    total = 0.0
    for j in range(first, last + 1):
        if exact_row[j] > 0.0:
            total += exact_row[j] * math.log(max(survival[j] - survival[j + 1], 1e-300))
        if censored_row[j] > 0.0:
            low = log_breakpoints[j]
            high = log_breakpoints[j + 1] if j + 1 < bins else low + math.log(1.03)
            if j + 1 < bins and breakpoints[j + 1] - breakpoints[j] <= 1.0:
                point = survival[j]  # a whole-share bin: censored exactly at its breakpoint
            else:  # a wide bin: censoring points spread inside it, take its geometric middle
                log_point = 0.5 * (low + high)
                point = 0.0 if log_point >= log_big_m else (
                    1.0 if log_point <= log_m else (math.exp(-a * (log_point - log_m)) - c) * norm)
            total += censored_row[j] * math.log(max(point, 1e-300))
    return total


@njit(cache=True)
def _golden_section(low, high, steps, log_m, log_big_m, exact_row, censored_row, breakpoints, log_breakpoints,
                    first, last, survival):
    """The bracket [low, high] of log alpha narrowed around the likelihood's maximum."""
    ratio = 0.5 * (math.sqrt(5.0) - 1.0)
    x1 = high - ratio * (high - low)
    x2 = low + ratio * (high - low)
    f1 = _tail_log_likelihood(math.exp(x1), log_m, log_big_m, exact_row, censored_row, breakpoints, log_breakpoints, first, last, survival)
    f2 = _tail_log_likelihood(math.exp(x2), log_m, log_big_m, exact_row, censored_row, breakpoints, log_breakpoints, first, last, survival)
    for _ in range(steps):
        if f1 < f2:
            low, x1, f1 = x1, x2, f2
            x2 = low + ratio * (high - low)
            f2 = _tail_log_likelihood(math.exp(x2), log_m, log_big_m, exact_row, censored_row, breakpoints, log_breakpoints, first, last, survival)
        else:
            high, x2, f2 = x2, x1, f1
            x1 = high - ratio * (high - low)
            f1 = _tail_log_likelihood(math.exp(x1), log_m, log_big_m, exact_row, censored_row, breakpoints, log_breakpoints, first, last, survival)
    return low, high


@njit(cache=True)
def fit_venue_kernel(total: float, zero: float, exact_row: np.ndarray, censored_row: np.ndarray,
                     smallest_exact: float, breakpoints: np.ndarray, out: np.ndarray,
                     log_breakpoints: np.ndarray, standard_error: bool, guess: float) -> None:
    """out = (fill_probability, tail_exponent, min_size, max_size, tail_exponent_se, exact_count).

    Golden-section search on log alpha (24 steps: alpha to 5e-5 relative, far inside its standard
    error); with a ``guess`` > 0 (the previous fit) 12 steps in +-0.3 around it, and the full search
    only if the optimum sits at that bracket's edge. The standard error (from the curvature) only
    when asked: policies do not use it.
    """
    bins = exact_row.shape[0]
    first_exact, last_seen, exact_count = -1, -1, 0.0
    for j in range(bins):
        if exact_row[j] > 0.0:
            exact_count += exact_row[j]
            if first_exact < 0:
                first_exact = j
        if exact_row[j] > 0.0 or censored_row[j] > 0.0:
            last_seen = j
    q = (total - zero) / total if total > 0.0 else 1.0
    out[0] = min(max(q, 1e-9), 1.0)
    out[5] = exact_count
    if last_seen < 0:  # nothing positive seen yet
        out[1], out[2], out[3], out[4] = PRIOR_TAIL_EXPONENT, 1.0, 2.0 * TRUNCATION_OPTIMISM, np.inf
        return
    top = breakpoints[last_seen + 1] if last_seen + 1 < bins else breakpoints[last_seen] * 1.03
    if first_exact < 0:  # only censored: liquidity is at least what we sent, shape unknown
        m = breakpoints[last_seen]
        out[1], out[2], out[3], out[4] = PRIOR_TAIL_EXPONENT, m, TRUNCATION_OPTIMISM * top + 1.0, np.inf
        return
    m = min(smallest_exact, breakpoints[first_exact + 1] - 1.0) if first_exact + 1 < bins else breakpoints[first_exact]
    big_m = max(TRUNCATION_OPTIMISM * top, m + 2.0)
    log_m, log_big_m = math.log(m), math.log(big_m)
    survival = np.empty(bins + 1)
    bottom, top = _LOG_ALPHA_RANGE
    if guess > 0.0:  # warm start: the last fit's exponent, rarely far from today's
        low, high = max(math.log(guess) - _WARM_HALF_WIDTH, bottom), min(math.log(guess) + _WARM_HALF_WIDTH, top)
        narrow = _golden_section(low, high, _WARM_STEPS, log_m, log_big_m, exact_row, censored_row, breakpoints,
                                 log_breakpoints, first_exact, last_seen, survival)
        middle = 0.5 * (narrow[0] + narrow[1])
        at_edge = (middle - low < 0.01 and low > bottom) or (high - middle < 0.01 and high < top)
    if guess <= 0.0 or at_edge:  # cold, or the optimum left the warm bracket: search the whole range
        narrow = _golden_section(bottom, top, _GOLDEN_STEPS, log_m, log_big_m, exact_row, censored_row,
                                 breakpoints, log_breakpoints, first_exact, last_seen, survival)
    low, high = narrow
    a = math.exp(0.5 * (low + high))
    out[1], out[2], out[3] = a, m, big_m
    out[4] = np.nan
    if standard_error:
        h = 1e-3 * a
        curvature = (_tail_log_likelihood(a + h, log_m, log_big_m, exact_row, censored_row, breakpoints, log_breakpoints, first_exact, last_seen, survival)
                     - 2.0 * _tail_log_likelihood(a, log_m, log_big_m, exact_row, censored_row, breakpoints, log_breakpoints, first_exact, last_seen, survival)
                     + _tail_log_likelihood(a - h, log_m, log_big_m, exact_row, censored_row, breakpoints, log_breakpoints, first_exact, last_seen, survival)) / (h * h)
        out[4] = 1.0 / math.sqrt(-curvature) if curvature < 0.0 else np.inf


class CensoredHistograms:
    """Per-venue sufficient statistics of censored child outcomes, optionally discounted.

    With ``half_life`` (in recorded rounds) older outcomes weigh less; the discount is applied
    lazily by growing the weight of new outcomes and rescaling now and then.
    """

    STATE = ("totals", "zeros", "exact", "censored", "smallest_exact", "_weight", "tail_guess")  # a snapshot's

    @classmethod
    def state_fields(cls, prefix: str) -> tuple[str, ...]:
        return tuple(f"{prefix}.{name}" for name in cls.STATE)

    def __init__(self, venue_count: int, half_life: float | None = None,
                 breakpoints: np.ndarray | None = None, warm_start: bool = False) -> None:
        self.breakpoints = histogram_breakpoints() if breakpoints is None else breakpoints
        bins = len(self.breakpoints)
        self.totals = np.zeros(venue_count)
        self.zeros = np.zeros(venue_count)
        self.exact = np.zeros((venue_count, bins))
        self.censored = np.zeros((venue_count, bins))
        self.smallest_exact = np.full(venue_count, np.inf)  # the scale's MLE needs the exact minimum
        self.warm_start = warm_start  # policies refitting often: start each fit from the last exponent
        self.tail_guess = np.zeros(venue_count)
        self._growth = 1.0 if half_life is None else 2.0 ** (1.0 / half_life)
        self._weight = 1.0
        self._log_breakpoints = None

    def record(self, sent: np.ndarray, filled: np.ndarray) -> None:
        self._weight = record_discounted_kernel(
            np.asarray(sent, dtype=np.float64), np.asarray(filled, dtype=np.float64), self._weight,
            self._growth, self.breakpoints, self.totals, self.zeros, self.exact, self.censored,
            self.smallest_exact)

    def effective_counts(self) -> np.ndarray:
        """Observations per venue in units of a fresh outcome."""
        return self.totals / self._weight

    def copy_venue_from(self, other: "CensoredHistograms", venue: int) -> None:
        """Replace one venue's history by another's (both in units of a fresh outcome)."""
        scale = self._weight / other._weight
        self.totals[venue] = other.totals[venue] * scale
        self.zeros[venue] = other.zeros[venue] * scale
        self.exact[venue] = other.exact[venue] * scale
        self.censored[venue] = other.censored[venue] * scale
        self.smallest_exact[venue] = other.smallest_exact[venue]
        self.tail_guess[venue] = other.tail_guess[venue]

    def fit(self, standard_error: bool = True, venues=None) -> np.ndarray:
        """Rows of (fill_probability, tail_exponent, min_size, max_size, tail_exponent_se, exact_count),
        for every venue or the given ones (the others' rows are NaN); the standard error is NaN
        unless asked for."""
        out = np.full((len(self.totals), 6), np.nan)
        if self._log_breakpoints is None:
            self._log_breakpoints = np.log(self.breakpoints)
        for i in (range(len(self.totals)) if venues is None else venues):
            fit_venue_kernel(self.totals[i], self.zeros[i], self.exact[i], self.censored[i],
                             self.smallest_exact[i], self.breakpoints, out[i], self._log_breakpoints,
                             standard_error, self.tail_guess[i] if self.warm_start else 0.0)
            if out[i, 5] > 0.0:  # fitted from exact sizes (not the prior): the next fit starts here
                self.tail_guess[i] = out[i, 1]
        out[:, 5] /= self._weight
        return out

    def kaplan_meier(self, min_at_risk: float) -> tuple[np.ndarray, np.ndarray]:
        tails = np.empty_like(self.exact)
        cutoff = np.empty(len(self.totals), dtype=np.int64)
        kaplan_meier_kernel(self.totals, self.zeros, self.exact, self.censored, self.breakpoints,
                            min_at_risk * self._weight, tails, cutoff)
        return tails, cutoff



@njit(cache=True)
def outcome_log_likelihood_kernel(sent: np.ndarray, filled: np.ndarray, q: np.ndarray,
                                  a: np.ndarray, m: np.ndarray, big_m: np.ndarray,
                                  out: np.ndarray) -> None:
    """Log-probability of each venue's censored outcome under a fitted model (0 where nothing sent)."""
    for i in range(sent.shape[0]):
        if sent[i] <= 0.0:
            out[i] = 0.0
            continue
        if filled[i] <= 0.0:
            probability = 1.0 - tail_probability_kernel(1.0, q[i], a[i], m[i], big_m[i])
        elif filled[i] < sent[i]:
            probability = (tail_probability_kernel(filled[i], q[i], a[i], m[i], big_m[i])
                           - tail_probability_kernel(filled[i] + 1.0, q[i], a[i], m[i], big_m[i]))
        else:
            probability = tail_probability_kernel(sent[i], q[i], a[i], m[i], big_m[i])
        out[i] = math.log(max(probability, 1e-12))
