"""The oracle: greedy by marginal tail, in threshold form.

Total expected fill is separable and concave per venue, so the optimum gives the next share to the
venue with the largest P(s_i >= v_i + 1). Unit-by-unit that is O(V); here we find the level tau at
which sum_i L_i(tau) = V, with L_i(tau) = max{u : P(s_i >= u) >= tau} in closed form, by bisection
on log tau. Units exactly at the level (ties) are worth the same wherever they go.

Net of adverse selection (netvalue.py) a filled share at venue i is worth w_i = fill_value - m_i, so
the objective sum_i w_i E[min(v_i, s_i)] is still separable and concave per venue and the greedy
runs on w_i P(s_i >= u): every kernel takes per-venue weights ``value`` and venue i's level is
max{u : w_i P(s_i >= u) >= tau}; a venue with w_i <= 0 gets nothing. Weights are scaled to a
maximum of 1 first (the level's bracket assumes marginal values <= 1), so all-ones weights, the
fill-only objective, divide by exactly 1.0 and give today's allocations bit for bit.

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
                        inverse: np.ndarray, caps: np.ndarray, out: np.ndarray) -> float:
    """Levels for step tails: P(s_i >= u) = tails[i, j] for u in [b_j, b_{j+1}), 0 past bin limit[i];
    weighted: max{u : P(s_i >= u) >= tau x inverse[i]}, inverse = 1 / weight (<= 0: no share)."""
    total = 0.0
    bins = breakpoints.shape[0]
    for i in range(tails.shape[0]):
        t = tau * inverse[i]
        if inverse[i] <= 0.0 or tails[i, 0] < t:
            out[i] = 0.0
            continue
        low, high = 0, limit[i]  # last bin with tails >= t, by bisection (tails non-increasing)
        while low < high:
            middle = (low + high + 1) // 2
            if tails[i, middle] >= t:
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
    """parametric_levels_kernel with (m/M)^a, 1/a and (1-c)/q precomputed: one log and one exp per venue.
    Weighted (``q`` = w q, constants[2] = (1-c) / (q w)), it gives max{u : w P(s_i >= u) >= tau}."""
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
def _levels(kind: int, tau: float, m: np.ndarray, big_m: np.ndarray, constants: np.ndarray,
            tails: np.ndarray, breakpoints: np.ndarray, limit: np.ndarray, caps: np.ndarray,
            out: np.ndarray) -> float:
    """Both kinds' weighting sits in constants[3]: w x q (parametric) or 1 / w (table)."""
    if kind == TAILS_PARAMETRIC:
        return _fast_parametric_levels(tau, constants[3], m, big_m, constants, caps, out)
    return table_levels_kernel(tau, tails, breakpoints, limit, constants[3], caps, out)


_LOG_TAU_LOW = math.log(1e-30)
_LOG_TAU_HIGH = math.log(2.0)
_LOG_TAU_TOLERANCE = 1e-10  # tied marginal values within 1e-10 relative: any split of them is optimal


