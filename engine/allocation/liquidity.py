"""Zero bin + truncated Pareto liquidity: tail function, expected fill, seeded sampling.

For integer u: P(s >= u) = q for 1 <= u <= m; q * ((m/u)^a - c) / (1 - c) with c = (m/M)^a for
m < u <= M; 0 above (and at) M. The expected fill of a child of v shares is
E[min(v, s)] = sum_{u=1..v} P(s >= u). Children reach millions of shares, so the sum is exact up to
a few thousand terms and Euler-Maclaurin beyond (error far below 1e-9 shares).

Each kernel (``*_kernel``, numba) has a vectorised NumPy twin (``*_reference``) that tests compare it
with and the benchmark times it against.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from engine.allocation.profiles import LiquidityParams

# Terms summed one by one before Euler-Maclaurin takes over; beyond it the correction terms are
# below 1e-15 relative, so the expected fill is exact for any practical purpose.
_EXACT_TERMS = 2048


@njit(cache=True)
def tail_probability_kernel(u: float, q: float, a: float, m: float, big_m: float) -> float:
    """P(s >= u) for one venue."""
    if u <= 0.0:
        return 1.0
    if u <= m:
        return q
    if u >= big_m:
        return 0.0
    c = (m / big_m) ** a
    return q * ((m / u) ** a - c) / (1.0 - c)


def tail_probability_reference(u: np.ndarray, q: float, a: float, m: float, big_m: float) -> np.ndarray:
    u = np.asarray(u, dtype=np.float64)
    c = (m / big_m) ** a
    with np.errstate(divide="ignore"):
        body = q * ((m / np.maximum(u, 1.0)) ** a - c) / (1.0 - c)
    return np.where(u <= 0, 1.0, np.where(u <= m, q, np.where(u >= big_m, 0.0, body)))


@njit(cache=True)
def _power_sum(first: float, last: float, a: float) -> float:
    """sum_{u=first..last} u^-a for integers 1 <= first <= last."""
    if last < first:
        return 0.0
    total = 0.0
    stop = min(last, first + _EXACT_TERMS - 1)
    u = first
    while u <= stop:
        total += u ** -a
        u += 1.0
    if stop == last:
        return total
    lo, hi = stop + 1.0, last
    if abs(1.0 - a) < 1e-12:
        integral = math.log(hi / lo)
    else:
        integral = (hi ** (1.0 - a) - lo ** (1.0 - a)) / (1.0 - a)
    ends = 0.5 * (lo ** -a + hi ** -a)
    first_derivative = -a * (hi ** (-a - 1.0) - lo ** (-a - 1.0)) / 12.0
    third_derivative = a * (a + 1.0) * (a + 2.0) * (hi ** (-a - 3.0) - lo ** (-a - 3.0)) / 720.0
    return total + integral + ends + first_derivative + third_derivative


@njit(cache=True)
def expected_fill_kernel(v: float, q: float, a: float, m: float, big_m: float) -> float:
    """E[min(v, s)] for a child of v shares.

    Liquidity is whole shares, so for a fractional v the expectation interpolates linearly between
    floor(v) and floor(v) + 1 (min(v, s) = floor(v) + frac(v) whenever s > floor(v)). This is also the
    expected fill of a randomised rounding of v with the right mean, which is how the study scores
    the expected allocation of policies that round at random.
    """
    if v <= 0.0:
        return 0.0
    whole = math.floor(v)
    fraction = v - whole
    total = _whole_expected_fill(whole, q, a, m, big_m)
    if fraction > 0.0:
        total += fraction * tail_probability_kernel(whole + 1.0, q, a, m, big_m)
    return total


@njit(cache=True)
def _whole_expected_fill(v: float, q: float, a: float, m: float, big_m: float) -> float:
    if v <= 0.0:
        return 0.0
    flat = q * min(v, m)
    if v <= m:
        return flat
    last = min(v, big_m - 1.0)
    if last <= m:
        return flat
    c = (m / big_m) ** a
    count = last - m
    powers = _power_sum(m + 1.0, last, a)
    return flat + q / (1.0 - c) * (m ** a * powers - c * count)


def expected_fill_reference(v: float, q: float, a: float, m: float, big_m: float) -> float:
    """The defining sum, term by term (exact; only for tests and small children)."""
    units = np.arange(1, int(v) + 1, dtype=np.float64)
    whole = float(tail_probability_reference(units, q, a, m, big_m).sum())
    return whole + (v - int(v)) * float(tail_probability_reference(np.array([int(v) + 1.0]), q, a, m, big_m)[0])


@njit(cache=True)
def allocation_expected_fill_kernel(children: np.ndarray, q: np.ndarray, a: np.ndarray,
                                    m: np.ndarray, big_m: np.ndarray) -> float:
    total = 0.0
    for i in range(children.shape[0]):
        total += expected_fill_kernel(children[i], q[i], a[i], m[i], big_m[i])
    return total


def expected_fill(children: np.ndarray, params: LiquidityParams) -> float:
    """Expected total fill of an allocation (shares per venue, in market order)."""
    return allocation_expected_fill_kernel(np.asarray(children, dtype=np.float64), *params.as_tuple())


@njit(cache=True)
def sample_liquidity_kernel(uniform_zero: np.ndarray, uniform_size: np.ndarray, q: np.ndarray,
                            a: np.ndarray, m: np.ndarray, big_m: np.ndarray, out: np.ndarray) -> None:
    """Hidden liquidity per (round, venue) from two arrays of U(0,1) draws of the same shape."""
    rounds, venues = out.shape
    for i in range(venues):
        c = (m[i] / big_m[i]) ** a[i]
        for t in range(rounds):
            if uniform_zero[t, i] >= q[i]:
                out[t, i] = 0.0
            else:
                survival = c + (1.0 - uniform_size[t, i]) * (1.0 - c)  # in (c, 1]
                out[t, i] = math.floor(m[i] * survival ** (-1.0 / a[i]))


def sample_liquidity_reference(uniform_zero: np.ndarray, uniform_size: np.ndarray,
                               params: LiquidityParams) -> np.ndarray:
    q, a, m, big_m = params.as_tuple()
    c = (m / big_m) ** a
    survival = c + (1.0 - uniform_size) * (1.0 - c)
    sizes = np.floor(m * survival ** (-1.0 / a))
    return np.where(uniform_zero < q, sizes, 0.0)


def sample_liquidity(rng: np.random.Generator, params: LiquidityParams, rounds: int) -> np.ndarray:
    """Seeded draws of hidden liquidity, shape (rounds, venues), whole shares as float64."""
    shape = (rounds, params.venue_count)
    uniform_zero = rng.random(shape)
    uniform_size = rng.random(shape)
    out = np.empty(shape, dtype=np.float64)
    sample_liquidity_kernel(uniform_zero, uniform_size, *params.as_tuple(), out)
    return out
