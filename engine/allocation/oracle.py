"""The oracle: greedy by marginal tail, in threshold form.

Total expected fill is separable and concave per venue, so the optimum gives the next share to the
venue with the largest P(s_i >= v_i + 1). Unit-by-unit that is O(V); here we find the level tau at
which sum_i L_i(tau) = V, with L_i(tau) = max{u : P(s_i >= u) >= tau} in closed form, by bisection
on log tau. Units exactly at the level (ties) are worth the same wherever they go.

Venue rules (lot, minimum order) make the problem non-concave; :mod:`engine.allocation.rules` repairs
the greedy answer afterwards, for the oracle as for every policy.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from engine.allocation.profiles import LiquidityParams

_BISECTION_STEPS = 90  # log tau over [1e-30, 2]: 90 halvings reach 1e-25 relative width


@njit(cache=True)
def parametric_levels_kernel(tau: float, q: np.ndarray, a: np.ndarray, m: np.ndarray,
                             big_m: np.ndarray, caps: np.ndarray, out: np.ndarray) -> float:
    """out[i] = min(caps[i], max{u : P(s_i >= u) >= tau}); returns the sum."""
    total = 0.0
    for i in range(q.shape[0]):
        level = 0.0
        if tau <= q[i]:
            c = (m[i] / big_m[i]) ** a[i]
            x = tau * (1.0 - c) / q[i] + c
            level = math.floor(m[i] * x ** (-1.0 / a[i]))
            level = min(max(level, m[i]), big_m[i] - 1.0)
        out[i] = min(level, caps[i])
        total += out[i]
    return total


@njit(cache=True)
def oracle_allocate_kernel(quantity: float, q: np.ndarray, a: np.ndarray, m: np.ndarray,
                           big_m: np.ndarray, caps: np.ndarray, out: np.ndarray) -> None:
    """Optimal whole-share allocation of ``quantity`` (no lots or minimums) into ``out``."""
    venues = q.shape[0]
    low_levels = np.empty(venues)
    if parametric_levels_kernel(1e-30, q, a, m, big_m, caps, low_levels) <= quantity:
        out[:] = low_levels  # every venue to its cap: the rest of the order has no value anywhere
        return
    log_low, log_high = math.log(1e-30), math.log(2.0)
    for _ in range(_BISECTION_STEPS):
        middle = 0.5 * (log_low + log_high)
        if parametric_levels_kernel(math.exp(middle), q, a, m, big_m, caps, out) >= quantity:
            log_low = middle
        else:
            log_high = middle
    parametric_levels_kernel(math.exp(log_low), q, a, m, big_m, caps, low_levels)
    remaining = quantity - parametric_levels_kernel(math.exp(log_high), q, a, m, big_m, caps, out)
    for i in range(venues):  # tied units: worth the same in any venue
        extra = min(remaining, low_levels[i] - out[i])
        out[i] += extra
        remaining -= extra


def oracle_allocation(quantity: int, params: LiquidityParams, caps: np.ndarray | None = None) -> np.ndarray:
    """Greedy-optimal allocation (float64 whole shares per venue) before venue rules."""
    if caps is None:
        caps = np.full(params.venue_count, np.inf)
    out = np.zeros(params.venue_count)
    oracle_allocate_kernel(float(quantity), *params.as_tuple(), np.asarray(caps, dtype=np.float64), out)
    return out


def greedy_allocation_reference(quantity: int, tails: np.ndarray) -> np.ndarray:
    """Unit-by-unit greedy on tabulated tails (tails[i, u] = P(s_i >= u), u = 0..): the definition."""
    venues = tails.shape[0]
    children = np.zeros(venues, dtype=np.int64)
    for _ in range(int(quantity)):
        marginal = np.array([tails[i, children[i] + 1] if children[i] + 1 < tails.shape[1] else 0.0
                             for i in range(venues)])
        children[int(np.argmax(marginal))] += 1
    return children
