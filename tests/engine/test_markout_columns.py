"""The journal's markout side: fills carry the midpoint they were stamped with (an old journal gets
the column on open and keeps its rows, an old log replays without it), markouts land in their own
table, and a restart reads back the fills still waiting for markouts."""

from __future__ import annotations

import sqlite3
from contextlib import closing

import pytest

from engine.domain.ids import ClOrdId, ParentId, SessionKey, Symbol
from engine.domain.orders import OrderType, ParentSpec, Side, TimeInForce
from engine.domain.parent import ParentOrder
from engine.journal import Journal, fills_awaiting_markouts, seen_exec_ids
from engine.journal.write_ahead_log import LogWriter, log_files

# the fills table as journals were written before the midpoint column (git: engine/journal/tables.py)
OLD_FILLS = """
CREATE TABLE fills (
    venue TEXT NOT NULL, exec_id TEXT NOT NULL, child_id TEXT NOT NULL, parent_id TEXT NOT NULL,
    quantity INTEGER NOT NULL, price REAL NOT NULL, booked INTEGER NOT NULL, late INTEGER NOT NULL,
    at REAL NOT NULL, PRIMARY KEY (venue, exec_id));
CREATE INDEX fills_child ON fills(child_id);
"""
SESSION = SessionKey("FIX.4.4:DARKAGG->TRADER1")


def old_journal(path) -> None:
    with closing(sqlite3.connect(path)) as connection:
        connection.executescript(OLD_FILLS)
        connection.executemany("INSERT INTO fills VALUES (?,?,?,?,?,?,?,?,?)", [
            ("V1", "E1", "P1.1.1.V1", "P1", 100, 25.01, 100, 0, 10.0),
            ("V2", "E2", "P1.1.1.V2", "P1", 300, 25.02, 300, 1, 11.0)])
        connection.commit()


def rows(path, sql: str) -> list[tuple]:
    with closing(sqlite3.connect(path)) as connection:
        return connection.execute(sql).fetchall()


def columns(path, table: str) -> list[str]:
    return [row[1] for row in rows(path, f"PRAGMA table_info({table})")]


def record_parent(journal: Journal, parent_id: str, side: Side, symbol: str, created_at: float = 1.0) -> None:
    spec = ParentSpec(SESSION, ClOrdId(f"C-{parent_id}"), side, Symbol(symbol), 5_000, OrderType.MARKET,
                      TimeInForce.DAY)
    journal.record_parent(ParentOrder(ParentId(parent_id), spec, created_at=created_at))


