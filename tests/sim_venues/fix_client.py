"""A small FIX 4.4 test initiator written with quickfix, reusable by any test that talks to venues.

One :class:`FixTestClient` opens one initiator session per venue (``VenueAddress``), validates what
it receives against the same data dictionary, and turns every message into a plain ``dict[int, str]``
inside the callback (never keeping QuickFIX's borrowed objects). Tests send orders or raw messages and
poll for outcomes with :meth:`FixTestClient.wait_for` instead of sleeping.

    with FixTestClient([VenueAddress("V1", port, "V1", "DARKAGG")]) as client:
        client.send_order("V1", "c1", side="1", quantity=500, symbol="VOD.L")
        final = client.wait_final("c1")
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import quickfix as fix

from engine.process.launch import free_port  # noqa: F401 - the tests' one way to pick a port
from engine.fix.quiet_application import QuietApplication  # noqa: F401 - sessions that only need to exist

SOH = "\x01"
TERMINAL_STATUSES = {"2", "4", "8"}
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DATA_DICTIONARY = PROJECT_ROOT / "fix_specs" / "FIX44.xml"


def as_dict(message: fix.Message) -> dict[int, str]:
    fields: dict[int, str] = {}
    for part in message.toString().split(SOH):
        if part:
            tag, _, value = part.partition("=")
            fields[int(tag)] = value
    return fields


def eventually(predicate: Callable[[], object], timeout: float = 5.0, interval: float = 0.005):
    """Poll until ``predicate()`` is truthy; return its value, or raise AssertionError at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


@dataclass(frozen=True)
class VenueAddress:
    name: str
    port: int
    venue_comp_id: str
    client_comp_id: str


class _ClientApplication(fix.Application):
    def __init__(self, client: "FixTestClient") -> None:
        super().__init__()
        self._client = client

    def onCreate(self, sessionID): pass
    def toAdmin(self, message, sessionID): pass
    def toApp(self, message, sessionID): pass

    def onLogon(self, sessionID):
        self._client._on_session(sessionID.toString(), True)

    def onLogout(self, sessionID):
        self._client._on_session(sessionID.toString(), False)

    def fromAdmin(self, message, sessionID):
        try:
            self._client._on_admin(sessionID.toString(), as_dict(message))
        except Exception as error:  # noqa: BLE001 - never let a test helper kill the QuickFIX thread
            self._client.errors.append(repr(error))

    def fromApp(self, message, sessionID):
        try:
            self._client._on_app(sessionID.toString(), as_dict(message))
        except Exception as error:  # noqa: BLE001
            self._client.errors.append(repr(error))


