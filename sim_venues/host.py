"""The host: K simulated venues in one process, behind one QuickFIX acceptor.

Builds every venue from a :class:`~sim_venues.config.HostConfig` (liquidity and informed flow seeded
from (seed, venue, symbol)) around one shared market (:mod:`sim_venues.market`: a midpoint per
symbol, seeded from (seed, symbol), which every venue fills at; it starts at the reference price at
every start), and the optional market-data session that publishes it (:mod:`sim_venues.market_data`,
its timer on the scheduler thread); generates the session settings, starts the acceptor, and offers
what tests and the command need: ports, CompIDs, live fault changes, and a clean stop. With
``store: file`` each venue's order memory is replayed from its order file before the acceptor starts
(:mod:`sim_venues.order_store`), and resting orders are canceled on restart. One acceptor
serves all sessions: ``single_thread`` (SocketAcceptor, one thread for all venues, the fastest here
since the GIL serialises Python callbacks anyway) or ``thread_per_connection``
(ThreadedSocketAcceptor). Each venue is only ever touched by the thread serving its session.

With ``tls`` the acceptor is QuickFIX's SSLSocketAcceptor (single-threaded; 1.16 has no other).
Whatever session security needs (a TLS build of quickfix, the clients' secrets) is checked in
:meth:`VenueHost.start` before any port is bound, so a host that cannot check what its config asks
for never accepts anyone; ``dark-agg venues`` reports the error and exits.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from dataclasses import dataclass
from typing import Mapping

import quickfix as fix

# `import quickfix` resets SIGINT to the C default (Ctrl-C would kill without cleanup); restore
# Python's handler when we are the main thread of the process.
if signal.getsignal(signal.SIGINT) in (signal.SIG_DFL, None):
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    except ValueError:  # not the main thread: the embedding program owns signals
        pass

from engine.fix.tls_support import REBUILD_HINT, tls_unavailable_reason
from engine.process.logs import write_line
from sim_venues.application import VenueApplication, VenueSession
from sim_venues.host_config import FaultConfig, HostConfig, VenueConfig
from sim_venues.faults import FaultState
from sim_venues.ground_truth import GroundTruthLog
from sim_venues.logon_check import VenueSecurityError, load_client_secrets
from sim_venues.liquidity import BookLiquidity, IidLiquidity, LiquiditySource, venue_rng, warm_up
from sim_venues.matching import VenueRules
from sim_venues.order_store import OrderFile, attach_order_file
from sim_venues.market import Market, build_market
from sim_venues.market_data import Book, MarketDataFeed
from sim_venues.pricing import InformedFlow, VenuePrice
from sim_venues.scheduler import Scheduler
from sim_venues.settings import BEGIN_STRING, build_session_settings
from sim_venues.venue import Venue
from sim_venues.host_config import TIME_IN_FORCE_CODES


@dataclass(frozen=True)
class Listing:
    venue: str
    port: int
    sender_comp_id: str  # the venue's CompID
    target_comp_id: str  # the CompID the venue expects from its client
    mode: str
    report_style: str


class VenueHost:
    def __init__(self, config: HostConfig, *, log_errors=lambda line: write_line(line, sys.stderr),
                 environ: Mapping[str, str] = os.environ) -> None:
        self.config = config
        self._environ = environ  # where DARKAGG_TRADER_<COMPID> credentials may come from (tests pass their own)
        self.truth = GroundTruthLog(config.ground_truth_log)
        self.scheduler = Scheduler(on_error=lambda error: log_errors(f"scheduler action failed: {error!r}"))
        self.market: Market = build_market(config)
        self.sessions = {v.name: self._build_session(v) for v in config.venues}
        self.market_data = self._build_market_data()
        self.application = VenueApplication(list(self.sessions.values()), self.scheduler, self.truth, log_errors,
                                            market_data=self.market_data)
        self._settings = build_session_settings(config)
        self._store = (fix.FileStoreFactory(self._settings) if config.store == "file"
                       else fix.MemoryStoreFactory())
        self._log = fix.FileLogFactory(self._settings) if config.log_fix_messages is not None else None
        acceptor_class = _acceptor_class(config)
        arguments = [self.application, self._store, self._settings] + ([self._log] if self._log else [])
        self._acceptor = acceptor_class(*arguments)
        self._started = False
        self._order_files: list[OrderFile] = []

    def _build_session(self, venue: VenueConfig) -> VenueSession:
        seed = self.config.seed
        liquidity: dict[str, LiquiditySource] = {}
        prices: dict[str, VenuePrice] = {}
        for symbol in self.config.symbols:
            profile = self.config.profile_of(venue.name, symbol)
            if venue.mode == "book":
                liquidity[symbol] = BookLiquidity(venue.book)
            else:
                liquidity[symbol] = IidLiquidity(profile, venue_rng(seed, venue.name, symbol, "liquidity"))
            informed = (InformedFlow(profile.toxicity, venue_rng(seed, venue.name, symbol, "informed"))
                        if profile.toxicity is not None else None)
            prices[symbol] = VenuePrice(self.market, symbol, informed)
        rules = VenueRules.of(self.config.profile_of(venue.name), frozenset(TIME_IN_FORCE_CODES[t] for t in venue.time_in_force))
        core = Venue(venue.name, rules, liquidity, prices, report_style=venue.report_style, ack_new=venue.ack_new,
                     history_limit=self.config.history_limit)
        return VenueSession(venue=core, session_id=fix.SessionID(BEGIN_STRING, venue.sender_comp_id, venue.target_comp_id),
                            latency=venue.latency, latency_rng=venue_rng(seed, venue.name, "", "latency"),
                            faults=FaultState(venue.faults), require_credentials=venue.require_credentials)

    def _build_market_data(self) -> MarketDataFeed | None:
        md = self.config.market_data
        if md is None:
            return None
        books = {symbol: Book(spec.tick, spec.spread_ticks, spec.quote_size, self.market.digits(symbol))
                 for symbol, spec in self.config.symbols.items()}
        return MarketDataFeed(self.market, books, fix.SessionID(BEGIN_STRING, md.sender_comp_id, md.target_comp_id),
                              str(self.config.data_dictionary.resolve()), self.scheduler,
                              require_credentials=md.require_credentials)

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> None:
        """Binds every port before returning (QuickFIX opens the sockets in start())."""
        if self._acceptor is None:
            raise RuntimeError("this VenueHost was stopped; make a new one")
        self._check_security()
        warm_up()
        if self.config.store == "file" and not self._order_files:
            self._restore_orders()
        self._acceptor.start()
        self._started = True
        if self.market_data is not None:
            self.market_data.start()

    def _check_security(self) -> None:
        """VenueSecurityError unless every session can be secured as configured."""
        if self.config.tls is not None:
            reason = tls_unavailable_reason()
            if reason is not None:
                raise VenueSecurityError(f"the venue config asks for tls, but {reason}; {REBUILD_HINT}")
        self.application.logon_check.use_secrets(load_client_secrets(self.config, self._environ))

    def _restore_orders(self) -> None:
        for name, session in self.sessions.items():
            attached = attach_order_file(session.venue, self.config.store_path)
            self._order_files.append(attached.file)
            for record in attached.canceled_on_restart:  # after the order file: write-ahead as everywhere
                self.truth.record({"event": "canceled_on_restart", "venue": name, "cl_ord_id": record["cl_ord_id"],
                                   "order_id": record["order_id"], "symbol": record["symbol"], "side": record["side"],
                                   "quantity": record["quantity"], "cum_qty": record["cum_qty"],
                                   "avg_px": record["avg_px"]})

    def stop(self) -> None:
        """Slow (QuickFIX logs sessions out and joins its thread): never call it from a callback."""
        if self.market_data is not None:
            self.market_data.stop()
        if self._started:
            self._started = False
            self._acceptor.stop()
        # Dropping the acceptor deletes QuickFIX's sessions, whose SessionIDs are registered per
        # process: a new host on the same CompIDs (a restart in a test) can then be built.
        self._acceptor = None
        self.scheduler.stop()
        for order_file in self._order_files:
            order_file.close()
        self.truth.close()

    def __enter__(self) -> "VenueHost":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what tests and the command use -----------------------------------------------------------

    def listings(self) -> list[Listing]:
        return [Listing(v.name, v.port, v.sender_comp_id, v.target_comp_id, v.mode, v.report_style)
                for v in self.config.venues]

    def midpoint(self, symbol: str) -> float:
        """The shared midpoint now (what every venue fills at and market data shows)."""
        return self.market.quote(symbol)[0]

    def set_faults(self, venue: str, faults: FaultConfig) -> None:
        """Change a venue's faults while it runs (counters start again from zero)."""
        self.application.set_faults(self.sessions[venue], faults)

    def is_logged_on(self, venue: str) -> bool:
        return self.sessions[venue].logged_on

    def wait_logged_on(self, venue: str, timeout: float = 10.0) -> bool:
        return self.sessions[venue].logged_on_event.wait(timeout)

    def errors(self) -> int:
        return sum(s.errors for s in self.sessions.values())

    def orders(self) -> int:
        return sum(s.orders for s in self.sessions.values())


def _acceptor_class(config: HostConfig) -> type:
    if config.tls is not None:
        return fix.SSLSocketAcceptor  # the config allows only single_thread with tls
    return fix.SocketAcceptor if config.acceptor == "single_thread" else fix.ThreadedSocketAcceptor


def wait_until(predicate, timeout: float, interval: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
