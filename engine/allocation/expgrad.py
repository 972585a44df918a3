"""ExpGrad over order-size buckets (Agarwal, Bartlett & Dama 2010, Algorithm 1), with our gradient.

State: one weight row per bucket of order units, each a distribution over the K venues. An order of
V shares is split as v_i(V) = sum over buckets of (weight of venue i) x (units of the bucket below V):
the allocation for V is the allocation for a smaller size plus the rows in between (nested, like the
oracle's).

Feedback is censored: venue i filled r_i of the u_i shares sent. Two gradients are implemented:

* ``order`` (the paper's): every row below V gets g_i = 1 if venue i filled its whole child.
* ``position`` (ours, the default): row b gets g_i = 1{s_i > p_bi}, the marginal value at venue i
  of the row's middle unit, p_bi = v_i(below row b) + half the row's share at venue i. Because the
  allocation is nested, p_bi < u_i (but for rounding) and the censored observation decides it
  exactly: s_i = r_i if r_i < u_i, and s_i >= u_i > p_bi otherwise. (At the row's top unit instead,
  the order's last row would sit exactly at u_i, undecidable whenever the venue was exhausted: a
  bias against the venues that filled, measured in the study's largest sizes.) Each round is thus an exact sample of the gradient for
  every order size up to V, so small buckets learn the small-order optimum and large buckets the
  large-order one (E[g_i] = P(s_i > p_bi), the oracle's marginal tail). Undecidable entries (the
  rounding left u_i <= p_bi and the venue was exhausted, or nothing was sent) are neutral.

The step is normalised per row by the running mean gradient (eta / sqrt(mean (1 - mean))): in large
buckets every venue is rarely exhausted, so raw gradients are tiny and a fixed step would learn
nothing; normalised, each row moves at the same statistical speed. Rows of large sizes are also
visited by fewer orders: online convex optimisation over T rounds wants a step in 1/sqrt(T), so a row
visited by a fraction f of the orders gets eta / sqrt(f) (capped). A small uniform mixing keeps every
weight alive so the rows can re-adapt when a venue changes (fixed share).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from engine.allocation.rules import enforce_rules_kernel, systematic_round_kernel

GRADIENT_ORDER = 0
GRADIENT_POSITION = 1

_SCALE_FLOOR = 1e-4
_MAX_RARITY_BOOST = 4.0


@njit(cache=True)
def _units_in_row(edges: np.ndarray, row: int, rows: int, quantity: float) -> float:
    """How many of an order's ``quantity`` units fall in bucket ``row`` (the last one is open-ended)."""
    high = edges[row + 1] if row < rows - 1 else np.inf
    return max(min(quantity, high) - edges[row], 0.0)


@njit(cache=True)
def expgrad_desired_kernel(weights: np.ndarray, edges: np.ndarray, quantity: float,
                           out: np.ndarray) -> None:
    """Real-valued allocation of ``quantity`` shares from the bucket weights."""
    out[:] = 0.0
    for b in range(weights.shape[0]):
        width = _units_in_row(edges, b, weights.shape[0], quantity)
        if width <= 0.0:
            break
        for i in range(weights.shape[1]):
            out[i] += weights[b, i] * width


def expgrad_desired_reference(weights: np.ndarray, edges: np.ndarray, quantity: float) -> np.ndarray:
    tops = np.append(edges[1:-1], np.inf)
    widths = np.clip(np.minimum(quantity, tops) - edges[:-1], 0.0, None)
    return widths @ weights


