"""The engine's market-data session: one FIX 4.4 initiator to the primary market's feed.

    feed = MarketDataSession(config.market_data, symbols, on_midpoint=handler)
    feed.start()                     # connects, and reconnects every reconnect_seconds
    feed.midpoint("VOD.L")           # (midpoint, received at) or None
    feed.stale_symbols(time.time())  # symbols with no update within stale_seconds (or none yet)
    feed.stop()

At each logon it subscribes to every symbol (snapshot + updates, 263=1) and forgets what it knew: a
midpoint from before a disconnect may be old by any amount. ``on_midpoint(symbol, midpoint, at)`` is
called on QuickFIX's thread for every change (keep it short: the engine hands it to its loop).
A quiet feed is not a stale one: the primary publishes only changes, so the last midpoint stays in
force while the session is alive. Stale is therefore: logged out, nothing heard from the feed (not
even a heartbeat) for ``stale_seconds`` (keep it above the heartbeat interval), or no midpoint for the
symbol since the last logon.
"""

from __future__ import annotations

import itertools
import threading
import time
from pathlib import Path
from typing import Callable, Iterable

import quickfix as fix
import structlog

from engine.fix import restore_sigint
from engine.fix.market_data_messages import REQUEST_REJECT, QuoteBook, market_data_request
from engine.fix.settings import BEGIN_STRING, SettingsTable, build_session_settings
from engine.fix.thread_state import keep_thread_state
from engine.fix.translate import fields_of

restore_sigint()

log = structlog.get_logger("engine.fix.market_data")

MidpointSink = Callable[[str, float, float], None]


class MarketDataSession(fix.Application):
    def __init__(self, host: str, port: int, sender_comp_id: str, target_comp_id: str, symbols: Iterable[str],
                 data_dictionary: Path, *, on_midpoint: MidpointSink | None = None,
                 on_down: Callable[[list[str]], None] | None = None, stale_seconds: float = 5.0,
                 reconnect_seconds: int = 1, heartbeat_seconds: int = 30,
                 tls_settings: dict[str, str] | None = None) -> None:
        super().__init__()
        self.symbols = tuple(symbols)
        self.stale_seconds = stale_seconds
        self._on_midpoint = on_midpoint
        self._on_down = on_down  # called with every symbol when the session logs out
        self._book = QuoteBook()
        self._latest: dict[str, tuple[float, float]] = {}
        self._last_heard = 0.0  # time.time() of the newest message of any kind from the feed
        self._lock = threading.Lock()
        self._logged_on = threading.Event()
        self._request_ids = (f"MD-{number}" for number in itertools.count(1))
        self.logons = 0
        self.rejects: list[str] = []  # texts of MarketDataRequestRejects (an unknown symbol)
        self.errors = 0
        table = SettingsTable(
            {"ConnectionType": "initiator", "SocketConnectHost": host, "SocketConnectPort": str(port),
             "HeartBtInt": str(heartbeat_seconds), "ReconnectInterval": str(reconnect_seconds),
             "SocketNodelay": "Y", "NonStopSession": "Y", "UseDataDictionary": "Y",
             "DataDictionary": str(Path(data_dictionary).resolve()), "CheckLatency": "N",
             "ResetOnLogon": "Y", "ResetOnLogout": "Y", "ResetOnDisconnect": "Y", **(tls_settings or {})},
            [((BEGIN_STRING, sender_comp_id, target_comp_id), {})])
        self._settings = build_session_settings(table)
        self._store = fix.MemoryStoreFactory()  # a feed is never recovered: the next snapshot replaces it
        self._session_id = fix.SessionID(BEGIN_STRING, sender_comp_id, target_comp_id)
        # A request parsed without the dictionary has its fields sorted by tag, which breaks its
        # repeating groups (the venue answers 35=3 371=55): parse it with the dictionary.
        self._dictionary = fix.DataDictionary(str(Path(data_dictionary).resolve()))
        initiator = fix.SSLSocketInitiator if tls_settings else fix.SocketInitiator  # TLS: InitiatorTlsConfig.settings()
        self._initiator = initiator(self, self._store, self._settings)
        self._started = False

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> "MarketDataSession":
        if self._initiator is None:
            raise RuntimeError("this MarketDataSession was stopped; make a new one")
        if not self._started:
            self._initiator.start()
            self._started = True
        return self

    def stop(self) -> None:
        """Logs out and stops; never from a callback. Idempotent."""
        if self._initiator is None:
            return
        if self._started:
            self._started = False
            self._initiator.stop()
        self._initiator = None

    @property
    def logged_on(self) -> bool:
        return self._logged_on.is_set()

    def wait_logged_on(self, timeout: float = 10.0) -> bool:
        return self._logged_on.wait(timeout)

    # -- what the engine reads --------------------------------------------------------------------

    def midpoint(self, symbol: str) -> tuple[float, float] | None:
        """(newest midpoint, when it arrived) while logged on; None otherwise."""
        with self._lock:
            return self._latest.get(symbol) if self._logged_on.is_set() else None

    def stale_symbols(self, now: float) -> list[str]:
        """Symbols whose midpoint cannot be trusted now (every one while the feed is down or silent)."""
        with self._lock:
            if not self._logged_on.is_set() or now - self._last_heard > self.stale_seconds:
                return list(self.symbols)
            return [symbol for symbol in self.symbols if symbol not in self._latest]

    # -- QuickFIX callbacks -------------------------------------------------------------------------

    def onCreate(self, sessionID): pass
    def toAdmin(self, message, sessionID): pass
    def fromAdmin(self, message, sessionID):
        self._last_heard = time.time()  # a heartbeat says the feed is alive, and its midpoints still in force
    def toApp(self, message, sessionID): pass

    def onLogon(self, sessionID):
        keep_thread_state()
        with self._lock:
            self._book.forget()
            self._latest.clear()
            self._last_heard = time.time()
        self.logons += 1
        self._logged_on.set()
        request = market_data_request(next(self._request_ids), self.symbols)
        if not fix.Session.sendToTarget(fix.Message(request, self._dictionary, False), self._session_id):
            log.warning("market data request not sent", symbols=list(self.symbols))
        log.info("market data session", logged_on=True, symbols=list(self.symbols))

    def onLogout(self, sessionID):
        keep_thread_state()
        self._logged_on.clear()
        log.warning("market data session", logged_on=False)
        if self._on_down is not None:
            try:
                self._on_down(list(self.symbols))
            except Exception:  # noqa: BLE001 - nothing may kill QuickFIX's thread
                self.errors += 1
                log.exception("market data down handler failed")

    def fromApp(self, message, sessionID):
        try:
            keep_thread_state()
            text = message.toString()
            received_at = self._last_heard = time.time()
            with self._lock:
                changed = self._book.apply(text)
                for symbol, midpoint in changed.items():
                    self._latest[symbol] = (round(midpoint, 10), received_at)  # (bid + offer) / 2 in floats
            if not changed and f"\x0135={REQUEST_REJECT}\x01" in text:
                reason = fields_of(text).get("58", "")
                self.rejects.append(reason)
                log.error("market data request rejected", text=reason)
            if self._on_midpoint is not None:
                for symbol, midpoint in changed.items():
                    self._on_midpoint(symbol, round(midpoint, 10), received_at)
        except Exception:  # noqa: BLE001 - nothing may kill QuickFIX's thread
            self.errors += 1
            log.exception("market data message failed")
