"""Each venue's adverse move, attributed from the markouts of whole sweeps (the engine's estimator).

In a study every fill's markout is its own draw, and a venue's mean markout is its adverse move
(:class:`~engine.allocation.netvalue.MarkoutEstimator`). In the engine, fills share one primary
midpoint: when an informed contra at V2 fills one of our children, the midpoint moves against us
for *every* child of that sweep, so V3's fills in the same sweep carry V2's move and V3's mean
markout is V2's toxicity times how often the two fill together. Measured on the demo (lse_toxic,
fill-only flow), the mean markout made nearly every venue look toxic.

So the engine attributes: each sweep that filled is one observation, its share-weighted mean
adverse markout ``y`` explained by which venues filled in it,

    y = alpha + sum_i m_i x_i + noise,      x_i = 1 if venue i filled in the sweep,

fitted by least squares with a ridge of ``prior_fills`` on the ``m_i`` (as many pseudo-sweeps at
0 per venue: a venue without history is at 0, a few noisy sweeps cannot exclude it) and none on
``alpha``. ``alpha`` is the adverse move common to every sweep whichever venues fill (the parent's
own earlier fills moving the price, the market's drift): it is no venue's doing and does not enter
the net values. The normal equations are accumulated online (a (K+1) x (K+1) matrix), so markouts
may arrive in any order and any time after their sweep.

What the allocation charges a share filled at venue i is not m_i itself: m_i moves the midpoint
for *every* share of the sweeps venue i fills in, so per share filled at i the cost is

    c_i = m_i * (shares of the sweeps where i filled) / (shares i filled in them),

the venue's *exposure* (1 when it fills alone; measured on the demo's flow, V2's small fills beside
large block fills gave it about 5). The exposure multiplies the fit's noise as well (a clean venue
of small fills at m = 1.5 +- 0.7 bps and exposure 7 would cost 10.5 bps a share and be dropped), so
what is charged is what the data show beyond noise: the lower end of m_i's confidence interval,

    c_i = max(0, m_i - CONFIDENCE_Z se_i) * exposure_i,

0 while m_i has no standard error yet (a venue is clean until shown toxic, as the issue's "a venue
with no history starts at 0"; a venue better than the rest is not paid for it). ``moves_bps()`` is
c_i, what the net value subtracts; the fit's m_i are ``coefficients()[1:]``.

The sum of the ``y^2`` is kept beside them, for the fit's residual sum of squares and so its
standard errors (:meth:`SweepAttribution.standard_errors`): the venue report prints the attributed
moves with confidence intervals, and without the squares the normal equations cannot give them.

It has :class:`~engine.allocation.netvalue.MarkoutEstimator`'s interface: ``record(filled,
markouts)`` with one row per sweep, ``moves_bps()``, ``snapshot()``/``restore()``.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable

import numpy as np

INTERCEPT_RIDGE = 1e-9  # keeps the system solvable before any sweep; far below any real count
CONFIDENCE_Z = 2.0      # a venue is charged the part of its move above ~2 standard errors (one-sided 98%)


def sweep_rows(fills: Iterable[tuple[Hashable, int, float, float]], venue_count: int) -> tuple[np.ndarray, np.ndarray]:
    """What :meth:`SweepAttribution.record` takes, from fills given as (sweep, venue index, shares,
    adverse markout bps): one row per sweep, in order of first appearance, with each venue's shares
    and the share-weighted mean of its fills' markouts (a child may fill more than once)."""
    rows: dict[Hashable, int] = {}
    entries = [(rows.setdefault(sweep, len(rows)), venue, shares, adverse) for sweep, venue, shares, adverse in fills]
    filled = np.zeros((len(rows), venue_count))
    weighted = np.zeros_like(filled)
    for row, venue, shares, adverse in entries:
        filled[row, venue] += shares
        weighted[row, venue] += shares * adverse
    return filled, np.divide(weighted, filled, out=np.zeros_like(filled), where=filled > 0)