def test_an_old_journal_gets_the_midpoint_column_on_open_and_keeps_its_fills(tmp_path):
    path = tmp_path / "journal.sqlite"
    old_journal(path)
    assert "midpoint" not in columns(path, "fills")
    journal = Journal(path)
    try:
        assert columns(path, "fills")[-1] == "midpoint"
        assert "markouts" in {name for (name,) in rows(path, "SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert rows(path, "SELECT exec_id, quantity, price, late, at, midpoint FROM fills ORDER BY exec_id") == [
            ("E1", 100, 25.01, 0, 10.0, None), ("E2", 300, 25.02, 1, 11.0, None)]
        assert seen_exec_ids(path, ["P1.1.1.V1"]) == {"P1.1.1.V1": {"E1"}}
        # the upgraded table takes new fills, with and without a midpoint
        journal.record_fill("V1", "E3", "P1.1.2.V1", "P1", 200, 25.03, 200, False, 12.0, midpoint=25.025)
        journal.record_fill("V2", "E4", "P1.1.2.V2", "P1", 50, 25.04, 50, False, 13.0)
        journal.flush()
        assert rows(path, "SELECT exec_id, midpoint FROM fills WHERE exec_id IN ('E3', 'E4') ORDER BY exec_id") == [
            ("E3", 25.025), ("E4", None)]
    finally:
        journal.close()
    Journal(path).close()  # a second open adds nothing and loses nothing
    assert columns(path, "fills").count("midpoint") == 1
    assert len(rows(path, "SELECT * FROM fills")) == 4


def test_a_log_written_before_the_midpoint_column_replays_its_fills_without_one(tmp_path):
    path = tmp_path / "journal.sqlite"
    old_journal(path)
    log = LogWriter(path, 1)  # what a killed engine of the old version committed but never applied
    log.append([("fill", ("V3", "E9", "P1.1.2.V3", "P1", 400, 25.05, 400, 0, 20.0))])
    log.close()
    journal = Journal(path)
    journal.close()
    assert rows(path, "SELECT exec_id, quantity, at, midpoint FROM fills WHERE exec_id = 'E9'") == [
        ("E9", 400, 20.0, None)]
    assert log_files(path) == []


def test_fills_with_and_without_a_midpoint_and_markouts_land_in_their_tables_once_committed(tmp_path):
    path = tmp_path / "journal.sqlite"
    journal = Journal(path)
    try:
        journal.record_fill("V1", "E1", "P1.1.1.V1", "P1", 100, 25.0, 100, False, 10.0, midpoint=24.995)
        journal.record_fill("V2", "E2", "P1.1.1.V2", "P1", 100, 25.0, 100, True, 10.5)
        journal.record_markout("V1", "E1", 1.0, 4.0, 11.2)
        journal.record_markout("V1", "E1", 10.0, -20.0, 20.0)
        assert rows(path, "SELECT COUNT(*) FROM markouts") == [(0,)]  # recorded, not committed
        journal.flush()
        assert rows(path, "SELECT exec_id, late, midpoint FROM fills ORDER BY exec_id") == [
            ("E1", 0, 24.995), ("E2", 1, None)]
        assert rows(path, "SELECT venue, exec_id, horizon_seconds, bps, settled_at FROM markouts "
                          "ORDER BY horizon_seconds") == [("V1", "E1", 1.0, 4.0, 11.2), ("V1", "E1", 10.0, -20.0, 20.0)]
        journal.record_markout("V1", "E1", 10.0, -19.0, 21.0)  # the same markout again: the newest kept
        journal.record_fill("V1", "E1", "P1.1.1.V1", "P1", 100, 25.0, 100, False, 10.0, midpoint=30.0)  # a resend
        journal.flush()
        assert rows(path, "SELECT bps, settled_at FROM markouts WHERE horizon_seconds = 10.0") == [(-19.0, 21.0)]
        assert rows(path, "SELECT midpoint FROM fills WHERE exec_id = 'E1'") == [(24.995,)]  # the first booking
    finally:
        journal.close()


def test_fills_awaiting_markouts_come_with_their_parents_side_and_symbol_and_the_horizons_done(tmp_path):
    path = tmp_path / "journal.sqlite"
    journal = Journal(path)
    record_parent(journal, "P1", Side.SELL, "VOD.L")
    record_parent(journal, "P2", Side.BUY, "BARC.L")
    journal.record_fill("V1", "E1", "P1.1.1.V1", "P1", 100, 25.0, 100, False, 100.0, midpoint=25.01)
    journal.record_fill("V2", "E2", "P2.1.1.V2", "P2", 300, 19.0, 300, False, 101.0, midpoint=19.02)
    journal.record_fill("V2", "E3", "P2.1.1.V2", "P2", 300, 19.0, 300, False, 102.0)  # no midpoint
    journal.record_fill("V1", "E4", "P1.1.2.V1", "P1", 100, 25.0, 100, False, 40.0, midpoint=25.0)  # too old
    journal.record_fill("V1", "E5", "P9.1.1.V1", "P9", 100, 25.0, 100, False, 103.0, midpoint=25.0)  # no parent row
    journal.record_markout("V1", "E1", 1.0, 3.0, 101.0)
    journal.record_markout("V1", "E1", 10.0, -2.0, 110.0)
    journal.record_markout("V2", "E1", 60.0, 9.0, 160.0)  # another venue's fill with the same ExecID
    journal.flush()
    journal.close()
    found = fills_awaiting_markouts(path, since=50.0)
    assert [row["exec_id"] for row in found] == ["E1", "E2"]  # oldest first
    first, second = found
    assert {key: first[key] for key in ("venue", "child_id", "quantity", "midpoint", "at", "side", "symbol")} == {
        "venue": "V1", "child_id": "P1.1.1.V1", "quantity": 100, "midpoint": 25.01, "at": 100.0,
        "side": "sell", "symbol": "VOD.L"}
    assert sorted(first["horizons_done"]) == [1.0, 10.0]
    assert (second["side"], second["symbol"], second["midpoint"], second["horizons_done"]) == ("buy", "BARC.L", 19.02, [])
    assert [row["exec_id"] for row in fills_awaiting_markouts(path, since=100.0)] == ["E1", "E2"]  # at or after
    assert fills_awaiting_markouts(path, since=200.0) == []


def test_fills_awaiting_markouts_needs_a_journal(tmp_path):
    with pytest.raises(FileNotFoundError):
        fills_awaiting_markouts(tmp_path / "none.sqlite", since=0.0)
