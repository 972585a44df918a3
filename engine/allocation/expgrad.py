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
  bias against the venues that filled.) Each round is thus an exact sample of the gradient for every
  order size up to V (E[g_i] = P(s_i > p_bi), the oracle's marginal tail). Venues whose entry is
  undecidable (exhausted below p_bi, or nothing sent) sit the step out: the known venues are updated
  and rescaled to keep their total weight (sleeping experts, Freund et al. 1997).
  Per venue the outcome reduces to a threshold: g_i = 1{p_bi < t_i} with t_i = r_i if the fill was
  exact and t_i = u_i if censored (then 0 past it means "unknown"); the kernels use that form.

Steps: a row's step is normalised by its running mean gradient (eta / sqrt(mean (1 - mean))), since in
large buckets venues are rarely exhausted and raw gradients are tiny, and by how rarely it is visited
(eta / sqrt(visit share), capped). A row learns only from *informative* outcomes (some known venue
gained and some did not): otherwise the multiplicative step is the identity.

Mixing (fixed share): after each informative step a fraction mixing x step of the row goes back to
uniform, so no weight dies and rows can re-adapt. Scaling it with the step (not per visit) matters:
a per-visit share swamps the rarely informed large buckets, where it kept ~20% of the row on venues
that were exhausted long before (measured: worst size 0.90 -> 0.92, small sizes 0.97 -> 0.997).

Prior: what each bucket sends (``played``) is (1 - lam_b) x its learned row + lam_b x a prior row,
lam_b = strength / (strength + informative outcomes of row b). The prior is the greedy allocation of
a censored-MLE fit of every outcome (see expgrad_policy.py). Large buckets see few orders and those
rarely carry a tail event (about 10 per row in 100,000 rounds of the LSE study), so a constant-step
learner cannot average its noise away there; the model pools every outcome of every size. Small
buckets see tens of thousands of events and their own rows take over.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from engine.allocation.censored import record_discounted_kernel
from engine.allocation.oracle import TAILS_PARAMETRIC, threshold_allocate_kernel
from engine.allocation.rules import enforce_rules_kernel, systematic_round_kernel

GRADIENT_ORDER = 0
GRADIENT_POSITION = 1

_SCALE_FLOOR = 1e-4
_MAX_RARITY_BOOST = 2.0
_MAX_MIXING = 0.1
_STEP_REFRESH = 16.0  # informative steps between refreshes of a row's step size (saves a sqrt and an exp)
_PRIOR_FLOOR = 0.01  # share of each prior row spread uniformly: every venue stays explorable
# reassociation lets LLVM vectorise the per-venue sums (12 venues: three 4-wide steps); no flag that
# assumes away infinities or NaN, so results match the NumPy twin to rounding
_FAST = {"reassoc", "contract", "arcp", "nsz"}


@njit(cache=True)
def _units_in_row(edges: np.ndarray, row: int, rows: int, quantity: float) -> float:
    """How many of an order's ``quantity`` units fall in bucket ``row`` (the last one is open-ended)."""
    high = edges[row + 1] if row < rows - 1 else np.inf
    return max(min(quantity, high) - edges[row], 0.0)


@njit(cache=True)
def expgrad_desired_kernel(weights: np.ndarray, edges: np.ndarray, quantity: float,
                           out: np.ndarray) -> None:
    """Real-valued allocation of ``quantity`` shares from the bucket weights (the played rows)."""
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
def _thresholds(sent: np.ndarray, filled: np.ndarray, gradient: int, threshold: np.ndarray,
                exact: np.ndarray) -> None:
    """Per venue: g = 1{position < threshold}; exact = 1 where g = 0 is known (else unknown)."""
    for i in range(sent.shape[0]):
        was_exact = filled[i] < sent[i]
        if gradient == GRADIENT_ORDER:
            threshold[i] = -1.0 if was_exact else np.inf
        else:
            threshold[i] = filled[i] if was_exact else sent[i]
        exact[i] = 1.0 if was_exact else 0.0
        if sent[i] <= 0.0:  # nothing sent: unknown at every position
            threshold[i], exact[i] = -1.0, 0.0


@njit(cache=True)
def expgrad_update_kernel(weights: np.ndarray, played: np.ndarray, prior: np.ndarray, edges: np.ndarray,
                          scale: np.ndarray, visits: np.ndarray, events: np.ndarray, steps: np.ndarray,
                          quantity: float, sent: np.ndarray, filled: np.ndarray, eta: float,
                          scale_decay: float, mixing: float, prior_strength: float, gradient: int,
                          value=None) -> None:
    """One ExpGrad step on every row below ``quantity`` from a censored outcome (in place).

    Without a prior (``prior_strength`` 0) pass the same array as ``weights`` and ``played``.
    ``steps`` (2, rows) holds each row's step and exp(step), refreshed every _STEP_REFRESH steps.
    ``value``: per venue the net value of a share over the largest (netvalue.net_weights), for the
    net objective (then ``played`` must be an array of its own); omitted: the fill-only objective.
    """
    work = np.empty((5, weights.shape[1]))
    if value is None:
        _update(weights, played, prior, edges, scale, visits, events, steps, quantity, sent, filled, eta,
                scale_decay, mixing, prior_strength, gradient, work)
    else:
        _update_net(weights, played, prior, edges, scale, visits, events, steps, quantity, sent, filled, eta,
                    scale_decay, mixing, prior_strength, gradient, work, value)


@njit(cache=True, fastmath=_FAST)
def _update(weights, played, prior, edges, scale, visits, events, steps, quantity, sent, filled, eta,
            scale_decay, mixing, prior_strength, gradient, work) -> None:
    """expgrad_update_kernel with its scratch rows passed in (the run loop allocates them once)."""
    rows, venues = weights.shape
    threshold, exact, position, gain, known = work[0], work[1], work[2], work[3], work[4]
    _thresholds(sent, filled, gradient, threshold, exact)
    position[:] = 0.0
    blend = prior_strength > 0.0
    for b in range(rows):
        width = _units_in_row(edges, b, rows, quantity)
        if width <= 0.0:
            break
        known_mass = 0.0
        known_gain = 0.0
        for i in range(venues):  # branch-free: the compiler vectorises it
            share = played[b, i] * width
            middle = position[i] + 0.5 * share  # the row's middle unit at venue i
            position[i] += share
            gain[i] = 1.0 if middle < threshold[i] else 0.0
            known[i] = max(exact[i], gain[i])  # unsent venues: exact 0 and threshold -1, never known
            known_mass += weights[b, i] * known[i]
            known_gain += weights[b, i] * known[i] * gain[i]
        if known_mass <= 0.0:
            continue
        mean_gain = known_gain / known_mass
        visits[b] += 1.0
        scale[b] = (1.0 - scale_decay) * scale[b] + scale_decay * mean_gain
        if not 0.0 < mean_gain < 1.0:
            continue  # every known venue gained alike: the step would be the identity
        events[b] += 1.0
        if events[b] % _STEP_REFRESH == 1.0:  # the step moves slowly: refresh it now and then
            spread = max(scale[b] * (1.0 - scale[b]), _SCALE_FLOOR)
            rarity = min(visits[0] / visits[b], _MAX_RARITY_BOOST * _MAX_RARITY_BOOST)
            steps[0, b] = eta * math.sqrt(rarity / spread)
            steps[1, b] = math.exp(steps[0, b])
        rate, boost = steps[0, b], steps[1, b]
        # known venues: w *= exp(rate * g), rescaled so that their mass is kept; unknown venues are
        # left alone (sleeping experts, Freund et al. 1997). The row's total stays 1, so mixing
        # back to uniform needs no normalisation: one pass over the venues
        rescale = known_mass / (known_mass + (boost - 1.0) * known_gain)
        mix = min(mixing * rate, _MAX_MIXING)
        keep = 1.0 - mix
        floor = mix / venues
        for i in range(venues):
            factor = ((boost if gain[i] > 0.0 else 1.0) * rescale) if known[i] > 0.0 else 1.0
            weights[b, i] = weights[b, i] * factor * keep + floor
        if blend:
            lam = prior_strength / (prior_strength + events[b])
            for i in range(venues):
                played[b, i] = (1.0 - lam) * weights[b, i] + lam * prior[b, i]


@njit(cache=True, fastmath=_FAST)
def _update_net(weights, played, prior, edges, scale, visits, events, steps, quantity, sent, filled, eta,
                scale_decay, mixing, prior_strength, gradient, work, value) -> None:
    """_update for the net objective (its own function, so the fill-only step compiles as before).

    A unit at venue i earns value[i] x 1{s_i > position}: a known venue's gain is value[i] or 0, and
    the step is linear in it, w *= 1 + (e^rate - 1) x gain (e^(rate x gain) for gains 0 and 1, the
    fill-only step), which keeps the rescaling in closed form. Played rows carry nothing on venues
    worth <= 0 (value 0), the rest renormalised: those venues are sent nothing and sleep.
    """
    rows, venues = weights.shape
    threshold, exact, position, gain, known = work[0], work[1], work[2], work[3], work[4]
    _thresholds(sent, filled, gradient, threshold, exact)
    position[:] = 0.0
    blend = prior_strength > 0.0
    for b in range(rows):
        width = _units_in_row(edges, b, rows, quantity)
        if width <= 0.0:
            break
        known_mass = 0.0
        known_gain = 0.0
        for i in range(venues):
            share = played[b, i] * width
            middle = position[i] + 0.5 * share
            position[i] += share
            hit = 1.0 if middle < threshold[i] else 0.0
            gain[i] = hit * value[i]
            known[i] = max(exact[i], hit)
            known_mass += weights[b, i] * known[i]
            known_gain += weights[b, i] * known[i] * gain[i]
        if known_mass <= 0.0:
            continue
        mean_gain = known_gain / known_mass
        visits[b] += 1.0
        scale[b] = (1.0 - scale_decay) * scale[b] + scale_decay * mean_gain
        if not 0.0 < mean_gain < 1.0:
            continue
        events[b] += 1.0
        if events[b] % _STEP_REFRESH == 1.0:
            spread = max(scale[b] * (1.0 - scale[b]), _SCALE_FLOOR)
            rarity = min(visits[0] / visits[b], _MAX_RARITY_BOOST * _MAX_RARITY_BOOST)
            steps[0, b] = eta * math.sqrt(rarity / spread)
            steps[1, b] = math.exp(steps[0, b])
        rate, boost = steps[0, b], steps[1, b]
        rescale = known_mass / (known_mass + (boost - 1.0) * known_gain)
        mix = min(mixing * rate, _MAX_MIXING)
        keep = 1.0 - mix
        floor = mix / venues
        for i in range(venues):
            factor = ((1.0 + (boost - 1.0) * gain[i]) * rescale) if known[i] > 0.0 else 1.0
            weights[b, i] = weights[b, i] * factor * keep + floor
        lam = prior_strength / (prior_strength + events[b]) if blend else 0.0
        total = 0.0
        for i in range(venues):
            played[b, i] = ((1.0 - lam) * weights[b, i] + lam * prior[b, i]) if value[i] > 0.0 else 0.0
            total += played[b, i]
        for i in range(venues):
            played[b, i] = played[b, i] / total if total > 0.0 else 0.0


def expgrad_update_reference(weights: np.ndarray, played: np.ndarray, prior: np.ndarray, edges: np.ndarray,
                             scale: np.ndarray, visits: np.ndarray, events: np.ndarray, steps: np.ndarray,
                             quantity: float, sent: np.ndarray, filled: np.ndarray, eta: float,
                             scale_decay: float, mixing: float, prior_strength: float, gradient: int,
                             value: np.ndarray | None = None) -> None:
    """The same step, vectorised over rows (in place)."""
    rows, venues = weights.shape
    was_exact = filled < sent
    if gradient == GRADIENT_ORDER:
        threshold = np.where(was_exact, -1.0, np.inf)
    else:
        threshold = np.where(was_exact, filled, sent)
    threshold = np.where(sent > 0, threshold, -1.0)
    exact = np.where(sent > 0, was_exact, False).astype(float)
    tops = np.append(edges[1:-1], np.inf)
    widths = np.clip(np.minimum(quantity, tops) - edges[:-1], 0.0, None)
    active = np.flatnonzero(edges[:-1] < quantity)
    shares = played[active] * widths[active, None]
    middles = np.cumsum(shares, axis=0) - 0.5 * shares
    hit = (middles < threshold).astype(float)
    gain = hit if value is None else hit * value
    known = np.maximum(exact, hit)
    w = weights[active]
    known_mass = (w * known).sum(axis=1)
    usable = known_mass > 0
    known_gain = (w * known * gain).sum(axis=1)
    mean_gain = np.where(usable, known_gain / np.where(usable, known_mass, 1.0), 0.0)
    rows_used = active[usable]
    visits[rows_used] += 1.0
    scale[rows_used] = (1.0 - scale_decay) * scale[rows_used] + scale_decay * mean_gain[usable]
    moving = usable & (mean_gain > 0.0) & (mean_gain < 1.0)
    index = active[moving]
    events[index] += 1.0
    refresh = index[events[index] % _STEP_REFRESH == 1.0]
    spread = np.maximum(scale[refresh] * (1.0 - scale[refresh]), _SCALE_FLOOR)
    steps[0, refresh] = eta * np.sqrt(np.minimum(visits[0] / visits[refresh], _MAX_RARITY_BOOST ** 2) / spread)
    steps[1, refresh] = np.exp(steps[0, refresh])
    rate, boost = steps[0, index, None], steps[1, index, None]
    kept = known_mass[moving, None]
    rescale = kept / (kept + (boost - 1.0) * known_gain[moving, None])
    if value is None:
        factor = np.where(gain[moving] > 0, boost, 1.0)
    else:
        factor = 1.0 + (boost - 1.0) * gain[moving]
    factor = np.where(known[moving] > 0, factor * rescale, 1.0)
    mix = np.minimum(mixing * rate, _MAX_MIXING)
    weights[index] = w[moving] * factor * (1.0 - mix) + mix / venues
    if value is not None:  # played rows: nothing on venues worth <= 0, the rest renormalised
        lam = (prior_strength / (prior_strength + events[index]))[:, None] if prior_strength > 0.0 else 0.0
        rows_played = np.where(value > 0, (1.0 - lam) * weights[index] + lam * prior[index], 0.0)
        totals = rows_played.sum(axis=1, keepdims=True)
        played[index] = np.divide(rows_played, totals, out=np.zeros_like(rows_played), where=totals > 0)
    elif prior_strength > 0.0:
        lam = (prior_strength / (prior_strength + events[index]))[:, None]
        played[index] = (1.0 - lam) * weights[index] + lam * prior[index]


@njit(cache=True)
def expgrad_run_kernel(weights: np.ndarray, played: np.ndarray, prior: np.ndarray, edges: np.ndarray,
                       scale: np.ndarray, visits: np.ndarray, events: np.ndarray, steps: np.ndarray,
                       sizes: np.ndarray,
                       liquidity: np.ndarray, offsets: np.ndarray, lot: np.ndarray, minimum: np.ndarray,
                       maximum: np.ndarray, eta: float, scale_decay: float, mixing: float,
                       prior_strength: float, gradient: int, sent: np.ndarray, filled: np.ndarray,
                       record: bool, history_weight: float, growth: float, breakpoints: np.ndarray,
                       totals: np.ndarray, zeros: np.ndarray, exact: np.ndarray, censored: np.ndarray,
                       smallest: np.ndarray, value: np.ndarray, available: np.ndarray, net: bool) -> float:
    """The study's loop: allocate, round, apply venue rules, fill, update (and record the outcome for
    the prior's fit when ``record``), for every round. Returns the history's new weight.
    ``value``/``available``/``net``: the net objective (ones, all True, False: fill-only)."""
    venues = weights.shape[1]
    desired = np.empty(venues)
    rounded = np.empty(venues)
    work = np.empty((5, venues))
    for t in range(sizes.shape[0]):
        expgrad_desired_kernel(played, edges, sizes[t], desired)
        systematic_round_kernel(desired, lot, offsets[t], rounded)
        enforce_rules_kernel(rounded, sizes[t], lot, minimum, maximum, available, sent[t])
        for i in range(venues):
            filled[t, i] = min(sent[t, i], liquidity[t, i])
        if net:
            _update_net(weights, played, prior, edges, scale, visits, events, steps, sizes[t], sent[t],
                        filled[t], eta, scale_decay, mixing, prior_strength, gradient, work, value)
        else:
            _update(weights, played, prior, edges, scale, visits, events, steps, sizes[t], sent[t], filled[t],
                    eta, scale_decay, mixing, prior_strength, gradient, work)
        if record:
            history_weight = record_discounted_kernel(sent[t], filled[t], history_weight, growth, breakpoints,
                                                      totals, zeros, exact, censored, smallest)
    return history_weight


@njit(cache=True)
def prior_rows_kernel(edges: np.ndarray, q: np.ndarray, a: np.ndarray, m: np.ndarray, big_m: np.ndarray,
                      out: np.ndarray, value=None) -> None:
    """out[b] = the greedy allocation's units in bucket b per unit (a distribution over venues) for
    the model (q, a, m, big_m), with a uniform floor; with ``value`` (net values, any scale) the
    net-value greedy's, the floor spread over the venues worth > 0 only (the others get 0)."""
    if value is None:
        _prior_rows(edges, q, a, m, big_m, out, np.ones(out.shape[1]))
    else:
        _prior_rows(edges, q, a, m, big_m, out, value)


@njit(cache=True)
def _prior_rows(edges, q, a, m, big_m, out, value) -> None:
    rows, venues = out.shape
    caps = np.full(venues, np.inf)
    below = np.zeros(venues)
    above = np.empty(venues)
    allowed = 0
    for i in range(venues):
        allowed += 1 if value[i] > 0.0 else 0
    for b in range(rows):
        threshold_allocate_kernel(edges[b + 1], TAILS_PARAMETRIC, q, a, m, big_m, _EMPTY_TABLE,
                                  _ONE_BREAKPOINT, _NO_LIMIT, value, caps, above)
        total = 0.0
        for i in range(venues):
            out[b, i] = max(above[i] - below[i], 0.0)
            total += out[b, i]
            below[i] = above[i]
        for i in range(venues):
            if value[i] <= 0.0:
                out[b, i] = 0.0
                continue
            share = out[b, i] / total if total > 0.0 else 1.0 / allowed
            out[b, i] = (1.0 - _PRIOR_FLOOR) * share + _PRIOR_FLOOR / allowed


_EMPTY_TABLE = np.zeros((1, 1))
_ONE_BREAKPOINT = np.ones(1)
_NO_LIMIT = np.zeros(1, dtype=np.int64)
