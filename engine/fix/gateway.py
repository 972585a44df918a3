"""The FIX gateway: one acceptor for the traders, a SocketInitiator for the venues (one per store kind
their session policies use: memory, file), and the bridge
that brings what they receive to the order manager on the asyncio loop.

    gateway = FixGateway(config, inbox)     # builds settings and sessions; raises GatewayError
    await gateway.start()                   # binds the trader port, starts connecting to venues
    ... gateway.venues (VenuePort), gateway.traders (TraderPort) ...
    await gateway.stop()                    # logs everyone out; idempotent

``start`` and ``stop`` run QuickFIX's blocking calls in the loop's default executor, never on the loop
thread and never from a QuickFIX callback (FIX_NOTES.md: stop() from a callback deadlocks). The two
sides stop in parallel (each waits about a second for its logouts). After ``stop`` the
QuickFIX objects are released, which removes their sessions from QuickFIX's process-wide registry, so
a new gateway with the same CompIDs can start in the same process (a restart test).

The trader acceptor is a ThreadedSocketAcceptor (a thread per trader connection), not a
SocketAcceptor: in quickfix 1.16 ``SocketAcceptor.stop()`` closes the server's sockets from the
stopping thread while the acceptor's thread still polls them, and about one stop in four crashed the
process (SIGSEGV in ``SocketServer::close``) under a reconnecting trader. The threaded acceptor hands
its sockets over under a mutex. ``SocketInitiator.stop()`` has no such race (its onStop is empty).

``import quickfix`` resets Ctrl-C to the C default: every module of this package that imports
quickfix calls :func:`restore_sigint` right after (re-exported here).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import quickfix as fix
import structlog

from engine.domain.ids import SessionKey
from engine.config import EngineConfig
from engine.fix import restore_sigint, translate
from engine.fix.bridge import LoopBridge
from engine.fix.connection_log import ConnectionLogFactory, RemoteAddresses
from engine.fix.logon_guard import LogonGuard
from engine.fix.tls_support import REBUILD_HINT, tls_unavailable_reason
from engine.fix.settings import (InitiatorGroup, build_session_settings, check_no_overlap, trader_settings_table,
                                 venue_settings_tables)
from engine.fix.trader_edge import TraderEdge
from engine.fix.trader_inbox import TraderInbox, inbox_entries
from engine.fix.venue_edge import VenueEdge
from engine.manager.ports import Inbox
from engine.security import SecretsError, SecretStore, VenueCredential

restore_sigint()

log = structlog.get_logger("engine.fix.gateway")

__all__ = ["FixGateway", "GatewayError", "restore_sigint"]


class GatewayError(RuntimeError):
    """The FIX sessions could not be set up or started (bad settings, a port in use)."""


class FixGateway:
    def __init__(self, config: EngineConfig, inbox: Inbox) -> None:
        self.config = config
        self._bridge = LoopBridge(inbox)
        trader_table = trader_settings_table(config.fix)
        venue_tables = venue_settings_tables(config.fix, config.venues)
        for venue_table in venue_tables.values():
            check_no_overlap(trader_table, venue_table)
        self.trader_inbox = (TraderInbox(config.fix.store_path / "trader_inbox.jsonl")
                             if config.fix.store_path is not None else None)
        _check_tls_build(config)
        secrets = load_secrets(config)
        self.logon_guard = LogonGuard(config.fix.trader, secrets)
        addresses = RemoteAddresses(self.logon_guard.refused_elsewhere)
        self.traders = TraderEdge(config.fix, self._bridge, self.trader_inbox, self.logon_guard, addresses)
        self.venues = VenueEdge(config.venues, self._bridge, venue_credentials(config, secrets))
        # QuickFIX keeps raw pointers to the settings and factories: they live as long as we do.
        self._keep_alive: list = []
        trader = config.fix.trader
        try:
            self._trader_settings = build_session_settings(trader_table)
            self._trader_store = (fix.FileStoreFactory(self._trader_settings) if trader.store == "file"
                                  else fix.MemoryStoreFactory())
            message_log = Path(config.fix.message_log) / "trader" if config.fix.message_log else None
            self._trader_log = ConnectionLogFactory(addresses, message_log)
            acceptor = fix.SSLSocketAcceptor if trader.tls is not None else fix.ThreadedSocketAcceptor
            self._acceptor = acceptor(self.traders, self._trader_store, self._trader_settings, self._trader_log)
            # one initiator per store kind and TLS settings in use (each has one store factory and one thread)
            self._initiators = [self._venue_initiator(group, table) for group, table in venue_tables.items()]
        except fix.FIXException as error:  # e.g. an unreadable data dictionary, a duplicate session
            raise GatewayError(f"could not set up the FIX sessions: {error}") from None
        self.market_data = self._market_data_session(config)
        self._started = False
        self._stopping: asyncio.Future | None = None

    def _market_data_session(self, config: EngineConfig):
        """The primary's feed, when configured: its midpoints go to the manager like any report."""
        feed = config.market_data
        if feed is None:
            return None
        from engine.domain.messages import MarketMidpoint
        from engine.fix.market_data_session import MarketDataSession

        bridge = self._bridge

        def down(symbols: list[str]) -> None:  # no midpoint is vouched for any more
            for symbol in symbols:
                bridge.put(MarketMidpoint(symbol, None, time.time()))

        return MarketDataSession(
            feed.host, feed.port, feed.sender_comp_id, feed.target_comp_id, config.symbols, config.fix.data_dictionary,
            on_midpoint=lambda symbol, midpoint, at: bridge.put(MarketMidpoint(symbol, midpoint, at)), on_down=down,
            reconnect_seconds=feed.reconnect_seconds, heartbeat_seconds=feed.heartbeat_seconds,
            tls_settings=feed.tls.settings() if feed.tls is not None else None)

    def _venue_initiator(self, group: InitiatorGroup, table):
        settings = build_session_settings(table)
        factory = fix.FileStoreFactory(settings) if group.store == "file" else fix.MemoryStoreFactory()
        log_factory = fix.FileLogFactory(settings) if self.config.fix.message_log else None
        self._keep_alive += [settings, factory, log_factory]  # QuickFIX holds raw pointers to them
        initiator = fix.SSLSocketInitiator if group.tls is not None else fix.SocketInitiator
        return initiator(*_arguments(self.venues, factory, settings, log_factory))

    def unhandled_trader_requests(self) -> list:
        """The domain requests the trader inbox still holds from the last run (some may be in the
        journal already: the manager skips those)."""
        if self.trader_inbox is None:
            return []
        return [translate.trader_message(text, SessionKey(session))
                for session, text in inbox_entries(self.trader_inbox.path)]

    @property
    def trader_address(self) -> str:
        return f"{self.config.fix.trader.host}:{self.config.fix.trader.port}"

    # -- lifecycle (call from the loop) ---------------------------------------------------------

    async def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Bind the trader port and start connecting to the venues; returns without waiting for
        logons (they arrive as TraderSessionChanged / VenueSessionChanged). Raises GatewayError."""
        if self._started or self._stopping is not None:
            raise GatewayError("a FixGateway starts once")
        loop = loop or asyncio.get_running_loop()
        self._bridge.bind(loop)
        await loop.run_in_executor(None, self._start_blocking)
        self._started = True
        log.info("FIX gateway started", trader_port=self.config.fix.trader.port,
                 traders=list(self.traders.sessions), venues=list(self.venues.names))

    def _start_blocking(self) -> None:
        try:
            self._acceptor.start()
        except fix.FIXException as error:
            raise GatewayError(f"could not accept traders on port {self.config.fix.trader.port}: {error}") from None
        for started, initiator in enumerate(self._initiators):
            try:
                initiator.start()
            except fix.FIXException as error:
                for earlier in self._initiators[:started]:
                    earlier.stop()
                self._acceptor.stop()
                raise GatewayError(f"could not start the venue sessions: {error}") from None
        if self.market_data is not None:
            self.market_data.start()  # connects in the background, like the venue sessions

    async def stop(self) -> None:
        """Log out every session and stop QuickFIX. Idempotent; concurrent calls wait for the same
        stop. The last session events are delivered before it returns when the loop is running."""
        if self._stopping is None:
            self._stopping = asyncio.ensure_future(self._stop())
        await asyncio.shield(self._stopping)

    async def _stop(self) -> None:
        if not self._started:
            self._release()
            return
        loop = asyncio.get_running_loop()
        # Venues first: a fill can arrive until their sessions are down, and the trader must hear of
        # it while still logged on (a trader resetting sequence numbers at its next logon would
        # never get a report stored while it was away). Each stop waits about a second for logouts.
        stopping = [(initiator, "venue initiator") for initiator in self._initiators]
        if self.market_data is not None:
            stopping.append((self.market_data, "market data session"))
        if stopping:
            await asyncio.gather(*(loop.run_in_executor(None, _stop_quietly, engine, what)
                                   for engine, what in stopping))
        await asyncio.sleep(0)  # the bridge's last drain: the venues' last reports reach the manager
        await loop.run_in_executor(None, _stop_quietly, self._acceptor, "trader acceptor")
        self._release()
        await asyncio.sleep(0)  # and the traders' logouts
        log.info("FIX gateway stopped", **self.counters())

    def _release(self) -> None:
        # Dropping the acceptor/initiator deletes their sessions, which unregisters the SessionIDs.
        self._acceptor = None
        self._initiators = []
        self.market_data = None
        if self.trader_inbox is not None:
            self.trader_inbox.close()

    # -- observability ----------------------------------------------------------------------------

    def counters(self) -> dict[str, int]:
        traders, venues, bridge = self.traders, self.venues, self._bridge
        return {"trader_messages_in": traders.counts.received, "trader_messages_out": traders.counts.sent,
                "venue_messages_in": venues.counts.received, "venue_messages_out": venues.counts.sent,
                "send_failures": traders.counts.send_failures + venues.counts.send_failures,
                "callback_errors": traders.counts.callback_errors + venues.counts.callback_errors,
                "venue_rejects": venues.rejects, "orders_not_resent": venues.orders_not_resent,
                "delivered": bridge.delivered, "wakeups": bridge.wakeups,
                "dropped": bridge.dropped, "delivery_errors": bridge.delivery_errors}


def _check_tls_build(config: EngineConfig) -> None:
    uses_tls = config.fix.trader.tls is not None or any(v.tls is not None and v.enabled for v in config.venues)
    reason = tls_unavailable_reason() if uses_tls else None
    if reason is not None:
        raise GatewayError(f"the config asks for TLS sessions, but {reason}; {REBUILD_HINT}")


def load_secrets(config: EngineConfig):
    """The secrets store when a session needs one (else None). Raises GatewayError: an unsafe or
    unreadable secrets file stops the start, and so does a venue whose credentials it lacks."""
    wanted = config.fix.trader.credentials or any(v.credentials and v.enabled for v in config.venues)
    if not wanted:
        return None
    try:
        return SecretStore.load(config.fix.secrets_file)
    except SecretsError as error:
        raise GatewayError(f"could not read the FIX logon secrets: {error}") from None


def venue_credentials(config: EngineConfig, secrets) -> dict[str, VenueCredential]:
    credentials = {}
    for venue in config.venues:
        if venue.credentials and venue.enabled:
            credential = secrets.venue(venue.name)
            if credential is None:
                raise GatewayError(f"venue {venue.name} has credentials: true but the secrets store has no "
                                   f"entry for it (a venues: entry in fix.secrets_file or DARKAGG_VENUE_{venue.name})")
            credentials[venue.name] = credential
    return credentials


def _arguments(application, store, settings, log_factory) -> list:
    return [application, store, settings] + ([log_factory] if log_factory is not None else [])


def _stop_quietly(engine, what: str) -> None:
    try:
        engine.stop()
    except Exception:  # noqa: BLE001 - stopping must finish whatever QuickFIX says
        log.exception("QuickFIX stop failed", side=what)
