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


TAILS_PARAMETRIC = 0  # closed-form zero bin + truncated Pareto (oracle, parametric policies)
TAILS_TABLE = 1       # tabulated tails on histogram breakpoints (Kaplan-Meier)


@njit(cache=True)
def table_levels_kernel(tau: float, tails: np.ndarray, breakpoints: np.ndarray, limit: np.ndarray,
                        caps: np.ndarray, out: np.ndarray) -> float:
    """Levels for step tails: P(s_i >= u) = tails[i, j] for u in [b_j, b_{j+1}), 0 past bin limit[i]."""
    total = 0.0
    bins = breakpoints.shape[0]
    for i in range(tails.shape[0]):
        if tails[i, 0] < tau:
            out[i] = 0.0
            continue
        low, high = 0, limit[i]  # last bin with tails >= tau, by bisection (tails non-increasing)
        while low < high:
            middle = (low + high + 1) // 2
            if tails[i, middle] >= tau:
                low = middle
            else:
                high = middle - 1
        level = breakpoints[low + 1] - 1.0 if low + 1 < bins else breakpoints[low]
        out[i] = min(level, caps[i])
        total += out[i]
    return total


@njit(cache=True)
def _fast_parametric_levels(tau: float, q: np.ndarray, m: np.ndarray, big_m: np.ndarray,
                            constants: np.ndarray, caps: np.ndarray, out: np.ndarray) -> float:
    """parametric_levels_kernel with (m/M)^a, 1/a and (1-c)/q precomputed: one log and one exp per venue."""
    total = 0.0
    for i in range(q.shape[0]):
        level = 0.0
        if tau <= q[i]:
            x = tau * constants[2, i] + constants[0, i]
            level = math.floor(m[i] * math.exp(-constants[1, i] * math.log(x)))
            level = min(max(level, m[i]), big_m[i] - 1.0)
        out[i] = min(level, caps[i])
        total += out[i]
    return total


@njit(cache=True)
def _levels(kind: int, tau: float, q: np.ndarray, m: np.ndarray, big_m: np.ndarray, constants: np.ndarray,
            tails: np.ndarray, breakpoints: np.ndarray, limit: np.ndarray, caps: np.ndarray,
            out: np.ndarray) -> float:
    if kind == TAILS_PARAMETRIC:
        return _fast_parametric_levels(tau, q, m, big_m, constants, caps, out)
    return table_levels_kernel(tau, tails, breakpoints, limit, caps, out)


_LOG_TAU_LOW = math.log(1e-30)
_LOG_TAU_HIGH = math.log(2.0)
_LOG_TAU_TOLERANCE = 1e-10  # tied marginal values within 1e-10 relative: any split of them is optimal


@njit(cache=True)
def threshold_allocate_kernel(quantity: float, kind: int, q: np.ndarray, a: np.ndarray,
                              m: np.ndarray, big_m: np.ndarray, tails: np.ndarray,
                              breakpoints: np.ndarray, limit: np.ndarray, caps: np.ndarray,
                              out: np.ndarray) -> None:
    """Greedy-optimal whole-share allocation of ``quantity`` for either form of tails.

    The level tau solves sum_i L_i(tau) = quantity. log L is nearly linear in log tau (power-law
    tails), so regula falsi on log(total) against log tau (Illinois variant, with bisection whenever
    the bracket fails to halve) needs ~10 evaluations where bisection needed 64.
    """
    venues = caps.shape[0]
    constants = np.empty((3, venues))
    if kind == TAILS_PARAMETRIC:
        for i in range(venues):
            c = (m[i] / big_m[i]) ** a[i]
            constants[0, i], constants[1, i], constants[2, i] = c, 1.0 / a[i], (1.0 - c) / q[i]
    low_levels = np.empty(venues)
    if _levels(kind, math.exp(_LOG_TAU_LOW), q, m, big_m, constants, tails, breakpoints, limit, caps,
               low_levels) <= quantity:
        out[:] = low_levels  # every venue to its cap: the rest of the order has no value anywhere
        return
    target = math.log(quantity) if quantity > 0.0 else -np.inf
    x_low, x_high = _LOG_TAU_LOW, _LOG_TAU_HIGH  # total(x_low) > quantity >= total(x_high)
    f_low = math.log(low_levels.sum()) - target
    f_high = -np.inf
    side = 0
    width_before = x_high - x_low
    for step in range(200):
        width = x_high - x_low
        if width < _LOG_TAU_TOLERANCE:
            break
        if np.isfinite(f_high) and width > 0.25 * width_before:
            x = x_low + width * f_low / (f_low - f_high)  # false position
            x = min(max(x, x_low + 1e-3 * width), x_high - 1e-3 * width)
        else:
            x = 0.5 * (x_low + x_high)
            width_before = width
        total = _levels(kind, math.exp(x), q, m, big_m, constants, tails, breakpoints, limit, caps, out)
        if total == quantity:
            return  # exact: these levels are the allocation
        f = math.log(total) - target if total > 0.0 else -np.inf
        if total > quantity:
            x_low, f_low = x, f
            if side == -1 and np.isfinite(f_high):
                f_high *= 0.5  # Illinois: the far end stuck twice, pull the next guess toward it
            side = -1
        else:
            x_high, f_high = x, f
            if side == 1:
                f_low *= 0.5
            side = 1
        if step % 3 == 2:
            width_before = width
    _levels(kind, math.exp(x_low), q, m, big_m, constants, tails, breakpoints, limit, caps, low_levels)
    remaining = quantity - _levels(kind, math.exp(x_high), q, m, big_m, constants, tails, breakpoints,
                                   limit, caps, out)
    for i in range(venues):  # tied units: worth the same in any venue
        extra = min(remaining, low_levels[i] - out[i])
        out[i] += extra
        remaining -= extra


_NO_TABLE = np.zeros((1, 1))
_NO_BREAKPOINTS = np.ones(1)
_NO_LIMIT = np.zeros(1, dtype=np.int64)


def oracle_allocation(quantity: int, params: LiquidityParams, caps: np.ndarray | None = None) -> np.ndarray:
    """Greedy-optimal allocation (float64 whole shares per venue) before venue rules."""
    if caps is None:
        caps = np.full(params.venue_count, np.inf)
    out = np.zeros(params.venue_count)
    threshold_allocate_kernel(float(quantity), TAILS_PARAMETRIC, *params.as_tuple(), _NO_TABLE,
                              _NO_BREAKPOINTS, _NO_LIMIT, np.asarray(caps, dtype=np.float64), out)
    return out


def table_allocation(quantity: int, tails: np.ndarray, breakpoints: np.ndarray, limit: np.ndarray,
                     caps: np.ndarray) -> np.ndarray:
    """Greedy allocation (float64 whole shares) on tabulated step tails."""
    out = np.zeros(tails.shape[0])
    empty = np.zeros(tails.shape[0])
    threshold_allocate_kernel(float(quantity), TAILS_TABLE, empty, empty, empty, empty, tails,
                              breakpoints, limit, np.asarray(caps, dtype=np.float64), out)
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
