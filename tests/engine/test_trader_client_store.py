"""TraderClient with ``store_path`` against a small QuickFIX acceptor that plays the engine's trader
side (a FileStore, no resets): reports sent while the trader was away are recovered by QuickFIX's
ResendRequest after the acceptor restarts, reports re-sent with an ExecID already received are
counted as duplicates and otherwise ignored, and ``cum_qty`` is the trader's view of the order."""

from __future__ import annotations

from pathlib import Path

import quickfix as fix

from engine.config.engine import DEFAULT_DATA_DICTIONARY
from engine.fix.settings import BEGIN_STRING, SettingsTable, build_session_settings
from engine.fix.trader_client import TraderClient
from engine.fix.translate import utc_timestamp
from tests.sim_venues.fix_client import QuietApplication, eventually, free_port

ENGINE, TRADER = "STOREENG", "STORETRD"


class EngineSide:
    """The trader acceptor as the engine runs it with ``trader_store: file``."""

    def __init__(self, port: int, store: Path) -> None:
        table = SettingsTable(
            {"ConnectionType": "acceptor", "SocketAcceptPort": str(port), "SocketReuseAddress": "Y",
             "NonStopSession": "Y", "UseDataDictionary": "Y", "DataDictionary": str(DEFAULT_DATA_DICTIONARY),
             "CheckLatency": "N", "PersistMessages": "Y", "FileStorePath": str(store),
             "ResetOnLogon": "N", "ResetOnLogout": "N", "ResetOnDisconnect": "N"},
            [((BEGIN_STRING, ENGINE, TRADER), {})])
        self.session_id = fix.SessionID(BEGIN_STRING, ENGINE, TRADER)
        self._application = QuietApplication()
        self._settings = build_session_settings(table)
        self._store = fix.FileStoreFactory(self._settings)
        self._acceptor = fix.ThreadedSocketAcceptor(self._application, self._store, self._settings)

    def start(self) -> None:
        self._acceptor.start()

    def stop(self) -> None:
        self._acceptor.stop()
        self._acceptor = None  # frees the SessionID for the next EngineSide in this process

    def logged_on(self) -> bool:
        session = fix.Session.lookupSession(self.session_id)
        return session is not None and session.isLoggedOn()

    def send_report(self, exec_id: str, cum_qty: int, *, ord_status: str = "1", header: dict[int, str] = {}) -> bool:
        """A Trade report of order o1 (1000 shares); ``header`` adds PossDupFlag/PossResend."""
        last = 100
        text = "".join(f"{tag}={value}\x01" for tag, value in [
            (8, BEGIN_STRING), (9, 0), (35, "8"), (37, "P1"), (11, "o1"), (17, exec_id), (150, "F"),
            (39, ord_status), (55, "VOD.L"), (54, "1"), (38, 1000), (32, last), (31, "25"), (30, "V1"),
            (151, 1000 - cum_qty), (14, cum_qty), (6, "25"), (60, utc_timestamp()), (10, "000")])
        message = fix.Message(text, False)
        for tag, value in header.items():
            message.getHeader().setField(tag, value)
        return fix.Session.sendToTarget(message, self.session_id)


def test_reports_missed_during_a_restart_are_recovered_and_duplicates_are_ignored(tmp_path):
    port = free_port()
    engine = EngineSide(port, tmp_path / "engine_store")
    engine.start()
    seen = []
    client = TraderClient("127.0.0.1", port, TRADER, ENGINE, store_path=tmp_path / "trader_store",
                          on_report=seen.append)
    try:
        client.start()
        assert client.wait_logged_on(10)
        eventually(engine.logged_on, 5)
        assert engine.send_report("E1", 100) and engine.send_report("E2", 300)
        client.wait_for(lambda: client.report_count == 2)
        # An engine that re-sends a report after its own restart marks it PossResend (97=Y)...
        engine.send_report("E2", 300, header={97: "Y"})
        # ... a resend of a message marks it PossDupFlag (43=Y) with its OrigSendingTime (122).
        engine.send_report("E1", 100, header={43: "Y", 122: utc_timestamp()})
        client.wait_for(lambda: client.duplicates == 2)

        engine.stop()  # the engine goes down; the trader notices and keeps reconnecting
        client.wait_for(lambda: not client.logged_on)
        engine = EngineSide(port, tmp_path / "engine_store")
        # Sent while the trader is away: QuickFIX stores them under the next sequence numbers.
        assert engine.send_report("E3", 600) and engine.send_report("E4", 1000, ord_status="2")
        engine.start()
        final = client.wait_done("o1", timeout=15)
        client.wait_for(lambda: client.report_count == 4)
    finally:
        client.stop()
        engine.stop()

    assert [r.exec_id for r in client.reports] == ["E1", "E2", "E3", "E4"]
    assert [r.exec_id for r in seen] == ["E1", "E2", "E3", "E4"]  # on_report saw no duplicate
    assert [r.fields.get(43) for r in client.reports[2:]] == ["Y", "Y"]  # came back by ResendRequest
    assert (final.exec_id, final.ord_status) == ("E4", "2")
    assert client.duplicates == 2 and client.report_count == 4
    assert client.cum_qty("o1") == 1000.0
    assert client.cum_qty("never-sent") == 0.0
    assert client.logons == 2


def test_without_a_store_path_a_duplicate_exec_id_is_still_ignored_and_cum_qty_kept(tmp_path):
    port = free_port()
    engine = EngineSide(port, tmp_path / "engine_store")
    engine.start()
    client = TraderClient("127.0.0.1", port, TRADER, ENGINE, keep_reports=False)
    try:
        client.start()
        assert client.wait_logged_on(10)
        eventually(engine.logged_on, 5)
        engine.send_report("E1", 400)
        engine.send_report("E1", 400, header={97: "Y"})
        engine.send_report("E2", 700)
        client.wait_for(lambda: client.report_count == 2 and client.duplicates == 1)
        assert client.cum_qty("o1") == 700.0
        assert not (tmp_path / "trader_store").exists()
    finally:
        client.stop()
        engine.stop()
