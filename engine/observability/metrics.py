"""The engine's Prometheus metrics: the manager's :class:`~engine.manager.ports.Metrics` port,
implemented with prometheus_client, plus the state gauges drawn from the newest
:class:`~engine.manager.view.EngineView`.

Two kinds of series, two ways of keeping them:

* events (a parent ended, a fill, a sweep's latency) are counters and histograms that the manager
  moves as they happen, on the loop's thread. Those calls are on every order's path, so each one is
  a dict lookup of a cached label child and one locked add;
* state (sessions, venues, halts, the journal, readiness) is not kept here at all: a custom
  collector reads the newest published view when Prometheus scrapes, on the server's thread. The
  view is frozen and replaced whole, so the scrape never sees half an update and never touches the
  manager's live state.

Before the first view is published the state collector yields only ``darkagg_ready 0``: the
process answers but is not ready, and every other state gauge would be an invented value (absent
is the honest answer; alert on ``absent(darkagg_working_parents)`` if it matters).

Every instance has its own :class:`CollectorRegistry` (several engines run in one test process),
and the exposed names are the contract listed in :data:`METRIC_NAMES`.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics
from prometheus_client.core import GaugeMetricFamily, Metric

from engine.manager.view import EngineView

# The ``*_created`` series prometheus_client adds next to every counter and histogram double the
# series count and nothing reads them (rate() needs no creation time). Switching them off is
# process-wide in prometheus_client; it only removes those extra series.
disable_created_metrics()

# Venue acks and sweeps take milliseconds: the default buckets (5 ms to 10 s) would put nearly all
# of them in the first two. These resolve 0.5 ms to 2 s, in seconds (base units).
LATENCY_BUCKETS_SECONDS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0)
# Markouts in bps, signed (positive in our favour): a tick of a 25.00 stock is 4 bps
MARKOUT_BUCKETS_BPS = (-50.0, -20.0, -10.0, -5.0, -2.0, 0.0, 2.0, 5.0, 10.0, 20.0, 50.0)

PARENT_OUTCOMES = ("accepted", "rejected", "filled", "canceled", "expired")
CHILD_OUTCOMES = ("filled", "partially_filled", "unfilled", "rejected", "timed_out", "not_sent")
OPS_RESULTS = ("ok", "refused", "error", "unauthorized")
HALT_SCOPES = ("global", "session", "symbol", "venue")

# Counters are declared without ``_total``: prometheus_client appends it, and would strip and
# re-append it anyway. The names exposed are the ones in METRIC_NAMES.
PARENTS = "darkagg_parents"
CHILDREN = "darkagg_children"
FILLS = "darkagg_fills"
FILLED_SHARES = "darkagg_filled_shares"
RISK_REFUSALS = "darkagg_risk_refusals"
RISK_WARNINGS = "darkagg_risk_warnings"
INCIDENTS = "darkagg_incidents"
OPS_COMMANDS = "darkagg_ops_commands"
LOGONS_REFUSED = "darkagg_trader_logons_refused"
SWEEP_LATENCY = "darkagg_sweep_latency_seconds"
CHILD_ACK_LATENCY = "darkagg_child_ack_latency_seconds"
MARKOUTS = "darkagg_markout_bps"
MEAN_MARKOUT = "darkagg_venue_mean_markout_bps"
NET_VALUE = "darkagg_venue_net_value_bps"

SESSION_LOGGED_ON = "darkagg_session_logged_on"
VENUE_ENABLED = "darkagg_venue_enabled"
VENUE_RECENT_FILL_RATE = "darkagg_venue_recent_fill_rate"
HALTS = "darkagg_halts"
TRADING_HALTED = "darkagg_trading_halted"
WORKING_PARENTS = "darkagg_working_parents"
JOURNAL_LAG = "darkagg_journal_lag_seconds"
JOURNAL_WRITABLE = "darkagg_journal_writable"
READY = "darkagg_ready"

_COUNTERS = (PARENTS, CHILDREN, FILLS, FILLED_SHARES, RISK_REFUSALS, RISK_WARNINGS, INCIDENTS, OPS_COMMANDS,
             LOGONS_REFUSED)
_HISTOGRAMS = (SWEEP_LATENCY, CHILD_ACK_LATENCY, MARKOUTS)
_PORT_GAUGES = (MEAN_MARKOUT, NET_VALUE)
_STATE_GAUGES = (SESSION_LOGGED_ON, VENUE_ENABLED, VENUE_RECENT_FILL_RATE, HALTS, TRADING_HALTED,
                 WORKING_PARENTS, JOURNAL_LAG, JOURNAL_WRITABLE, READY)

METRIC_NAMES: tuple[str, ...] = (tuple(f"{name}_total" for name in _COUNTERS) + _HISTOGRAMS + _PORT_GAUGES
                                 + _STATE_GAUGES)
"""Every metric family the engine exposes, as scraped (histograms without _bucket/_sum/_count)."""


class EngineMetrics:
    """The :class:`~engine.manager.ports.Metrics` port on a prometheus_client registry.

    The port's methods run on the loop's thread and only add to counters; :meth:`publish` hands over
    the newest view (a single reference assignment, atomic under the GIL); scrapes read it from the
    server's threads.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._latest_view: EngineView | None = None
        r = self.registry
        self._parents = Counter(PARENTS, "Parent orders by outcome: accepted or rejected on arrival, "
                                "then filled, canceled or expired when worked to an end", ["outcome"],
                                registry=r)
        self._children = Counter(CHILDREN, "Child orders sent to a venue, by venue and how each one "
                                 "ended", ["venue", "outcome"], registry=r)
        self._fills = Counter(FILLS, "Fill reports received from a venue", ["venue"], registry=r)
        self._filled_shares = Counter(FILLED_SHARES, "Shares filled at a venue", ["venue"], registry=r)
        self._sweep_latency = Histogram(SWEEP_LATENCY, "Time a sweep takes: from sending its child orders "
                                        "until each has a final report or the wait runs out", registry=r,
                                        buckets=LATENCY_BUCKETS_SECONDS)
        self._child_ack_latency = Histogram(CHILD_ACK_LATENCY, "Time from sending a child order to a venue "
                                            "until its first report arrives", ["venue"], registry=r,
                                            buckets=LATENCY_BUCKETS_SECONDS)
        self._risk_refusals = Counter(RISK_REFUSALS, "Orders refused because they would break a risk "
                                      "limit, by limit", ["limit"], registry=r)
        self._risk_warnings = Counter(RISK_WARNINGS, "Orders accepted close to a risk limit (the "
                                      "warning threshold), by limit", ["limit"], registry=r)
        self._incidents = Counter(INCIDENTS, "Anomalies the engine contained and logged (a report for an "
                                  "unknown order, a late fill, a kill-switch trip), by kind", ["kind"], registry=r)
        self._ops_commands = Counter(OPS_COMMANDS, "Operator commands received, by command and result "
                                     "(ok, refused, error, unauthorized)", ["command", "result"], registry=r)
        self._logons_refused = Counter(LOGONS_REFUSED, "Trader logons refused, by reason (bad credentials, "
                                       "locked out, address not allowed, unknown CompID)", ["reason"], registry=r)
        self._markouts = Histogram(MARKOUTS, "Markouts of fills: the primary midpoint's move from the fill to "
                                   "the horizon (seconds), in bps, positive in our favour", ["venue", "horizon"],
                                   registry=r, buckets=MARKOUT_BUCKETS_BPS)
        self._mean_markout = Gauge(MEAN_MARKOUT, "Share-weighted mean markout of a venue's fills at a horizon "
                                   "(seconds) since the engine started, bps, positive in our favour",
                                   ["venue", "horizon"], registry=r)
        self._net_value = Gauge(NET_VALUE, "What a share filled at the venue is worth to the allocation, bps: "
                                "the fill value minus the venue's learned adverse markout (with a fill value set)",
                                ["venue"], registry=r)
        self._markout_series: dict[tuple[str, float], tuple[Histogram, Gauge]] = {}
        self._logon_series: dict[str, Counter] = {}
        # Label children cached by their label values: .labels() takes a lock and builds a key
        # from keyword arguments on every call; a dict lookup on the hot path is cheaper.
        self._parent_series: dict[str, Counter] = {}
        self._child_series: dict[tuple[str, str], Counter] = {}
        self._fill_series: dict[str, tuple[Counter, Counter]] = {}
        self._ack_series: dict[str, Histogram] = {}
        self._refusal_series: dict[str, Counter] = {}
        self._warning_series: dict[str, Counter] = {}
        self._incident_series: dict[str, Counter] = {}
        self._ops_series: dict[tuple[str, str], Counter] = {}
        # Parent outcomes are known in advance: exposing them at 0 lets rate() and alerts see the
        # first one of each (a series that appears at 1 has no increase to show).
        for outcome in PARENT_OUTCOMES:
            self._parent_series[outcome] = self._parents.labels(outcome)
        self.registry.register(_ViewCollector(self))

    # --- the Metrics port (the loop's thread) ---

    def parent_ended(self, outcome: str) -> None:
        series = self._parent_series.get(outcome)
        if series is None:
            series = self._parent_series[outcome] = self._parents.labels(outcome)
        series.inc()

    def child_ended(self, venue: str, outcome: str) -> None:
        key = (venue, outcome)
        series = self._child_series.get(key)
        if series is None:
            series = self._child_series[key] = self._children.labels(venue, outcome)
        series.inc()

    def fill(self, venue: str, shares: int) -> None:
        pair = self._fill_series.get(venue)
        if pair is None:
            pair = self._fill_series[venue] = (self._fills.labels(venue), self._filled_shares.labels(venue))
        fills, filled_shares = pair
        fills.inc()
        filled_shares.inc(shares)

    def sweep_latency(self, seconds: float) -> None:
        self._sweep_latency.observe(seconds)

    def child_ack_latency(self, venue: str, seconds: float) -> None:
        series = self._ack_series.get(venue)
        if series is None:
            series = self._ack_series[venue] = self._child_ack_latency.labels(venue)
        series.observe(seconds)

    def markout(self, venue: str, horizon_seconds: float, bps: float, mean_bps: float | None) -> None:
        key = (venue, horizon_seconds)
        pair = self._markout_series.get(key)
        if pair is None:
            label = f"{horizon_seconds:g}"
            pair = self._markout_series[key] = (self._markouts.labels(venue, label),
                                                self._mean_markout.labels(venue, label))
        pair[0].observe(bps)
        if mean_bps is not None:
            pair[1].set(mean_bps)

    def net_value(self, venue: str, bps: float) -> None:
        self._net_value.labels(venue).set(bps)

    def risk_refusal(self, limit: str) -> None:
        _labelled(self._risk_refusals, self._refusal_series, limit).inc()

    def risk_warning(self, limit: str) -> None:
        _labelled(self._risk_warnings, self._warning_series, limit).inc()

    def incident(self, kind: str) -> None:
        _labelled(self._incidents, self._incident_series, kind).inc()

    def logon_refused(self, reason: str) -> None:
        """Called on QuickFIX's threads (prometheus_client's counters are thread-safe)."""
        _labelled(self._logons_refused, self._logon_series, reason).inc()

    def ops_command(self, command: str, result: str) -> None:
        key = (command, result)
        series = self._ops_series.get(key)
        if series is None:
            series = self._ops_series[key] = self._ops_commands.labels(command, result)
        series.inc()

    # --- the view (published on the loop's thread, read on the server's) ---

    def publish(self, view: EngineView) -> None:
        """Make ``view`` the one scrapes and health checks read (the previous one is dropped)."""
        self._latest_view = view

    @property
    def latest_view(self) -> EngineView | None:
        """The newest published view, or None before the first."""
        return self._latest_view


