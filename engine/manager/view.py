"""What the engine looks like from outside, at one moment: the read-only picture the metrics,
the health checks and `dark-agg ops status` are drawn from.

The engine builds a new :class:`EngineView` on its loop every ``VIEW_PERIOD_SECONDS`` (and after
each operator command); the metrics and health endpoints run on their own threads and only ever
read the newest one, so they never touch the manager's live state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

VIEW_PERIOD_SECONDS = 0.5


@dataclass(frozen=True, slots=True)
class SessionView:
    name: str          # a trader CompID or a venue name
    kind: str          # "trader" or "venue"
    logged_on: bool


@dataclass(frozen=True, slots=True)
class VenueView:
    name: str
    enabled: bool            # configured and not disabled by an operator or a trip
    logged_on: bool
    disabled_reason: str | None = None
    recent_children: int = 0     # children resolved in the last VENUE_WINDOW_SECONDS
    recent_fill_rate: float | None = None  # filled shares / sent shares over those children


@dataclass(frozen=True, slots=True)
class HaltView:
    scope: str               # global, session, symbol or venue
    key: str | None          # the session, symbol or venue (None for global)
    reason: str
    origin: str              # who: "ops@127.0.0.1", "trip: journal", ...
    at: float
    automatic: bool


@dataclass(frozen=True, slots=True)
class LimitUsage:
    """A session's use of its session limits (None: no such limit)."""

    session: str
    open_notional: float | None     # None: a working order cannot be priced (the gate then refuses new ones)
    max_open_notional: float | None
    filled_today: float
    max_daily_notional: float | None
    working_parents: int


@dataclass(frozen=True)
class EngineView:
    at: float                              # epoch seconds when the view was taken
    started: bool                          # the engine has finished starting
    sessions: tuple[SessionView, ...] = ()
    venues: tuple[VenueView, ...] = ()
    halts: tuple[HaltView, ...] = ()
    working_parents: int = 0
    usage: tuple[LimitUsage, ...] = ()
    journal_writable: bool = True
    journal_lag_seconds: float = 0.0       # how far the journal's tables are behind its log
    extra: dict = field(default_factory=dict)

    @property
    def ready(self) -> tuple[bool, list[str]]:
        """Ready to trade: started, the journal writable, every enabled venue's session logged on."""
        reasons = [] if self.started else ["the engine is starting"]
        if not self.journal_writable:
            reasons.append("the journal cannot be written")
        reasons += [f"venue {v.name} is not logged on" for v in self.venues if v.enabled and not v.logged_on]
        if not any(v.enabled for v in self.venues):
            reasons.append("no venue is enabled")
        return not reasons, reasons
