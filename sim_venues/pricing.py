"""Reference midpoint per venue and symbol: a seeded random walk on the symbol's tick grid.

The midpoint is kept as a whole number of ticks (no float drift however long the walk) and moves one
tick up or down, with probability ``step_probability``, before each order the venue prices. It never
goes below one tick. Stepping per order rather than per wall-clock second keeps fills reproducible:
the same seed and the same order flow see the same prices.
"""

from __future__ import annotations

import numpy as np

_BLOCK = 1024


class MidpointWalk:
    def __init__(self, reference_price: float, tick: float, step_probability: float,
                 rng: np.random.Generator) -> None:
        self.tick = tick
        self._ticks = max(1, round(reference_price / tick))
        self._step_probability = step_probability
        self._rng = rng
        self._steps: list[int] = []
        self._next = 0
        # Digits enough to print the tick exactly (0.005 -> 3), so LastPx never shows 25.010000000001.
        self._digits = max(0, -int(np.floor(np.log10(tick))) + 2)

    @property
    def midpoint(self) -> float:
        return round(self._ticks * self.tick, self._digits)

    def advance(self) -> float:
        """Move (or not) and return the midpoint the next order trades at."""
        if self._step_probability > 0.0:
            if self._next == len(self._steps):
                self._refill()
            self._ticks = max(1, self._ticks + self._steps[self._next])
            self._next += 1
        return self.midpoint

    def _refill(self) -> None:
        moves = self._rng.random(_BLOCK) < self._step_probability
        directions = np.where(self._rng.random(_BLOCK) < 0.5, -1, 1)
        self._steps = [int(v) for v in np.where(moves, directions, 0)]
        self._next = 0