def _labelled(metric: Counter, cache: dict[str, Counter], label: str) -> Counter:
    series = cache.get(label)
    if series is None:
        series = cache[label] = metric.labels(label)
    return series


class _ViewCollector:
    """Yields the state gauges from the newest view at scrape time (prometheus_client's custom
    collector protocol: ``collect`` on every scrape, ``describe`` once at registration so the
    registry can refuse a second metric of the same name)."""

    def __init__(self, metrics: EngineMetrics) -> None:
        self._metrics = metrics

    def describe(self) -> Iterator[Metric]:
        return iter(_state_families().values())

    def collect(self) -> Iterator[Metric]:
        view = self._metrics.latest_view  # read once: the whole scrape shows the same moment
        families = _state_families()
        if view is None:
            families[READY].add_metric([], 0)
            yield families[READY]
            return
        for session in view.sessions:
            families[SESSION_LOGGED_ON].add_metric([session.kind, session.name], int(session.logged_on))
        for venue in view.venues:
            families[VENUE_ENABLED].add_metric([venue.name], int(venue.enabled))
            if venue.recent_fill_rate is not None:
                families[VENUE_RECENT_FILL_RATE].add_metric([venue.name], venue.recent_fill_rate)
        halts_by_scope = Tally(halt.scope for halt in view.halts)
        for scope in (*HALT_SCOPES, *sorted(set(halts_by_scope) - set(HALT_SCOPES))):
            families[HALTS].add_metric([scope], halts_by_scope[scope])
        families[TRADING_HALTED].add_metric([], int(halts_by_scope["global"] > 0))
        families[WORKING_PARENTS].add_metric([], view.working_parents)
        families[JOURNAL_LAG].add_metric([], view.journal_lag_seconds)
        families[JOURNAL_WRITABLE].add_metric([], int(view.journal_writable))
        families[READY].add_metric([], int(view.ready[0]))
        yield from families.values()


