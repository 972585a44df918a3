"""A FIX 4.4 trader: one initiator session to the aggregator, for ``dark-agg order``, the demo, the
benchmark and the tests.

    client = TraderClient("127.0.0.1", 9200, "TRADER1", "DARKAGG")
    client.start()
    if client.wait_logged_on(10):
        client.send_order("o1", "buy", "VOD.L", 5000, limit=25.10, tif="DAY")
        final = client.wait_done("o1", timeout=30)   # a TraderReport with OrdStatus 2, 4, 8 or C
    client.stop()

Every application message received is parsed inside the callback into a plain record (the borrowed
QuickFIX message is never kept): ExecutionReports into :class:`TraderReport`, anything else into
:class:`ClientMessage`. Records are indexed by ClOrdID *and* OrigClOrdID, so the Canceled report of
a cancel request is found under the order's id too. Waiting is thread-safe (one Condition) and
cheap at thousands of reports per second: completion is tracked as reports arrive, so
``wait_done``/``wait_all_done`` never rescan the history, and they are woken by final reports only.
``on_report`` (optional) is called on QuickFIX's thread for each report: keep it short; its
exceptions are caught and counted.

Reports are deduplicated by ExecID (17): one already received (a QuickFIX resend with PossDupFlag
43=Y, or an engine re-sending a report with PossResend 97=Y after its own restart) is only counted
in ``duplicates``; it is not in ``reports``, not passed to ``on_report`` and not in ``report_count``.
:meth:`TraderClient.cum_qty` is the trader's own view of an order's CumQty.

Default: memory store with ResetOnLogon=Y, every logon sends ResetSeqNumFlag=Y (141=Y) and starts at
1. ``store_path``: a FileStore there and no resets, so after a dropped connection or a restart of the
engine (whose trader acceptor keeps a FileStore without resets, ``trader_store: file``) the
sequence gap is seen at logon and QuickFIX's ResendRequest recovers every report the trader missed.

A secured trader port (``fix.trader.tls``, ``credentials: true``): ``tls`` (an
:class:`~engine.config.security.InitiatorTlsConfig`) connects over TLS 1.2/1.3, the engine's
certificate checked against ``tls.ca`` and ours presented when given; ``username`` and
``password`` go as Username (553) and Password (554) on every Logon. The password is kept only for
that: it is in no repr, record or log. A refused logon is answered with a Logout whose text
:attr:`TraderClient.last_logout_text` keeps; ``wait_logged_on(stop_at_refusal=True)`` returns then.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, TypeVar

import quickfix as fix

from engine.domain.orders import TimeInForce
from engine.fix import restore_sigint
from engine.config.engine import DEFAULT_DATA_DICTIONARY
from engine.config.security import InitiatorTlsConfig
from engine.fix.settings import BEGIN_STRING, SettingsTable, build_session_settings
from engine.fix.thread_state import keep_thread_state
from engine.fix.translate import (SOH, TIME_IN_FORCE_CODES, build_message, format_price, format_qty,
                                  utc_timestamp)
# The report records and their names live in trader_reports (pure); re-exported for existing imports.
from engine.fix.trader_reports import (DONE_STATUSES, EXEC_TYPE_NAMES, ORD_STATUS_NAMES, ClientMessage, TraderReport,
                                       describe, parse_message, parse_report)

__all__ = ["DONE_STATUSES", "EXEC_TYPE_NAMES", "ORD_STATUS_NAMES", "SIDE_WORDS", "ClientMessage", "TraderClient",
           "TraderReport", "describe", "parse_report"]

restore_sigint()

T = TypeVar("T")
SIDE_WORDS = {"buy": "1", "sell": "2", "1": "1", "2": "2"}
USERNAME_TAG, PASSWORD_TAG = 553, 554


@dataclass(frozen=True, slots=True)
class _LogonCredentials:
    username: str
    password: str = field(repr=False)  # never in a repr, a log line or a traceback's locals


class _Application(fix.Application):
    def __init__(self, client: "TraderClient") -> None:
        super().__init__()
        self._client = client

    def onCreate(self, sessionID): pass
    def toApp(self, message, sessionID): pass

    def toAdmin(self, message, sessionID):
        credentials = self._client._credentials
        if credentials is None:
            return
        try:
            keep_thread_state()
            if message.getHeader().getField(35) == "A":  # every Logon, reconnects included
                message.setField(USERNAME_TAG, credentials.username)
                message.setField(PASSWORD_TAG, credentials.password)
        except Exception:  # noqa: BLE001 - the Logon goes without them and is refused: counted, not raised
            self._client.errors += 1

    def onLogon(self, sessionID):
        try:
            self._client._session_changed(True)
        except Exception:  # noqa: BLE001 - never let an exception end QuickFIX's thread
            self._client.errors += 1

    def onLogout(self, sessionID):
        try:
            self._client._session_changed(False)
        except Exception:  # noqa: BLE001
            self._client.errors += 1

    def fromAdmin(self, message, sessionID):
        try:
            keep_thread_state()
            text = message.toString()
            if "\x0135=3\x01" in text or "\x0135=5\x01" in text:
                self._client._admin(text)
        except Exception:  # noqa: BLE001
            self._client.errors += 1

    def fromApp(self, message, sessionID):
        try:
            keep_thread_state()
            self._client._received(message.toString())
        except Exception:  # noqa: BLE001
            self._client.errors += 1


class TraderClient:
    def __init__(self, host: str, port: int, sender_comp_id: str, target_comp_id: str,
                 data_dictionary: Path | str = DEFAULT_DATA_DICTIONARY, *, heartbeat_seconds: int = 30,
                 reconnect_seconds: int = 1, on_report: Callable[[TraderReport], None] | None = None,
                 keep_reports: bool = True, store_path: Path | str | None = None,
                 tls: InitiatorTlsConfig | None = None, username: str | None = None,
                 password: str | None = None) -> None:
        if (username is None) != (password is None):
            raise ValueError("username and password go together: give both or neither")
        self.address = f"{host}:{port}"
        self.tls = tls
        self._credentials = None if username is None else _LogonCredentials(username, password)
        self.session_id = fix.SessionID(BEGIN_STRING, sender_comp_id, target_comp_id)
        self.on_report = on_report
        self.keep_reports = keep_reports
        self._condition = threading.Condition()
        self._any_waiters = 0   # threads in wait_for: woken by every message
        self._done_waiters = 0  # threads in wait_done / wait_all_done: woken by final reports only
        self._logged_on = False
        self._last_logout_text: str | None = None
        self._refused_since_logon = 0  # Logouts that answered our Logon (received while not logged on)
        self._by_id: dict[str, list[TraderReport]] = {}
        self._done: dict[str, TraderReport] = {}
        self._exec_ids: set[str] = set()  # every ExecID received: what makes a report a duplicate
        self._cum_qty: dict[str, float] = {}  # largest CumQty by ClOrdID and OrigClOrdID, even without keep_reports
        self.reports: list[TraderReport] = []       # every report in arrival order (when keep_reports)
        self.messages: list[ClientMessage] = []     # every other application message
        self.session_messages: list[ClientMessage] = []  # session Rejects (3) and Logouts (5) received
        self.report_count = 0
        self.duplicates = 0  # reports ignored because their ExecID had been received already
        self.logons = 0
        self.errors = 0  # exceptions caught in callbacks (including on_report's)
        table = SettingsTable(
            {"ConnectionType": "initiator", "SocketConnectHost": host, "SocketConnectPort": str(port),
             "HeartBtInt": str(heartbeat_seconds), "ReconnectInterval": str(reconnect_seconds),
             "SocketNodelay": "Y", "NonStopSession": "Y", "UseDataDictionary": "Y",
             "DataDictionary": str(Path(data_dictionary).resolve()), "CheckLatency": "N",
             **_store_settings(store_path), **(tls.settings() if tls is not None else {})},
            [((BEGIN_STRING, sender_comp_id, target_comp_id), {})])
        self._settings = build_session_settings(table)
        self._store = fix.MemoryStoreFactory() if store_path is None else fix.FileStoreFactory(self._settings)
        self._application = _Application(self)
        # QuickFIX's SSL initiator reads the TLS settings from the default section, as the engine's do
        initiator = fix.SocketInitiator if tls is None else fix.SSLSocketInitiator
        self._initiator = initiator(self._application, self._store, self._settings)
        self._started = False

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self) -> "TraderClient":
        """Starts connecting (returns at once; see :meth:`wait_logged_on`). A client starts once."""
        if self._initiator is None:
            raise RuntimeError("this TraderClient was stopped; make a new one")
        if not self._started:
            self._initiator.start()
            self._started = True
        return self

    def stop(self) -> None:
        """Logs out and stops (about 1-2 s). Never call it from ``on_report``. Releases the session,
        so another client with the same CompIDs can log on from this process. Idempotent."""
        if self._initiator is None:
            return
        if self._started:
            self._started = False
            self._initiator.stop()
        self._initiator = None  # deletes QuickFIX's session: its SessionID is free again

    def __enter__(self) -> "TraderClient":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def logged_on(self) -> bool:
        return self._logged_on

    @property
    def last_logout_text(self) -> str | None:
        """Text (58) of the last Logout received (None before any, or when it had none): after a
        refused logon, the engine's reason ("Rejected Logon Attempt: logon refused")."""
        with self._condition:
            return self._last_logout_text

    def wait_logged_on(self, timeout: float = 10.0, *, stop_at_refusal: bool = False) -> bool:
        """True once logged on. ``stop_at_refusal``: False as soon as a Logout answers our Logon
        (see :attr:`last_logout_text`), rather than waiting while QuickFIX reconnects and is
        refused again, each refusal counting towards the engine's lockout of this CompID."""
        with self._condition:
            # a refusal that came before this wait began counts too: it answered the same Logon
            self._condition.wait_for(lambda: self._logged_on or (stop_at_refusal and self._refused_since_logon > 0),
                                     timeout)
            return self._logged_on

    # -- sending (any thread) -------------------------------------------------------------------------

    def send_order(self, cl_ord_id: str, side: str, symbol: str, quantity: float, limit: float | None = None,
                   tif: str = "DAY", expire_at: float | None = None, min_qty: float | None = None) -> bool:
        """NewOrderSingle: market (40=1) or limit (40=2, 44=limit); tif DAY, IOC or GTD (126 from
        ``expire_at``, epoch seconds)."""
        return self.raw(build_message("D", [
            (11, cl_ord_id), (54, _side(side)), (55, symbol), (38, format_qty(quantity)),
            (40, "1" if limit is None else "2"), (44, None if limit is None else format_price(limit)),
            (59, TIME_IN_FORCE_CODES[TimeInForce[tif.upper()]]),
            (126, None if expire_at is None else utc_timestamp(expire_at)),
            (110, None if min_qty is None else format_qty(min_qty)), (60, utc_timestamp())]))

    def cancel(self, cl_ord_id: str, orig_cl_ord_id: str, side: str, symbol: str, quantity: float) -> bool:
        return self.raw(build_message("F", [(11, cl_ord_id), (41, orig_cl_ord_id), (54, _side(side)), (55, symbol),
                                            (38, format_qty(quantity)), (60, utc_timestamp())]))

    def replace(self, cl_ord_id: str, orig_cl_ord_id: str, side: str, symbol: str, quantity: float,
                limit: float | None = None) -> bool:
        """OrderCancelReplaceRequest with the new total quantity (the engine accepts reductions)."""
        return self.raw(build_message("G", [
            (11, cl_ord_id), (41, orig_cl_ord_id), (54, _side(side)), (55, symbol), (38, format_qty(quantity)),
            (40, "1" if limit is None else "2"), (44, None if limit is None else format_price(limit)),
            (60, utc_timestamp())]))

    def status(self, cl_ord_id: str, side: str, symbol: str) -> bool:
        return self.raw(build_message("H", [(11, cl_ord_id), (54, _side(side)), (55, symbol)]))

    def raw(self, message: str) -> bool:
        """Send any application message given as tag=value text, fields separated by SOH or ``|``,
        e.g. ``"35=q|11=m1|530=7|60=20260101-10:00:00"``; the header and trailer are completed."""
        text = message.replace("|", SOH).strip(SOH)
        if not text.startswith("8="):
            text = "8=" + BEGIN_STRING + SOH + "9=0" + SOH + text
        if SOH + "10=" not in text:
            text += SOH + "10=000"
        try:
            return bool(fix.Session.sendToTarget(fix.Message(text + SOH, False), self.session_id))
        except fix.SessionNotFound:
            return False

    # -- observing (any thread) ---------------------------------------------------------------------

    def wait_for(self, predicate: Callable[[], T], timeout: float = 10.0) -> T:
        """Wait until ``predicate()`` is truthy (re-checked after every received message); return its
        value, or raise TimeoutError."""
        return self._wait(predicate, timeout, only_when_done=False)

    def _wait(self, predicate: Callable[[], T], timeout: float, *, only_when_done: bool) -> T:
        # A waiter that can only be satisfied by a final report is woken by final reports alone:
        # waking the waiting thread on each of a parent's reports cost a thread hand-off per report,
        # CPU taken from the engine and the venues when they share the machine (bench, demo).
        with self._condition:
            if only_when_done:
                self._done_waiters += 1
            else:
                self._any_waiters += 1
            try:
                value = self._condition.wait_for(predicate, timeout)
            finally:
                if only_when_done:
                    self._done_waiters -= 1
                else:
                    self._any_waiters -= 1
        if not value:
            raise TimeoutError(f"condition not met within {timeout} s")
        return value

    def done(self, cl_ord_id: str) -> TraderReport | None:
        with self._condition:
            return self._done.get(cl_ord_id)

    def wait_done(self, cl_ord_id: str, timeout: float = 10.0) -> TraderReport:
        """The first final report (OrdStatus 2, 4, 8 or C) whose ClOrdID or OrigClOrdID is ``cl_ord_id``."""
        return self._wait(lambda: self._done.get(cl_ord_id), timeout, only_when_done=True)

    def wait_all_done(self, cl_ord_ids: Iterable[str], timeout: float = 60.0) -> list[TraderReport]:
        ids = list(cl_ord_ids)
        position = 0  # ids before it are done: each id is looked up until done, never rescanned

        def all_done() -> bool:
            nonlocal position
            while position < len(ids) and ids[position] in self._done:
                position += 1
            return position == len(ids)

        self._wait(all_done, timeout, only_when_done=True)
        with self._condition:
            return [self._done[i] for i in ids]

    def reports_for(self, cl_ord_id: str) -> list[TraderReport]:
        """Reports whose ClOrdID or OrigClOrdID is ``cl_ord_id``, in arrival order."""
        with self._condition:
            return list(self._by_id.get(cl_ord_id, ()))

    def cum_qty(self, cl_ord_id: str) -> float:
        """The largest CumQty among the reports whose ClOrdID or OrigClOrdID is ``cl_ord_id`` (0 if none)."""
        with self._condition:
            return self._cum_qty.get(cl_ord_id, 0.0)

    def messages_of_type(self, msg_type: str) -> list[ClientMessage]:
        with self._condition:
            return [m for m in self.messages if m.msg_type == msg_type]

    # -- callbacks (QuickFIX's thread) --------------------------------------------------------------

    def _session_changed(self, up: bool) -> None:
        with self._condition:
            self._logged_on = up
            if up:
                self.logons += 1
                self._refused_since_logon = 0
            self._condition.notify_all()

    def _admin(self, text: str) -> None:
        message = parse_message(text, time.time())
        with self._condition:
            self.session_messages.append(message)
            if message.msg_type == "5":
                self._last_logout_text = message.fields.get(58)
                if not self._logged_on:
                    self._refused_since_logon += 1
            self._condition.notify_all()

    def _received(self, text: str) -> None:
        now = time.time()
        if "\x0135=8\x01" not in text:
            message = parse_message(text, now)
            with self._condition:
                self.messages.append(message)
                self._condition.notify_all()
            return
        report = parse_report(text, now)
        with self._condition:
            if report.exec_id:
                if report.exec_id in self._exec_ids:
                    self.duplicates += 1
                    if self._any_waiters:
                        self._condition.notify_all()
                    return
                self._exec_ids.add(report.exec_id)
            self.report_count += 1
            ids = (report.cl_ord_id,) if not report.orig_cl_ord_id else (report.cl_ord_id, report.orig_cl_ord_id)
            for key in ids:
                if report.cum_qty > self._cum_qty.get(key, 0.0):
                    self._cum_qty[key] = report.cum_qty
            if self.keep_reports:
                self.reports.append(report)
                for key in ids:
                    self._by_id.setdefault(key, []).append(report)
            if report.is_done:
                for key in ids:
                    self._done.setdefault(key, report)
            if self._any_waiters or (report.is_done and self._done_waiters):
                self._condition.notify_all()
        if self.on_report is not None:
            try:
                self.on_report(report)
            except Exception:  # noqa: BLE001 - the caller's code must not end QuickFIX's thread
                self.errors += 1


def _store_settings(store_path: Path | str | None) -> dict[str, str]:
    if store_path is None:
        return {"ResetOnLogon": "Y", "ResetOnLogout": "Y", "ResetOnDisconnect": "Y"}
    return {"FileStorePath": str(Path(store_path).resolve()), "PersistMessages": "Y",
            "ResetOnLogon": "N", "ResetOnLogout": "N", "ResetOnDisconnect": "N"}


def _side(side: str) -> str:
    try:
        return SIDE_WORDS[side.lower()]
    except KeyError:
        raise ValueError(f"side {side!r}: expected buy or sell") from None
