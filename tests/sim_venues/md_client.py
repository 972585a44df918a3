"""A FIX 4.4 market-data test initiator: subscribes with MarketDataRequest and keeps every W, X and Y.

Requests are built with quickfix's generated FIX 4.4 classes and their repeating groups (the way a
client written against QuickFIX would build them), so the venue host is checked against a request
it did not format itself. Received messages are kept as text (a dict would fold the repeating groups)
and read back with :func:`entries`.

    with MarketDataClient(port, "DARKAGG", "MD") as md:
        md.subscribe("r1", ["VOD.L"])
        snapshot = md.wait_message("W", "r1")
        bid, offer = entries(snapshot)
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import quickfix as fix
import quickfix44 as fix44

from tests.sim_venues.fix_client import DATA_DICTIONARY, eventually

SOH = "\x01"


@dataclass(frozen=True)
class Received:
    msg_type: str
    req_id: str | None
    text: str
    arrived: float  # time.monotonic()

    def field(self, tag: int) -> str | None:
        for part in self.text.split(SOH):
            key, _, value = part.partition("=")
            if key == str(tag):
                return value
        return None


def entries(message: Received) -> list[dict[int, str]]:
    """The NoMDEntries group of a W or X, one dict per entry (an entry starts at 269 in a W, at 279 in an X)."""
    opener = "279" if message.msg_type == "X" else "269"
    found: list[dict[int, str]] = []
    inside = False
    for part in message.text.split(SOH):
        tag, _, value = part.partition("=")
        if tag == "268":
            inside = True
            continue
        if not inside or tag in ("10", ""):
            continue
        if tag == opener:
            found.append({})
        if found:
            found[-1][int(tag)] = value
    return found


def midpoint_of(message: Received, symbol: str | None = None) -> float:
    """(bid + offer) / 2 of a message's entries (of ``symbol`` when an X carries several)."""
    prices = {}
    for entry in entries(message):
        if symbol is None or entry.get(55, symbol) == symbol:
            prices[entry[269]] = float(entry[270])
    return (prices["0"] + prices["1"]) / 2


class _Application(fix.Application):
    def __init__(self, client: "MarketDataClient") -> None:
        super().__init__()
        self._client = client

    def onCreate(self, sessionID): pass
    def toAdmin(self, message, sessionID): pass
    def toApp(self, message, sessionID): pass
    def fromAdmin(self, message, sessionID): pass

    def onLogon(self, sessionID):
        self._client._set_logged_on(True)

    def onLogout(self, sessionID):
        self._client._set_logged_on(False)

    def fromApp(self, message, sessionID):
        try:
            self._client._received(message.toString())  # a copy: the message is borrowed
        except Exception as error:  # noqa: BLE001 - never let a test helper kill the QuickFIX thread
            self._client.errors.append(repr(error))


class MarketDataClient:
    def __init__(self, port: int, client_comp_id: str, md_comp_id: str, *,
                 data_dictionary: Path = DATA_DICTIONARY) -> None:
        self.session_id = fix.SessionID("FIX.4.4", client_comp_id, md_comp_id)
        self._lock = threading.Lock()
        self.received: list[Received] = []
        self.errors: list[str] = []
        self.logged_on = False
        self.logons = 0
        settings = fix.SessionSettings()
        defaults = fix.Dictionary()
        for key, value in {"ConnectionType": "initiator", "SocketConnectHost": "127.0.0.1", "HeartBtInt": "30",
                           "ReconnectInterval": "1", "SocketNodelay": "Y", "NonStopSession": "Y",
                           "UseDataDictionary": "Y", "DataDictionary": str(data_dictionary.resolve()),
                           "ResetOnLogon": "Y", "ResetOnLogout": "Y", "ResetOnDisconnect": "Y",
                           "CheckLatency": "N"}.items():
            defaults.setString(key, value)
        settings.set(defaults)
        section = fix.Dictionary()
        section.setString("SocketConnectPort", str(port))
        settings.set(self.session_id, section)
        self._application = _Application(self)
        self._initiator = fix.SocketInitiator(self._application, fix.MemoryStoreFactory(), settings)
        self._settings = settings

    def start(self, timeout: float = 10.0) -> "MarketDataClient":
        self._initiator.start()
        eventually(lambda: self.logged_on, timeout)
        return self

    def stop(self) -> None:
        self._initiator.stop()

    def __enter__(self) -> "MarketDataClient":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- requests -------------------------------------------------------------------------------

    def request(self, req_id: str, symbols: Iterable[str], subscription: str = "1",
                entry_types: Iterable[str] = ("0", "1"), update_type: str | None = None) -> bool:
        message = fix44.MarketDataRequest()
        message.setField(fix.MDReqID(req_id))
        message.setField(fix.SubscriptionRequestType(subscription))
        message.setField(fix.MarketDepth(1))  # top of book (the dictionary requires 264)
        if update_type is not None:
            message.setField(fix.MDUpdateType(int(update_type)))
        for entry_type in entry_types:
            group = fix44.MarketDataRequest.NoMDEntryTypes()
            group.setField(fix.MDEntryType(entry_type))
            message.addGroup(group)
        for symbol in symbols:
            group = fix44.MarketDataRequest.NoRelatedSym()
            group.setField(fix.Symbol(symbol))
            message.addGroup(group)
        return fix.Session.sendToTarget(message, self.session_id)

    def subscribe(self, req_id: str, symbols: Iterable[str], **options) -> bool:
        return self.request(req_id, symbols, "1", **options)

    def unsubscribe(self, req_id: str, symbols: Iterable[str]) -> bool:
        return self.request(req_id, symbols, "2")

    def session(self) -> fix.Session:
        return fix.Session.lookupSession(self.session_id)

    # -- observing ------------------------------------------------------------------------------

    def messages(self, msg_type: str | None = None, req_id: str | None = None,
                 after: float = 0.0) -> list[Received]:
        with self._lock:
            return [m for m in self.received if (msg_type is None or m.msg_type == msg_type)
                    and (req_id is None or m.req_id == req_id) and m.arrived >= after]

    def wait_message(self, msg_type: str, req_id: str, timeout: float = 5.0, after: float = 0.0) -> Received:
        return eventually(lambda: next(iter(self.messages(msg_type, req_id, after)), None), timeout)

    def _received(self, text: str) -> None:
        fields = {}
        for part in text.split(SOH):
            tag, _, value = part.partition("=")
            fields.setdefault(tag, value)
        with self._lock:
            self.received.append(Received(fields.get("35", "?"), fields.get("262"), text, time.monotonic()))

    def _set_logged_on(self, up: bool) -> None:
        with self._lock:
            self.logged_on = up
            self.logons += up
