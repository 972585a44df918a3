"""The engine assembled: journal, learned weights, order manager and FIX gateway, started and
stopped in the right order. Used by `dark-agg run`, the demo, the benchmark and the end-to-end
tests, so they all run the same wiring.

Start: journal -> weights (restored from the newest snapshot) -> manager (open parents restored) ->
FIX sessions. Stop: the trader and venue sessions stay up while the sweeps in flight finish, then
the manager stops, weights are snapshotted, the FIX sessions log out and the journal is flushed.
"""

from __future__ import annotations

import asyncio
import sys
import time

import numpy as np
import structlog

from engine.allocation.attribution import SweepAttribution
from engine.allocation.netvalue import NetValue
from engine.allocation.policies import PolicyError
from engine.allocation.registry import make_policy
from engine.allocation.rules import VenueRules
from engine.domain.ids import IdFactory, run_prefix
from engine.config import EngineConfig
from engine.journal import Journal, JournalError, latest_weights, used_cl_ord_ids
from engine.manager.order_manager import OrderManager
from engine.manager.view import VIEW_PERIOD_SECONDS
from engine.manager.weights import WeightBook

log = structlog.get_logger("engine")
VENUE_LOGON_WAIT_SECONDS = 5.0
GIL_SWITCH_INTERVAL_SECONDS = 0.00005


def build_weights(config: EngineConfig) -> WeightBook:
    """The configured policy over the configured venues, in config order; with ``fill_value_bps``,
    on the objective net of adverse selection."""
    weights = config.weights
    net_value = None
    if weights.fill_value_bps is not None:
        venues = len(config.venues)
        # the engine's fills share one midpoint per sweep: attributed per venue, not averaged
        net_value = NetValue(venues, weights.fill_value_bps, weights.markout_horizon_seconds,
                             SweepAttribution(venues, prior_fills=weights.markout_prior_fills))
    return WeightBook(lambda: make_policy(config.policy, config.venue_market, seed=config.seed),
                      weights.min_symbol_history, net_value)


def restore_weights(weights: WeightBook, config: EngineConfig) -> int:
    """Loads the newest snapshots of the journal; returns how many keys were restored."""
    if not config.journal.exists():
        return 0
    snapshots = latest_weights(config.journal)
    usable = {key: (learned, snapshot) for key, (policy, learned, snapshot) in snapshots.items()
              if policy == weights.policy_name}
    if len(usable) < len(snapshots):
        log.warning("weights of another policy ignored", policy=weights.policy_name,
                    ignored=sorted(set(snapshots) - set(usable)))
    try:
        weights.restore(usable)
    except PolicyError as error:  # e.g. the venue list changed: start learning afresh, say so
        log.warning("weights not restored", error=str(error))
        return 0
    return len(usable)


def _warm_up(weights: WeightBook, config: EngineConfig) -> None:
    """One allocation, one update and one refit on a throwaway policy: numba loads its compiled
    kernels now (about 0.3 s) instead of inside the first trader's first sweep, or at the policy's
    first refit (expgrad's comes after 1,000 sweeps: it stalled that sweep 28 ms with the kernel
    cache warm, longer with it cold)."""
    symbol = config.symbols[0]
    rules = VenueRules.of(config.venue_profiles)
    allocation = weights.allocate(symbol, config.market.order_size_range()[1], rules,
                                  np.ones(len(config.venues), dtype=np.bool_))
    weights.observe(symbol, allocation, np.zeros(len(config.venues)))
    weights.market.refit_now()


