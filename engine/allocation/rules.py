"""Venue rules: turn a desired (real-valued) allocation into child orders a venue accepts.

Invariants, whatever the input: every child is 0 or in [effective minimum, maximum order size], a
multiple of the venue's lot, 0 for an unavailable venue, and the children sum to at most the order.
The effective minimum is the venue's minimum order size rounded up to a whole lot.

Rounding: each child is first floored to whole lots (and to 0 below its minimum); the shares this
frees are then handed out one step at a time (a lot, or the minimum to open a venue not yet used,
which must want at least half of it) to the venue furthest below its desire. With lot 1 and minimum
1 this is largest-remainder rounding. Shares still left (a venue's minimum or maximum stood in the
way) go to the venues already in use, most wanted first, so the order is worked in full wherever the
rules allow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from engine.allocation.profiles import MarketProfile, VenueProfile


@dataclass(frozen=True)
class VenueRules:
    lot_size: np.ndarray        # float64 shares
    min_order_size: np.ndarray  # float64 shares, already a whole number of lots
    max_order_size: np.ndarray  # float64 shares (inf where none), a whole number of lots

    @classmethod
    def of(cls, venues: tuple[VenueProfile, ...] | MarketProfile) -> "VenueRules":
        if isinstance(venues, MarketProfile):
            venues = venues.venues
        lot = np.array([v.lot_size for v in venues], dtype=np.float64)
        minimum = np.ceil(np.array([v.min_order_size for v in venues], dtype=np.float64) / lot) * lot
        maximum = np.array([np.inf if v.max_order_size is None else v.max_order_size for v in venues],
                           dtype=np.float64)
        maximum = np.where(np.isinf(maximum), maximum, np.floor(maximum / lot) * lot)
        return cls(lot, minimum, maximum)

    @classmethod
    def unconstrained(cls, venue_count: int) -> "VenueRules":
        ones = np.ones(venue_count)
        return cls(ones, ones.copy(), np.full(venue_count, np.inf))

    @property
    def venue_count(self) -> int:
        return len(self.lot_size)


@njit(cache=True)
def _target(desired: np.ndarray, maximum: np.ndarray, available: np.ndarray, i: int) -> float:
    want = desired[i] if available[i] and desired[i] > 0.0 else 0.0
    return min(want, maximum[i])


@njit(cache=True)
def enforce_rules_kernel(desired: np.ndarray, quantity: float, lot: np.ndarray, minimum: np.ndarray,
                         maximum: np.ndarray, available: np.ndarray, out: np.ndarray) -> None:
    venues = desired.shape[0]
    budget = math.floor(quantity) if quantity > 0 else 0.0
    for i in range(venues):
        child = math.floor(_target(desired, maximum, available, i) / lot[i]) * lot[i]
        out[i] = child if child >= minimum[i] else 0.0
        budget -= out[i]
    if budget < 0.0:  # desired summed above the order: shed lots from the largest children
        for _ in range(venues * 4):
            if budget >= 0.0:
                break
            largest = np.argmax(out)
            step = lot[largest] if out[largest] - lot[largest] >= minimum[largest] else out[largest]
            out[largest] -= step
            budget += step
    while budget > 0.0:  # largest remainder first; opening a venue needs half its minimum wanted
        best, best_gap, best_step = -1, 0.0, 0.0
        for i in range(venues):
            opening = out[i] <= 0.0
            step = minimum[i] if opening else lot[i]
            gap = _target(desired, maximum, available, i) - out[i]
            wanted = gap >= 0.5 * step if opening else gap > 0.0
            if step <= budget and out[i] + step <= maximum[i] and wanted and gap > best_gap:
                best, best_gap, best_step = i, gap, step
        if best < 0:
            break
        out[best] += best_step
        budget -= best_step
    if budget <= 0.0:
        return
    # what venues could not take (minimums, maximums, unavailable) goes to the venues in use, most
    # wanted first: the order is worked in full wherever the rules allow (sorting only when needed)
    target = np.empty(venues)
    for i in range(venues):
        target[i] = _target(desired, maximum, available, i)
    order = np.argsort(-target)
    for k in range(venues):
        i = order[k]
        if budget < lot[i] or out[i] <= 0.0:
            continue
        extra = min(math.floor(budget / lot[i]) * lot[i], maximum[i] - out[i])
        if extra > 0.0:
            out[i] += extra
            budget -= extra


def enforce_rules(desired: np.ndarray, quantity: int, rules: VenueRules,
                  available: np.ndarray | None = None) -> np.ndarray:
    """Child quantities (int64, market order) that respect every venue rule and the order size."""
    if available is None:
        available = np.ones(rules.venue_count, dtype=np.bool_)
    out = np.zeros(rules.venue_count)
    enforce_rules_kernel(np.asarray(desired, dtype=np.float64), float(quantity), rules.lot_size,
                         rules.min_order_size, rules.max_order_size,
                         np.asarray(available, dtype=np.bool_), out)
    return out.astype(np.int64)



@njit(cache=True)
def systematic_round_kernel(desired: np.ndarray, lot: np.ndarray, offset: float, out: np.ndarray) -> None:
    """Randomised rounding to whole lots with E[out_i] = desired_i (offset ~ U[0, 1)).

    Systematic sampling over the cumulative fractional lots (Agarwal et al., Algorithm 2 with our
    O(K) sampler): every venue rounds up with probability equal to its fraction, and the number of
    round-ups is the sum of the fractions rounded up or down, so the total stays within a lot.
    """
    cumulative = 0.0
    for i in range(desired.shape[0]):
        lots = max(desired[i], 0.0) / lot[i]
        whole = math.floor(lots)
        start = cumulative
        cumulative += lots - whole
        # number of points offset + k (k integer) in [start, cumulative)
        ups = math.ceil(cumulative - offset) - math.ceil(start - offset)
        out[i] = (whole + ups) * lot[i]


def systematic_round_reference(desired: np.ndarray, lot: np.ndarray, offset: float) -> np.ndarray:
    """Vectorised twin of :func:`systematic_round_kernel`."""
    lots = np.maximum(desired, 0.0) / lot
    whole = np.floor(lots)
    cumulative = np.cumsum(lots - whole)
    start = np.concatenate(([0.0], cumulative[:-1]))
    return (whole + np.ceil(cumulative - offset) - np.ceil(start - offset)) * lot