@njit(cache=True)
def threshold_allocate_kernel(quantity: float, kind: int, q: np.ndarray, a: np.ndarray,
                              m: np.ndarray, big_m: np.ndarray, tails: np.ndarray,
                              breakpoints: np.ndarray, limit: np.ndarray, value: np.ndarray,
                              caps: np.ndarray, out: np.ndarray) -> None:
    """Greedy-optimal whole-share allocation of ``quantity`` for either form of tails, on the
    weighted tails value[i] P(s_i >= u) (all ones: expected fill; see the module's docstring).

    The level tau solves sum_i L_i(tau) = quantity. log L is nearly linear in log tau (power-law
    tails), so regula falsi on log(total) against log tau (Illinois variant, with bisection whenever
    the bracket fails to halve) needs ~10 evaluations where bisection needed 64.
    """
    venues = caps.shape[0]
    top = 0.0
    for i in range(venues):
        top = max(top, value[i])
    if not top > 0.0:  # no venue is worth a share
        out[:] = 0.0
        return
    # weights scaled to a largest of 1 (marginal values <= 1: the bracket below holds) and folded into
    # the constants; a weight of exactly 1 (fill-only) leaves every constant as it was, bit for bit
    constants = np.empty((4, venues))
    for i in range(venues):
        w = value[i] / top
        if kind == TAILS_PARAMETRIC:
            c = (m[i] / big_m[i]) ** a[i]
            constants[0, i], constants[1, i] = c, 1.0 / a[i]
            constants[2, i] = (1.0 - c) / q[i] / w if w > 0.0 else 0.0
            constants[3, i] = q[i] * w if w > 0.0 else -1.0  # no level ever: tau > 0
        else:
            constants[3, i] = 1.0 / w if w > 0.0 else -1.0
    low_levels = np.empty(venues)
    if _levels(kind, math.exp(_LOG_TAU_LOW), m, big_m, constants, tails, breakpoints, limit, caps,
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
        total = _levels(kind, math.exp(x), m, big_m, constants, tails, breakpoints, limit, caps, out)
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
    _levels(kind, math.exp(x_low), m, big_m, constants, tails, breakpoints, limit, caps, low_levels)
    remaining = quantity - _levels(kind, math.exp(x_high), m, big_m, constants, tails, breakpoints,
                                   limit, caps, out)
    for i in range(venues):  # tied units: worth the same in any venue
        extra = min(remaining, low_levels[i] - out[i])
        out[i] += extra
        remaining -= extra


_NO_TABLE = np.zeros((1, 1))
_NO_BREAKPOINTS = np.ones(1)
_NO_LIMIT = np.zeros(1, dtype=np.int64)


def oracle_allocation(quantity: int, params: LiquidityParams, caps: np.ndarray | None = None,
                      values: np.ndarray | None = None) -> np.ndarray:
    """Greedy-optimal allocation (float64 whole shares per venue) before venue rules; with ``values``
    (per venue, the finite net value of a filled share, any scale: see netvalue.py) the net-value
    optimum, where a venue worth <= 0 gets nothing. None: the fill-only objective."""
    if caps is None:
        caps = np.full(params.venue_count, np.inf)
    out = np.zeros(params.venue_count)
    threshold_allocate_kernel(float(quantity), TAILS_PARAMETRIC, *params.as_tuple(), _NO_TABLE,
                              _NO_BREAKPOINTS, _NO_LIMIT, _weights(values, params.venue_count),
                              np.asarray(caps, dtype=np.float64), out)
    return out


def table_allocation(quantity: int, tails: np.ndarray, breakpoints: np.ndarray, limit: np.ndarray,
                     caps: np.ndarray, values: np.ndarray | None = None) -> np.ndarray:
    """Greedy allocation (float64 whole shares) on tabulated step tails (``values``: as above)."""
    out = np.zeros(tails.shape[0])
    empty = np.zeros(tails.shape[0])
    threshold_allocate_kernel(float(quantity), TAILS_TABLE, empty, empty, empty, empty, tails,
                              breakpoints, limit, _weights(values, tails.shape[0]),
                              np.asarray(caps, dtype=np.float64), out)
    return out


_ONES: dict[int, np.ndarray] = {}


def _weights(values: np.ndarray | None, venue_count: int) -> np.ndarray:
    """The kernels' per-venue weights (they scale them to a maximum of 1 themselves)."""
    if values is None:
        ones = _ONES.get(venue_count)
        if ones is None:
            ones = _ONES[venue_count] = np.ones(venue_count)
            ones.flags.writeable = False
        return ones
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (venue_count,):
        raise ValueError(f"net values have shape {values.shape}, expected ({venue_count},)")
    return values


def greedy_allocation_reference(quantity: int, tails: np.ndarray, values: np.ndarray | None = None) -> np.ndarray:
    """Unit-by-unit greedy on tabulated tails (tails[i, u] = P(s_i >= u), u = 0..): the definition.
    With ``values`` each unit goes to the largest values[i] * P(s_i >= v_i + 1) among the venues
    worth more than 0 (none: the rest of the order is not sent)."""
    venues = tails.shape[0]
    weight = np.ones(venues) if values is None else np.asarray(values, dtype=np.float64)
    children = np.zeros(venues, dtype=np.int64)
    for _ in range(int(quantity)):
        marginal = np.array([weight[i] * tails[i, children[i] + 1] if children[i] + 1 < tails.shape[1] else 0.0
                             for i in range(venues)])
        marginal[weight <= 0.0] = -np.inf
        if not np.isfinite(marginal.max()):
            break
        children[int(np.argmax(marginal))] += 1
    return children