class SweepAttribution:
    def __init__(self, venue_count: int, prior_fills: float = 10.0) -> None:
        if not prior_fills >= 0.0:
            raise ValueError(f"prior_fills = {prior_fills}, expected >= 0")
        self.prior_fills = float(prior_fills)
        self.venue_count = venue_count
        self.gram = np.zeros((venue_count + 1, venue_count + 1))  # sum of z z', z = (1, x)
        self.moment = np.zeros(venue_count + 1)                    # sum of z y
        self.squares = 0.0                                          # sum of y^2: the residuals' size
        self.exposed = np.zeros(venue_count)  # per venue, the shares of the sweeps it filled in
        self.own = np.zeros(venue_count)      # per venue, the shares it filled in them
        self.sweeps = 0.0

    def record(self, filled: np.ndarray, markouts_bps: np.ndarray) -> None:
        """Sweeps, shape (venues,) or (sweeps, venues): the shares each venue filled and each fill's
        markout (bps, adverse positive; entries of venues that filled nothing are not looked at)."""
        filled = np.atleast_2d(np.asarray(filled, dtype=np.float64))
        markouts = np.atleast_2d(np.asarray(markouts_bps, dtype=np.float64))
        if filled.shape != markouts.shape or filled.shape[1] != self.venue_count:
            raise ValueError(f"filled {filled.shape} and markouts {markouts.shape} must be (sweeps, "
                             f"{self.venue_count})")
        happened = filled > 0.0
        rows = happened.any(axis=1)
        if not rows.any():
            return
        filled, markouts, happened = filled[rows], markouts[rows], happened[rows]
        if np.isnan(markouts[happened]).any():
            raise ValueError("a markout of a fill is NaN")
        shares = np.where(happened, filled, 0.0)
        y = (shares * np.where(happened, markouts, 0.0)).sum(axis=1) / shares.sum(axis=1)
        z = np.hstack([np.ones((len(y), 1)), happened.astype(np.float64)])
        self.gram += z.T @ z
        self.moment += z.T @ y
        self.squares += float(y @ y)
        self.exposed += (happened * shares.sum(axis=1, keepdims=True)).sum(axis=0)
        self.own += shares.sum(axis=0)
        self.sweeps += len(y)

    def coefficients(self) -> np.ndarray:
        """(alpha, m_1 .. m_K) of the ridge fit; zeros before any sweep."""
        if self.sweeps == 0:
            return np.zeros(self.venue_count + 1)
        ridge = np.full(self.venue_count + 1, max(self.prior_fills, INTERCEPT_RIDGE))
        ridge[0] = INTERCEPT_RIDGE
        return np.linalg.solve(self.gram + np.diag(ridge), self.moment)

    def exposure(self) -> np.ndarray:
        """Per venue, the shares of its sweeps per share it filled (1 before it filled anything)."""
        return np.divide(self.exposed, self.own, out=np.ones(self.venue_count), where=self.own > 0)

    def moves_bps(self) -> np.ndarray:
        """Each venue's adverse move per share filled there, as shown beyond noise:
        c_i = max(0, m_i - CONFIDENCE_Z se_i) x exposure_i (bps)."""
        moves, errors = self.coefficients()[1:], self.standard_errors()[1:]
        shown = np.where(np.isnan(errors), 0.0, np.maximum(moves - CONFIDENCE_Z * errors, 0.0))
        return shown * self.exposure()

    def common_move_bps(self) -> float:
        """alpha: the adverse move every sweep shows whichever venues fill."""
        return float(self.coefficients()[0])

    def standard_errors(self) -> np.ndarray:
        """Standard errors of (alpha, m_1 .. m_K), NaN for a venue that never filled and everywhere
        while there are no more sweeps than fitted columns.

        The residual variance is s^2 = RSS / (n - p), RSS = sum y^2 - 2 theta'b + theta'A theta (the
        residuals of the ridge fit theta itself, from the sums alone: A = gram, b = moment), p = 1 +
        the venues that filled at least once (a venue never seen is no column of the fit). With the
        ridge R, theta = (A + R)^-1 b, so its covariance is s^2 (A + R)^-1 A (A + R)^-1: the classic
        least-squares s^2 A^-1 when the ridge is 0, narrower when a prior holds a venue near 0 (the
        ridge's bias is not in it). Sweeps are taken as independent with one variance: how much a
        sweep's markout moves does not depend on which venues filled. A snapshot from before the
        squares were kept restores them as 0: the RSS is then too small (below 0 at first, which gives
        NaN rather than a falsely narrow 0; the later sweeps' squares lift it, but it stays short)."""
        errors = np.full(self.venue_count + 1, np.nan)
        observed = np.concatenate([[True], np.diag(self.gram)[1:] > 0.0])
        columns = int(observed.sum())
        if self.sweeps <= columns:
            return errors
        ridge = np.full(self.venue_count + 1, max(self.prior_fills, INTERCEPT_RIDGE))
        ridge[0] = INTERCEPT_RIDGE
        inverse = np.linalg.inv(self.gram + np.diag(ridge))
        theta = self.coefficients()
        fitted = 2.0 * theta @ self.moment - theta @ self.gram @ theta
        rss = self.squares - fitted
        if rss < -1e-9 * max(self.squares, abs(fitted), 1.0):  # beyond rounding: the squares are not all there
            return errors
        covariance = max(rss, 0.0) / (self.sweeps - columns) * (inverse @ self.gram @ inverse)
        errors[observed] = np.sqrt(np.clip(np.diag(covariance)[observed], 0.0, None))
        return errors

    def snapshot(self) -> dict[str, np.ndarray]:
        return {"gram": self.gram.copy(), "moment": self.moment.copy(), "sweeps": np.array(self.sweeps),
                "squares": np.array(self.squares), "exposed": self.exposed.copy(), "own": self.own.copy()}

    def restore(self, snapshot: dict[str, np.ndarray]) -> None:
        """Put back a :meth:`snapshot`, checked whole before anything changes. One from before the
        squares (exposures) were kept restores them as 0 (exposure 1 until new sweeps come)."""
        zeros = np.zeros(self.venue_count)
        given = {key: np.asarray(snapshot[key], dtype=np.float64) for key in ("gram", "moment", "sweeps")}
        given |= {key: np.asarray(snapshot.get(key, default), dtype=np.float64)
                  for key, default in (("squares", 0.0), ("exposed", zeros), ("own", zeros))}
        shapes = {"gram": self.gram.shape, "moment": self.moment.shape, "sweeps": (), "squares": (),
                  "exposed": zeros.shape, "own": zeros.shape}
        wrong = [f"{key} {given[key].shape}" for key, shape in shapes.items() if given[key].shape != shape]
        if wrong:
            raise ValueError(f"markout snapshot does not fit {self.venue_count} venues: {', '.join(wrong)}")
        self.gram, self.moment, self.exposed, self.own = (given[k].copy() for k in ("gram", "moment", "exposed", "own"))
        self.sweeps, self.squares = float(given["sweeps"]), float(given["squares"])
