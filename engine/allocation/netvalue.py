"""What a filled share is worth net of adverse selection, and the online estimate of the cost.

A dark fill can meet an informed contra: the midpoint then moves against us. The *markout* of a
fill at horizon h is that adverse move in basis points, h seconds after the fill (here positive =
against us: for a buy, the midpoint fell). A share filled at venue i is worth

    w_i = fill_value_bps - m_i,   m_i = E[markout of a share filled at venue i, at horizon h],

``fill_value_bps`` being what the desk is willing to pay for getting a share done in the dark rather
than later elsewhere (infinite: every fill is worth having, the fill-only objective). The allocation
maximises sum_i w_i E[min(v_i, s_i)]: separable and concave per venue like expected fill, so the
oracle's greedy runs on w_i P(s_i >= u) and a venue with w_i <= 0 gets nothing (oracle.py).

m_i is learned from markouts, which arrive late (h seconds after the fill, or batched at the end of
the day): :class:`MarkoutEstimator` takes them whenever they come, :class:`NetValue` turns the
estimates into the per-venue values every policy takes through ``policy.set_net_values(values)``.
The study feeds it simulated markouts; the engine can feed it the markouts of its real fills: minus
:func:`engine.domain.markouts.markout_bps` (which is positive in our favour, as desks quote it),
since this module counts the adverse move as positive.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from engine.allocation.liquidity import expected_fill_kernel
from engine.allocation.profiles import LiquidityParams

WEIGHTINGS = ("fill", "share")


def net_weights(values: np.ndarray | None, venue_count: int) -> np.ndarray:
    """The kernels' form of net values: per venue a weight, the largest 1, 0 for venues worth <= 0.

    None (fill-only) and all-infinite values give exactly ones, so the fill-only objective runs the
    same arithmetic as before net values existed."""
    if values is None:
        return np.ones(venue_count)
    values = np.asarray(values, dtype=np.float64)
    if values.shape != (venue_count,):
        raise ValueError(f"net values have shape {values.shape}, expected ({venue_count},)")
    if np.isnan(values).any():
        raise ValueError(f"net values {values.tolist()} contain NaN")
    infinite = np.isposinf(values)
    if infinite.all():
        return np.ones(venue_count)
    if infinite.any():
        raise ValueError(f"net values {values.tolist()}: infinite for some venues only")
    positive = values > 0.0
    if not positive.any():
        return np.zeros(venue_count)
    return np.where(positive, values / values[positive].max(), 0.0)


def venue_expected_fills(children: np.ndarray, params: LiquidityParams) -> np.ndarray:
    """E[min(v_i, s_i)] per venue for an allocation (shares per venue, in market order)."""
    children = np.asarray(children, dtype=np.float64)
    return np.array([expected_fill_kernel(children[i], *(column[i] for column in params.as_tuple()))
                     for i in range(params.venue_count)])


def expected_net_value(children: np.ndarray, params: LiquidityParams, values: np.ndarray) -> float:
    """sum_i values_i E[min(v_i, s_i)]: an allocation's expected fill value net of adverse
    selection (bps x shares, with ``values`` the net value per share in bps)."""
    return float(np.dot(np.asarray(values, dtype=np.float64), venue_expected_fills(children, params)))


class MarkoutEstimator:
    """Per venue, the mean markout (bps, adverse positive) of its fills, shrunk towards 0.

    m_i = (sum_f c_f x_f / sum_f c_f) * n_i / (n_i + prior_fills): the weighted mean of the fills'
    markouts x_f (weights c_f = 1 per fill, or the fill's shares with ``weighting="share"``), times
    a shrinkage factor with ``prior_fills`` pseudo-fills at 0. A venue without history is at 0 (not
    toxic until shown otherwise, so it is explored), and a few noisy markouts cannot exclude a venue.
    Markouts may be recorded in any order and any time after their fill (``record`` takes the
    fill's shares and its markout); there is nothing to match up.
    """

    def __init__(self, venue_count: int, prior_fills: float = 10.0, weighting: str = "fill") -> None:
        if weighting not in WEIGHTINGS:
            raise ValueError(f"weighting = {weighting!r}, expected one of {WEIGHTINGS}")
        if not prior_fills >= 0.0:
            raise ValueError(f"prior_fills = {prior_fills}, expected >= 0")
        self.prior_fills = float(prior_fills)
        self.weighting = weighting
        self.fills = np.zeros(venue_count)      # fills whose markout arrived
        self.weight = np.zeros(venue_count)     # sum of their weights c_f
        self.weighted = np.zeros(venue_count)   # sum of c_f x_f

    def record(self, filled: np.ndarray, markouts_bps: np.ndarray) -> None:
        """Fills and their markouts, shape (venues,) or (rounds, venues); entries with nothing filled
        are ignored (their markout is not looked at)."""
        filled = np.atleast_2d(np.asarray(filled, dtype=np.float64))
        markouts = np.atleast_2d(np.asarray(markouts_bps, dtype=np.float64))
        if filled.shape != markouts.shape or filled.shape[1] != len(self.fills):
            raise ValueError(f"filled {filled.shape} and markouts {markouts.shape} must be (rounds, "
                             f"{len(self.fills)})")
        if record_markouts_kernel(filled, markouts, self.weighting == "share", self.fills, self.weight,
                                  self.weighted):
            raise ValueError("a markout of a fill is NaN (the fills before it were recorded)")

    def moves_bps(self) -> np.ndarray:
        """The current estimate of each venue's expected adverse move m_i (bps)."""
        mean = np.divide(self.weighted, self.weight, out=np.zeros_like(self.weight), where=self.weight > 0)
        return mean * self.fills / (self.fills + self.prior_fills) if self.prior_fills > 0 else mean

    def snapshot(self) -> dict[str, np.ndarray]:
        return {"fills": self.fills.copy(), "weight": self.weight.copy(), "weighted": self.weighted.copy()}

    def restore(self, snapshot: dict[str, np.ndarray]) -> None:
        for key in ("fills", "weight", "weighted"):
            given = np.asarray(snapshot[key], dtype=np.float64)
            if given.shape != self.fills.shape:
                raise ValueError(f"markout snapshot: {key} has shape {given.shape}, expected {self.fills.shape}")
        for key in ("fills", "weight", "weighted"):
            setattr(self, key, np.array(snapshot[key], dtype=np.float64))


@njit(cache=True)
def record_markouts_kernel(filled: np.ndarray, markouts: np.ndarray, by_shares: bool, fills: np.ndarray,
                           weight: np.ndarray, weighted: np.ndarray) -> bool:
    """Add (rounds, venues) fills and markouts to the sums (in place); True if it met a NaN markout
    of a fill (and stopped there)."""
    for t in range(filled.shape[0]):
        for i in range(filled.shape[1]):
            if filled[t, i] <= 0.0:
                continue
            if math.isnan(markouts[t, i]):
                return True
            c = filled[t, i] if by_shares else 1.0
            fills[i] += 1.0
            weight[i] += c
            weighted[i] += c * markouts[t, i]
    return False


def record_markouts_reference(filled: np.ndarray, markouts: np.ndarray, by_shares: bool, fills: np.ndarray,
                              weight: np.ndarray, weighted: np.ndarray) -> None:
    """Vectorised twin of :func:`record_markouts_kernel` (no NaN check)."""
    happened = filled > 0.0
    c = np.where(happened, filled, 0.0) if by_shares else happened.astype(np.float64)
    fills += happened.sum(axis=0)
    weight += c.sum(axis=0)
    weighted += (c * np.where(happened, markouts, 0.0)).sum(axis=0)


class NetValue:
    """The objective every policy is given: per venue the value of a filled share, fill_value_bps -
    m_i, with m_i learned by a :class:`MarkoutEstimator` (or fixed: ``known_moves_bps``, the truth in
    a study). ``values()`` is what ``policy.set_net_values`` takes: None when the fill value is
    infinite (fill-only: today's objective, exactly)."""

    def __init__(self, venue_count: int, fill_value_bps: float = math.inf, horizon_seconds: float = 10.0,
                 estimator: MarkoutEstimator | None = None, known_moves_bps: np.ndarray | None = None) -> None:
        if math.isnan(fill_value_bps) or fill_value_bps == -math.inf:
            raise ValueError(f"fill_value_bps = {fill_value_bps}, expected a number of bps or inf")
        if not horizon_seconds > 0.0:
            raise ValueError(f"horizon_seconds = {horizon_seconds}, expected seconds > 0")
        self.venue_count = venue_count
        self.fill_value_bps = float(fill_value_bps)
        self.horizon_seconds = float(horizon_seconds)
        self.estimator = estimator if estimator is not None else MarkoutEstimator(venue_count)
        self.known_moves_bps = None if known_moves_bps is None else np.array(known_moves_bps, dtype=np.float64)
        if self.known_moves_bps is not None and self.known_moves_bps.shape != (venue_count,):
            raise ValueError(f"known_moves_bps has shape {self.known_moves_bps.shape}, expected ({venue_count},)")

    @property
    def fill_only(self) -> bool:
        return math.isinf(self.fill_value_bps)

    def record_markouts(self, filled: np.ndarray, markouts_bps: np.ndarray) -> None:
        """Markouts (bps at ``horizon_seconds``, adverse positive) of fills, whenever they arrive."""
        if self.known_moves_bps is None:
            self.estimator.record(filled, markouts_bps)

    def moves_bps(self) -> np.ndarray:
        return self.known_moves_bps.copy() if self.known_moves_bps is not None else self.estimator.moves_bps()

    def values(self) -> np.ndarray | None:
        """Per venue the net value (bps) of a filled share; None for the fill-only objective."""
        if self.fill_only:
            return None
        return self.fill_value_bps - self.moves_bps()