class Engine:
    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.journal: Journal | None = None
        self.manager: OrderManager | None = None
        self.gateway = None
        self.metrics = None          # EngineMetrics when config.metrics.port is set
        self.metrics_server = None   # /metrics, /healthz, /readyz
        self.ops_server = None       # `dark-agg ops`
        self._publisher: asyncio.Task | None = None

    def deliver(self, message: object) -> None:
        """The gateway's inbox (called on the loop thread)."""
        self.manager.deliver(message)

    async def start(self) -> None:
        from engine.fix.gateway import FixGateway  # the only import of the FIX edge

        config = self.config
        # Every quickfix call (sendToTarget, building a message) releases the GIL, and every message
        # QuickFIX's thread hands us needs it back: with CPython's default 5 ms switch interval each
        # hand-over can wait that long (a convoy: sendToTarget measured at 140 us a call). Measured
        # sweep latency p50 (make bench): 100 us -> ~4.4 ms, 50 us -> 2.7 ms, 20 us -> 2.3-2.7 ms.
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_SECONDS)
        self.journal = Journal(config.journal, keep_weight_snapshots=config.weights.keep_snapshots)
        weights = build_weights(config)
        restored = restore_weights(weights, config)
        self.gateway = FixGateway(config, self)
        # the journal committed this run's number at open: every id of the run carries it
        ids = IdFactory(run_prefix(self.journal.run, time.time()), self.journal.run)
        if config.metrics.port is not None:
            from engine.observability.metrics import EngineMetrics
            self.metrics = EngineMetrics()
            self.gateway.logon_guard.on_refused = self.metrics.logon_refused
        self.manager = OrderManager(config, self.gateway.venues, self.gateway.traders, self.journal, weights, ids,
                                    metrics=self.metrics)
        used = used_cl_ord_ids(config.journal) if config.journal.exists() else set()
        _warm_up(build_weights(config), config)
        self.manager.start(used)
        inbox = self.gateway.trader_inbox
        if inbox is not None:
            # what traders sent just before a crash, that the journal never got: handled now, committed,
            # and only then dropped from the inbox (QuickFIX has not started: nothing new arrives)
            self.manager.replay_trader_requests(self.gateway.unhandled_trader_requests())
            self.manager.outbox.flush()
            inbox.clear()
            self.manager.outbox.after_commit = lambda: inbox.settle(self.manager.trader_requests_handled)
        self.manager.runner.snapshot_weights(time.time())  # `dark-agg weights` works from the start
        await self.gateway.start(asyncio.get_running_loop())
        self.manager.resend_unsent_reports()  # the trader sessions exist now (QuickFIX stores while they are down)
        missing = await self._wait_for_venues(VENUE_LOGON_WAIT_SECONDS)
        if missing:
            log.warning("venues not logged on yet (they will be used once they are)", venues=missing)
        self.manager.started = True
        self._start_operations(asyncio.get_running_loop())
        log.info("engine started", run=self.journal.run, policy=config.policy, venues=len(config.venues),
                 weights_restored=restored,
                 open_parents=sum(1 for p in self.manager.parents.values() if not p.is_final),
                 trader_port=config.fix.trader.port, journal=str(config.journal))

    def _start_operations(self, loop: asyncio.AbstractEventLoop) -> None:
        """The operator's channel and the metrics endpoint, both on loopback, each on its own thread;
        they read the engine's view (published here every VIEW_PERIOD_SECONDS) and hand commands to
        the loop. A token file others can read stops the start (TokenFileError is an OSError)."""
        config = self.config
        if self.metrics is not None:
            from engine.observability.server import MetricsServer
            self.metrics.publish(self.manager.view())
            self.metrics_server = MetricsServer(config.metrics.host, config.metrics.port, self.metrics)
            self.metrics_server.start()
            self._publisher = loop.create_task(self._publish_forever(), name="view-publisher")
        if config.ops.port is not None:
            from engine.ops.desk import OpsDesk
            from engine.ops.server import OpsServer
            from engine.ops.token import load_or_create_token
            desk = OpsDesk(self.manager, self._publish_view)
            self.ops_server = OpsServer(config.ops.host, config.ops.port, load_or_create_token(config.ops_token_file),
                                        desk.handle, loop,
                                        on_request=self.metrics.ops_command if self.metrics is not None else None)
            self.ops_server.start()
        log.info("operations", ops_port=self.ops_server.port if self.ops_server else None,
                 metrics_port=self.metrics_server.port if self.metrics_server else None)

    def _publish_view(self) -> None:
        if self.metrics is not None:
            self.metrics.publish(self.manager.view())

    async def _publish_forever(self) -> None:
        while True:
            await asyncio.sleep(VIEW_PERIOD_SECONDS)
            try:
                self._publish_view()
            except Exception:  # noqa: BLE001 - a broken view must not stop the engine; /healthz goes stale
                log.exception("engine view not published")

    async def _wait_for_venues(self, timeout: float) -> list[str]:
        """Give the venue sessions a moment to log on, so the first parents see every venue."""
        enabled = [v.name for v in self.config.venues if v.enabled]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            missing = [name for name in enabled if not self.gateway.venues.logged_on(name)]
            if not missing or loop.time() > deadline:
                return missing
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self.ops_server is not None:  # no command may arrive while the manager stops
            self.ops_server.stop()
        if self._publisher is not None:
            self._publisher.cancel()
        if self.manager is not None:
            await self.manager.stop()
        if self.gateway is not None:
            await self.gateway.stop()
        if self.journal is not None:
            try:
                self.journal.flush()
            except (JournalError, RuntimeError, TimeoutError) as error:  # said, not raised: the stop goes on
                log.critical("journal not flushed at stop", error=str(error))
            self.journal.close()
        counters = {}
        if self.manager is not None:
            counters = {**self.manager.counters,
                        **{f"not sent: {what}": count for what, count in self.manager.outbox.not_sent.items()},
                        "journal commits": self.journal.commits if self.journal else 0}
        if self.metrics_server is not None:
            self.metrics_server.stop()
        log.info("engine stopped", counters=counters)
