"""The engine as an operator sees it: the :class:`EngineView` built from the manager's state (on the
loop's thread), and each venue's recent activity that goes into it."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

from engine.domain.ids import trader_session_key
from engine.domain.risk import WorkingOrder
from engine.manager.view import EngineView, HaltView, LimitUsage, SessionView, VenueView

if TYPE_CHECKING:
    from engine.manager.shared import SharedState

VENUE_WINDOW_SECONDS = 60.0  # a venue's "recent" fill rate is over this many seconds


class VenueActivity:
    """Shares sent and filled per venue over the last ``VENUE_WINDOW_SECONDS`` (resolved children,
    rejects and timeouts left out, as the learning leaves them out)."""

    def __init__(self, window_seconds: float = VENUE_WINDOW_SECONDS) -> None:
        self.window_seconds = window_seconds
        self._children: dict[str, deque[tuple[float, int, int]]] = {}

    def resolved(self, venue: str, sent: int, filled: int, now: float) -> None:
        self._children.setdefault(venue, deque()).append((now, sent, filled))

    def recent(self, venue: str, now: float) -> tuple[int, float | None]:
        """(children, filled shares / sent shares) over the window."""
        window = self._children.get(venue)
        if not window:
            return 0, None
        while window and now - window[0][0] > self.window_seconds:
            window.popleft()
        sent = sum(entry[1] for entry in window)
        return len(window), (sum(entry[2] for entry in window) / sent if sent else None)


def build_view(shared: "SharedState", started: bool) -> EngineView:
    now = shared.clock()
    config = shared.config
    controls = shared.controls
    sessions = tuple(SessionView(name, "trader", shared.trader_sessions.get(name, False))
                     for name in trader_session_names(shared)) + tuple(
        SessionView(v.name, "venue", shared.venues.logged_on(v.name)) for v in config.venues)
    venues = []
    for venue in config.venues:
        halt = controls.venue_halt(venue.name)
        children, rate = shared.runner.activity.recent(venue.name, now)
        reason = halt.reason if halt is not None else (None if venue.enabled else "disabled in the config")
        venues.append(VenueView(venue.name, venue.enabled and halt is None, shared.venues.logged_on(venue.name),
                                reason, children, rate))
    halts = tuple(HaltView(h.target.scope.value, h.target.key, h.reason, h.origin, h.at, h.automatic)
                  for h in controls.halts)
    working = [p for p in shared.parents.values() if not p.is_final]
    usage = []
    for session in trader_session_names(shared):
        mine = [p for p in working if p.spec.session == session]
        limits = shared.risk.limits.for_session(session)
        open_notional = shared.risk.open_notional(
            [WorkingOrder(p.spec.symbol, p.leaves_qty, p.spec.limit_price) for p in mine], now)
        usage.append(LimitUsage(session, open_notional,
                                limits.max_open_notional.hard, shared.risk.filled_today(session, now),
                                limits.max_daily_notional.hard, len(mine)))
    return EngineView(at=now, started=started, sessions=sessions, venues=tuple(venues), halts=halts,
                      working_parents=len(working), usage=tuple(usage), journal_writable=shared.journal.writable,
                      journal_lag_seconds=shared.journal.lag_seconds())


def trader_session_names(shared: "SharedState") -> list[str]:
    """Every configured trader session's key, and any other that logged on (there are none today)."""
    names = [trader_session_key(shared.config.fix.trader.sender_comp_id, t) for t in shared.config.fix.trader.sessions]
    return names + [name for name in shared.trader_sessions if name not in names]
