"""The hindsight certificate, the seed's first question: could another split have filled more?

Not if the whole order filled, and not if no venue filled its whole child (every venue's liquidity
was taken: s_i = r_i everywhere, so any other split gets at most the same). Otherwise, some venue
may have had more, and a different split might have found it: "possible regret".
"""

from __future__ import annotations

import numpy as np


def no_regret_possible(quantity: np.ndarray, sent: np.ndarray, filled: np.ndarray) -> np.ndarray:
    """Per round (rows of sent/filled): True where no allocation could have filled more."""
    quantity = np.asarray(quantity, dtype=np.float64)
    sent = np.atleast_2d(sent)
    filled = np.atleast_2d(filled)
    whole_order_filled = filled.sum(axis=1) >= quantity
    some_venue_exhausted = ((filled >= sent) & (sent > 0)).any(axis=1)
    return whole_order_filled | ~some_venue_exhausted