def _state_families() -> dict[str, GaugeMetricFamily]:
    """Empty gauge families for the state, fresh for each scrape (a family collects samples)."""
    return {
        SESSION_LOGGED_ON: GaugeMetricFamily(SESSION_LOGGED_ON, "1 while a FIX session is logged on, "
                                             "0 while it is down; kind is trader or venue",
                                             labels=["kind", "session"]),
        VENUE_ENABLED: GaugeMetricFamily(VENUE_ENABLED, "1 while a venue may receive child orders, 0 "
                                         "while an operator or a trip has disabled it", labels=["venue"]),
        VENUE_RECENT_FILL_RATE: GaugeMetricFamily(VENUE_RECENT_FILL_RATE, "Filled shares over sent "
                                                  "shares for a venue's recently resolved children "
                                                  "(absent while it has none)", labels=["venue"]),
        HALTS: GaugeMetricFamily(HALTS, "Active trading halts, by scope (global, session, symbol, "
                                 "venue)", labels=["scope"]),
        TRADING_HALTED: GaugeMetricFamily(TRADING_HALTED, "1 while a global halt stops all new "
                                          "trading (the kill switch), else 0"),
        WORKING_PARENTS: GaugeMetricFamily(WORKING_PARENTS, "Parent orders currently being worked"),
        JOURNAL_LAG: GaugeMetricFamily(JOURNAL_LAG, "How far the journal's tables are behind its "
                                       "write-ahead log, in seconds"),
        JOURNAL_WRITABLE: GaugeMetricFamily(JOURNAL_WRITABLE, "1 while the journal can be written, "
                                            "0 when it cannot (the engine is then not ready)"),
        READY: GaugeMetricFamily(READY, "1 when the engine is ready to trade: started, journal "
                                 "writable, every enabled venue logged on (as /readyz)"),
    }
