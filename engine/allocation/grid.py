"""Size grids: the order-size buckets of ExpGrad and the breakpoints of the censored histograms."""

from __future__ import annotations

import numpy as np

# Histogram breakpoints are exact whole shares up to here, then geometric: a child of 40 shares and
# one of 41 are different observations, one of 400,000 and 401,000 need not be.
EXACT_UP_TO = 64
GEOMETRIC_RATIO = 1.03
LARGEST_SIZE = 1e9


def bucket_edges(max_quantity: float, buckets: int, smallest: float = 1.0) -> np.ndarray:
    """Edges e_0 = 0 < e_1 = smallest < ... < e_buckets = max_quantity, log-spaced.

    Bucket b holds the order's units (e_b, e_{b+1}]: ExpGrad keeps one weight row per bucket, the
    seed's "one weight vector per order size"; an order of V shares uses the rows below V.
    """
    if buckets < 2 or max_quantity <= smallest:
        raise ValueError(f"need buckets >= 2 and max_quantity > {smallest}, got {buckets}, {max_quantity}")
    return np.concatenate(([0.0], np.geomspace(smallest, max_quantity, buckets)))


def histogram_breakpoints(largest: float = LARGEST_SIZE) -> np.ndarray:
    """b_0 = 1 < b_1 < ...: bin j holds sizes in [b_j, b_{j+1}); whole shares, exact then geometric."""
    exact = np.arange(1, EXACT_UP_TO + 1, dtype=np.float64)
    count = int(np.ceil(np.log(largest / EXACT_UP_TO) / np.log(GEOMETRIC_RATIO)))
    geometric = np.unique(np.round(EXACT_UP_TO * GEOMETRIC_RATIO ** np.arange(1, count + 1)))
    return np.concatenate((exact, geometric[geometric > EXACT_UP_TO]))
