"""Kill switches and trading states: pure, no I/O; the order manager asks and feeds them.

A halt has a scope: the whole engine, one trader session, one symbol, or one venue.

- A global, session or symbol halt refuses new parents in its scope (OrdRejReason 2, a Text naming
  the halt) and pauses the sweeps of working parents in it: no new order reaches a venue while it
  lasts. Cancels and replaces still work. ``resume`` ends it and the paused parents sweep again.
- A venue halt is the venue disabled: no child goes to it until it is enabled again; parents go on
  with the other venues.

Halts come from an operator (``dark-agg ops``) or from an automatic trip: a venue that overfills a
child or storms us with rejects is disabled (:class:`RejectStorm`), a journal that cannot be written
halts everything. Either way the manager journals the change, so a restarted engine comes back
in the same state.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import Enum

from engine.domain.orders import ParentSpec, Refusal, RejectReason


class Scope(Enum):
    GLOBAL = "global"
    SESSION = "session"
    SYMBOL = "symbol"
    VENUE = "venue"


@dataclass(frozen=True, slots=True)
class Target:
    """Where a halt applies: ``key`` is the session key, symbol or venue (None for global)."""

    scope: Scope
    key: str | None = None

    def __post_init__(self) -> None:
        if (self.scope is Scope.GLOBAL) != (self.key is None):
            raise ValueError(f"a {self.scope.value} halt {'takes no' if self.key else 'needs a'} key")

    def covers(self, session: str, symbol: str) -> bool:
        """Does this (non-venue) halt apply to a parent of this session and symbol?"""
        return (self.scope is Scope.GLOBAL or (self.scope is Scope.SESSION and self.key == session)
                or (self.scope is Scope.SYMBOL and self.key == symbol))

    def describe(self) -> str:
        return "global" if self.key is None else f"{self.scope.value} {self.key}"


GLOBAL = Target(Scope.GLOBAL)


@dataclass(frozen=True, slots=True)
class Halt:
    target: Target
    reason: str
    origin: str          # who: "ops:alice@127.0.0.1", "trip: reject storm", ...
    at: float            # epoch seconds
    automatic: bool = False
    cancel: bool = False  # the working parents in scope were cancelled too (a restart cancels what is left)

    @property
    def text(self) -> str:
        return f"trading halted ({self.target.describe()}): {self.reason}"


class TradingControls:
    """The active halts, at most one per target (a second halt of the same target replaces it)."""

    def __init__(self) -> None:
        self._halts: dict[Target, Halt] = {}
        self._disabled_venues: frozenset[str] = frozenset()

    @property
    def halts(self) -> tuple[Halt, ...]:
        return tuple(self._halts.values())

    @property
    def disabled_venues(self) -> frozenset[str]:
        return self._disabled_venues

    def halt(self, halt: Halt) -> None:
        self._halts[halt.target] = halt
        self._update_venues()

    def resume(self, target: Target) -> Halt | None:
        """Ends the halt of exactly this target (a symbol halt is not ended by a global resume);
        returns it, or None when that target was not halted."""
        ended = self._halts.pop(target, None)
        self._update_venues()
        return ended

    def halt_of(self, session: str, symbol: str) -> Halt | None:
        """The halt that stops a parent of this session and symbol (global first), if any."""
        if not self._halts:
            return None
        for target in (GLOBAL, Target(Scope.SESSION, session), Target(Scope.SYMBOL, symbol)):
            halt = self._halts.get(target)
            if halt is not None:
                return halt
        return None

    def refusal(self, spec: ParentSpec) -> Refusal | None:
        """A new parent in a halted scope is refused (OrdRejReason 2: exchange closed / halted)."""
        halt = self.halt_of(str(spec.session), spec.symbol)
        return None if halt is None else Refusal(RejectReason.HALTED, halt.text)

    def venue_halt(self, venue: str) -> Halt | None:
        return self._halts.get(Target(Scope.VENUE, venue))

    def _update_venues(self) -> None:
        self._disabled_venues = frozenset(t.key for t in self._halts if t.scope is Scope.VENUE)


class RejectStorm:
    """``limit`` rejects from one venue within ``window_seconds`` is a storm: the venue is refusing
    everything we send (a rule we do not know, a session in a bad state) and is to be disabled.
    Benching after a few rejects in a row (the sweep runner) handles the mild case; this is the trip."""

    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._rejects: dict[str, deque[float]] = {}

    def on_reject(self, venue: str, now: float) -> bool:
        """Counts a reject; True when it makes a storm (the count restarts after one)."""
        window = self._rejects.setdefault(venue, deque())
        window.append(now)
        while window and now - window[0] > self.window_seconds:
            window.popleft()
        if len(window) >= self.limit:
            window.clear()
            return True
        return False