class FixTestClient:
    def __init__(self, venues: Iterable[VenueAddress], *, heartbeat: int = 30,
                 data_dictionary: Path = DATA_DICTIONARY, reconnect_interval: int = 1) -> None:
        self.venues = {v.name: v for v in venues}
        self._session_ids = {name: fix.SessionID("FIX.4.4", v.client_comp_id, v.venue_comp_id)
                             for name, v in self.venues.items()}
        self._venue_of = {sid.toString(): name for name, sid in self._session_ids.items()}
        self._lock = threading.Condition()
        self.reports: dict[str, list[dict[int, str]]] = defaultdict(list)  # by ClOrdID, in arrival order
        self.arrivals: dict[str, list[float]] = defaultdict(list)  # time.monotonic() of each of those
        self.sent_at: dict[str, float] = {}  # time.monotonic() when each order was handed to QuickFIX
        self.other: list[tuple[str, dict[int, str]]] = []  # (venue, message) for non-ExecutionReports
        self.admin: list[tuple[str, dict[int, str]]] = []
        self.logged_on: dict[str, bool] = {name: False for name in self.venues}
        self.logons: dict[str, int] = defaultdict(int)
        self.errors: list[str] = []
        self._final: dict[str, dict[int, str]] = {}
        settings = fix.SessionSettings()
        defaults = fix.Dictionary()
        for key, value in {"ConnectionType": "initiator", "SocketConnectHost": "127.0.0.1",
                           "HeartBtInt": str(heartbeat), "ReconnectInterval": str(reconnect_interval),
                           "SocketNodelay": "Y", "NonStopSession": "Y", "UseDataDictionary": "Y",
                           "DataDictionary": str(data_dictionary.resolve()), "ResetOnLogon": "Y",
                           "ResetOnLogout": "Y", "ResetOnDisconnect": "Y", "CheckLatency": "N"}.items():
            defaults.setString(key, value)
        settings.set(defaults)
        for name, sid in self._session_ids.items():
            section = fix.Dictionary()
            section.setString("SocketConnectPort", str(self.venues[name].port))
            settings.set(sid, section)
        self._application = _ClientApplication(self)
        self._initiator = fix.SocketInitiator(self._application, fix.MemoryStoreFactory(), settings)
        self._settings = settings

    # -- lifecycle ----------------------------------------------------------------------------------

    def start(self, wait: Iterable[str] | None = None, timeout: float = 10.0) -> "FixTestClient":
        self._initiator.start()
        names = list(self.venues) if wait is None else list(wait)
        eventually(lambda: all(self.logged_on[n] for n in names), timeout)
        return self

    def stop(self) -> None:
        self._initiator.stop()

    def __enter__(self) -> "FixTestClient":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- sending ------------------------------------------------------------------------------------

    def send_order(self, venue: str, cl_ord_id: str, *, side: str = "1", quantity: float | None = 100,
                   symbol: str | None = "TEST.L", time_in_force: str | None = "3", min_qty: float | None = None,
                   price: float | None = None, ord_type: str = "P", exec_inst: str | None = "M",
                   extra: dict[int, str] | None = None) -> bool:
        fields = {11: cl_ord_id, 54: side, 40: ord_type}
        optional = {55: symbol, 38: None if quantity is None else _num(quantity), 18: exec_inst,
                    59: time_in_force, 110: None if min_qty is None else _num(min_qty),
                    44: None if price is None else repr(float(price))}
        fields.update({tag: value for tag, value in optional.items() if value is not None})
        fields.update(extra or {})
        message = fix.Message()
        message.getHeader().setField(35, "D")
        for tag, value in fields.items():
            message.setField(tag, value)
        message.setField(fix.TransactTime())
        self.sent_at[cl_ord_id] = time.monotonic()
        return self.send(venue, message)

    def send_cancel(self, venue: str, cl_ord_id: str, orig_cl_ord_id: str, *, side: str = "1",
                    symbol: str = "TEST.L", quantity: float = 100) -> bool:
        return self.send_fields(venue, "F", {11: cl_ord_id, 41: orig_cl_ord_id, 54: side, 55: symbol,
                                             38: _num(quantity)}, transact_time=True)

    def send_status(self, venue: str, cl_ord_id: str, *, side: str = "1", symbol: str = "TEST.L") -> bool:
        return self.send_fields(venue, "H", {11: cl_ord_id, 54: side, 55: symbol})

    def send_fields(self, venue: str, msg_type: str, fields: dict[int, str], *, transact_time: bool = False) -> bool:
        message = fix.Message()
        message.getHeader().setField(35, msg_type)
        for tag, value in fields.items():
            message.setField(tag, value)
        if transact_time:
            message.setField(fix.TransactTime())
        return self.send(venue, message)

    def send(self, venue: str, message: fix.Message) -> bool:
        return fix.Session.sendToTarget(message, self._session_ids[venue])

    def session(self, venue: str) -> fix.Session:
        return fix.Session.lookupSession(self._session_ids[venue])

    # -- observing ------------------------------------------------------------------------------------

    def wait_for(self, predicate: Callable[[], object], timeout: float = 5.0):
        return eventually(predicate, timeout)

    def final(self, cl_ord_id: str) -> dict[int, str] | None:
        with self._lock:
            return self._final.get(cl_ord_id)

    def wait_final(self, cl_ord_id: str, timeout: float = 5.0) -> dict[int, str]:
        return eventually(lambda: self.final(cl_ord_id), timeout)

    def wait_all_final(self, cl_ord_ids: Iterable[str], timeout: float = 30.0) -> list[dict[int, str]]:
        ids = list(cl_ord_ids)
        eventually(lambda: all(i in self._final for i in ids), timeout, interval=0.02)
        with self._lock:
            return [self._final[i] for i in ids]

    def reports_for(self, cl_ord_id: str) -> list[dict[int, str]]:
        with self._lock:
            return list(self.reports.get(cl_ord_id, ()))

    def messages_of_type(self, venue: str, msg_type: str) -> list[dict[int, str]]:
        with self._lock:
            return [m for v, m in self.other + self.admin if v == venue and m.get(35) == msg_type]

    # -- callbacks (QuickFIX thread) ------------------------------------------------------------------

    def _on_session(self, session: str, up: bool) -> None:
        name = self._venue_of[session]
        with self._lock:
            self.logged_on[name] = up
            if up:
                self.logons[name] += 1

    def _on_admin(self, session: str, fields: dict[int, str]) -> None:
        with self._lock:
            self.admin.append((self._venue_of[session], fields))

    def _on_app(self, session: str, fields: dict[int, str]) -> None:
        with self._lock:
            if fields.get(35) != "8":
                self.other.append((self._venue_of[session], fields))
                return
            cl_ord_id = fields.get(11, "")
            self.reports[cl_ord_id].append(fields)
            self.arrivals[cl_ord_id].append(time.monotonic())
            if fields.get(39) in TERMINAL_STATUSES and fields.get(150) != "I" and cl_ord_id not in self._final:
                self._final[cl_ord_id] = fields


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