@njit(cache=True)
def expgrad_update_kernel(weights: np.ndarray, edges: np.ndarray, scale: np.ndarray,
                          visits: np.ndarray, quantity: float, sent: np.ndarray, filled: np.ndarray, eta: float,
                          scale_decay: float, mixing: float, gradient: int) -> None:
    """One ExpGrad step on every row below ``quantity`` from a censored outcome (in place)."""
    rows, venues = weights.shape
    position = np.zeros(venues)
    g = np.empty(venues)
    known = np.empty(venues, dtype=np.bool_)
    for b in range(rows):
        width = _units_in_row(edges, b, rows, quantity)
        if width <= 0.0:
            break
        known_mass = 0.0
        known_gain = 0.0
        for i in range(venues):
            share = weights[b, i] * width
            middle = position[i] + 0.5 * share  # the row's middle unit at venue i
            position[i] += share
            known[i] = sent[i] > 0.0
            if not known[i]:
                g[i] = 0.0
            elif gradient == GRADIENT_ORDER:
                g[i] = 1.0 if filled[i] >= sent[i] else 0.0
            elif filled[i] < sent[i]:
                g[i] = 1.0 if filled[i] > middle else 0.0
            elif sent[i] > middle:
                g[i] = 1.0
            else:
                known[i] = False
                g[i] = 0.0
            if known[i]:
                known_mass += weights[b, i]
                known_gain += weights[b, i] * g[i]
        if known_mass <= 0.0:
            continue
        mean_gain = known_gain / known_mass
        visits[b] += 1.0
        scale[b] = (1.0 - scale_decay) * scale[b] + scale_decay * mean_gain
        spread = max(scale[b] * (1.0 - scale[b]), _SCALE_FLOOR)
        rate = eta / math.sqrt(spread) * min(math.sqrt(visits[0] / visits[b]), _MAX_RARITY_BOOST)
        # exp(rate * (g - mean)): the common factor exp(-rate * mean) cancels in the normalisation,
        # and g is 0 or 1 (or the mean when unknown), so two exponentials per row suffice
        boost = math.exp(rate)
        neutral = math.exp(rate * mean_gain)
        total = 0.0
        for i in range(venues):
            if not known[i]:
                weights[b, i] *= neutral
            elif g[i] > 0.0:
                weights[b, i] *= boost
            total += weights[b, i]
        keep = (1.0 - mixing) / total
        floor = mixing / venues
        for i in range(venues):
            weights[b, i] = weights[b, i] * keep + floor


def expgrad_update_reference(weights: np.ndarray, edges: np.ndarray, scale: np.ndarray,
                             visits: np.ndarray, quantity: float, sent: np.ndarray, filled: np.ndarray, eta: float,
                             scale_decay: float, mixing: float, gradient: int) -> None:
    """The same step, vectorised over rows (in place)."""
    rows, venues = weights.shape
    tops = np.append(edges[1:-1], np.inf)
    widths = np.clip(np.minimum(quantity, tops) - edges[:-1], 0.0, None)
    active = edges[:-1] < quantity
    shares = weights * widths[:, None]
    positions = (np.cumsum(shares, axis=0) - 0.5 * shares)[active]  # each row's middle unit
    was_sent = (sent > 0)[None, :]
    if gradient == GRADIENT_ORDER:
        g = np.broadcast_to((filled >= sent).astype(float), positions.shape)
        known = np.broadcast_to(was_sent, positions.shape)
    else:
        exact = (filled < sent)[None, :]
        g = np.where(exact, (filled[None, :] > positions).astype(float), 1.0)
        known = was_sent & (exact | (sent[None, :] > positions))
    w = weights[active]
    known_mass = (w * known).sum(axis=1)
    usable = known_mass > 0
    mean_gain = np.where(usable, (w * known * g).sum(axis=1) / np.where(usable, known_mass, 1.0), 0.0)
    index = np.flatnonzero(active)[usable]
    visits[index] += 1.0
    scale[index] = (1.0 - scale_decay) * scale[index] + scale_decay * mean_gain[usable]
    spread = np.maximum(scale[index] * (1.0 - scale[index]), _SCALE_FLOOR)
    rarity = np.minimum(np.sqrt(visits[0] / visits[index]), _MAX_RARITY_BOOST)
    rate = eta / np.sqrt(spread) * rarity
    gain = np.where(known[usable], g[usable], mean_gain[usable, None])
    updated = w[usable] * np.exp(rate[:, None] * (gain - mean_gain[usable, None]))
    updated /= updated.sum(axis=1, keepdims=True)
    weights[index] = (1.0 - mixing) * updated + mixing / venues


@njit(cache=True)
def expgrad_run_kernel(weights: np.ndarray, edges: np.ndarray, scale: np.ndarray, visits: np.ndarray,
                       sizes: np.ndarray,
                       liquidity: np.ndarray, offsets: np.ndarray, lot: np.ndarray,
                       minimum: np.ndarray, maximum: np.ndarray, eta: float, scale_decay: float,
                       mixing: float, gradient: int, sent: np.ndarray, filled: np.ndarray) -> None:
    """The study's loop: allocate, round, apply venue rules, fill, update, for every round."""
    venues = weights.shape[1]
    desired = np.empty(venues)
    rounded = np.empty(venues)
    available = np.ones(venues, dtype=np.bool_)
    for t in range(sizes.shape[0]):
        expgrad_desired_kernel(weights, edges, sizes[t], desired)
        systematic_round_kernel(desired, lot, offsets[t], rounded)
        enforce_rules_kernel(rounded, sizes[t], lot, minimum, maximum, available, sent[t])
        for i in range(venues):
            filled[t, i] = min(sent[t, i], liquidity[t, i])
        expgrad_update_kernel(weights, edges, scale, visits, sizes[t], sent[t], filled[t], eta, scale_decay,
                              mixing, gradient)
