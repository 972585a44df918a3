"""The journal's SQLite side: its schema, the statements the write-ahead log's rows are applied
with, and what the journal and its readers share to reach the tables (connections, rows as column
dicts, packed weight snapshots).

Kept apart from :mod:`engine.journal.journal` (writing) and :mod:`engine.journal.readers`
(reading) so both depend on one definition of the tables and neither on the other.
"""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path
from typing import Any, Iterable

import numpy as np

SCHEMA = """
CREATE TABLE IF NOT EXISTS parents (
    parent_id TEXT PRIMARY KEY, session TEXT NOT NULL, cl_ord_id TEXT NOT NULL, orig_cl_ord_id TEXT NOT NULL,
    side TEXT NOT NULL, symbol TEXT NOT NULL, quantity INTEGER NOT NULL, original_quantity INTEGER NOT NULL,
    order_type TEXT NOT NULL, time_in_force TEXT NOT NULL, limit_price REAL, expire_at REAL, min_qty INTEGER,
    state TEXT NOT NULL, cum_qty INTEGER NOT NULL, notional REAL NOT NULL, sweeps INTEGER NOT NULL,
    created_at REAL NOT NULL, done_at REAL, pending_cl_ord_id TEXT, pending_quantity INTEGER);
CREATE INDEX IF NOT EXISTS parents_open ON parents(state);
CREATE TABLE IF NOT EXISTS children (
    child_id TEXT PRIMARY KEY, parent_id TEXT NOT NULL, venue TEXT NOT NULL, sweep INTEGER NOT NULL,
    quantity INTEGER NOT NULL, min_qty INTEGER, limit_price REAL, state TEXT NOT NULL,
    cum_qty INTEGER NOT NULL, notional REAL NOT NULL, timed_out INTEGER NOT NULL,
    sent_at REAL NOT NULL, final_at REAL);
CREATE INDEX IF NOT EXISTS children_parent ON children(parent_id);
CREATE TABLE IF NOT EXISTS fills (
    venue TEXT NOT NULL, exec_id TEXT NOT NULL, child_id TEXT NOT NULL, parent_id TEXT NOT NULL,
    quantity INTEGER NOT NULL, price REAL NOT NULL, booked INTEGER NOT NULL, late INTEGER NOT NULL,
    at REAL NOT NULL, PRIMARY KEY (venue, exec_id));
CREATE INDEX IF NOT EXISTS fills_child ON fills(child_id);
CREATE INDEX IF NOT EXISTS fills_at ON fills(at);  -- a restart's fills awaiting markouts
CREATE TABLE IF NOT EXISTS markouts (
    venue TEXT NOT NULL, exec_id TEXT NOT NULL, horizon_seconds REAL NOT NULL, bps REAL NOT NULL,
    settled_at REAL NOT NULL, PRIMARY KEY (venue, exec_id, horizon_seconds));
CREATE TABLE IF NOT EXISTS sweeps (
    parent_id TEXT NOT NULL, sweep INTEGER NOT NULL, symbol TEXT NOT NULL, quantity INTEGER NOT NULL,
    venues TEXT NOT NULL, sent TEXT NOT NULL, filled TEXT NOT NULL, timed_out TEXT NOT NULL,
    learned INTEGER NOT NULL, certified INTEGER NOT NULL, started_at REAL NOT NULL, latency_ms REAL NOT NULL,
    PRIMARY KEY (parent_id, sweep));
CREATE TABLE IF NOT EXISTS weights (
    key TEXT NOT NULL, policy TEXT NOT NULL, learned INTEGER NOT NULL, taken_at REAL NOT NULL,
    snapshot BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS weights_key ON weights(key, taken_at);
CREATE TABLE IF NOT EXISTS incidents (at REAL NOT NULL, kind TEXT NOT NULL, detail TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (run INTEGER PRIMARY KEY AUTOINCREMENT, started_at REAL NOT NULL, pid INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS wal_applied (
    one INTEGER PRIMARY KEY CHECK (one = 1), generation INTEGER NOT NULL, offset INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS controls (
    at REAL NOT NULL, origin TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trader_outbox (
    seq INTEGER PRIMARY KEY, exec_id TEXT NOT NULL, parent_id TEXT NOT NULL, session TEXT NOT NULL,
    report TEXT NOT NULL);
"""

# Columns added after the first journals were written: (name, SQL type). A journal from before
# gets them on open, so an upgrade keeps its open parents.
ADDED_PARENT_COLUMNS = (("pending_cl_ord_id", "TEXT"), ("pending_quantity", "INTEGER"))
# fills.midpoint: the primary's midpoint when the fill was booked (NULL without a live feed)
ADDED_FILL_COLUMNS = (("midpoint", "REAL"),)
PARENT_COLUMNS = ("parent_id", "session", "cl_ord_id", "orig_cl_ord_id", "side", "symbol", "quantity",
                  "original_quantity", "order_type", "time_in_force", "limit_price", "expire_at", "min_qty", "state",
                  "cum_qty", "notional", "sweeps", "created_at", "done_at", "pending_cl_ord_id", "pending_quantity")
INSERT_PARENT = (f"INSERT OR REPLACE INTO parents ({', '.join(PARENT_COLUMNS)}) "
                 f"VALUES ({', '.join('?' * len(PARENT_COLUMNS))})")
PRUNE_WEIGHTS = ("DELETE FROM weights WHERE key = ? AND rowid NOT IN "
                 "(SELECT rowid FROM weights WHERE key = ? ORDER BY taken_at DESC, rowid DESC LIMIT ?)")

STATEMENTS = {
    "parent": INSERT_PARENT,
    "child": "INSERT OR REPLACE INTO children VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
    "fill": "INSERT OR IGNORE INTO fills VALUES (?,?,?,?,?,?,?,?,?,?)",
    "markout": "INSERT OR REPLACE INTO markouts VALUES (?,?,?,?,?)",  # bps positive = in our favour
    "sweep": "INSERT OR REPLACE INTO sweeps VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
    "incident": "INSERT INTO incidents VALUES (?,?,?)",
    "control": "INSERT INTO controls VALUES (?,?,?,?)",  # an operator's command or a trip; detail as JSON
    "report": "INSERT OR REPLACE INTO trader_outbox VALUES (?,?,?,?,?)",  # the report dict as JSON
    "reports_sent": "DELETE FROM trader_outbox WHERE seq <= ?",
}


def connect(path: Path, read_only: bool = False) -> sqlite3.Connection:
    if read_only and not Path(path).exists():
        raise FileNotFoundError(f"no journal at {path}: has the engine run with this config?")
    connection = sqlite3.connect(path, timeout=10.0, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    return connection


def add_missing_columns(connection: sqlite3.Connection) -> None:
    for table, added in (("parents", ADDED_PARENT_COLUMNS), ("fills", ADDED_FILL_COLUMNS)):
        present = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
        for name, sql_type in added:
            if name not in present:
                connection.execute(f"ALTER TABLE {table} ADD COLUMN {name} {sql_type}")
    connection.commit()


def column_dicts(connection: sqlite3.Connection, sql: str, values: Iterable[Any] = ()) -> list[dict]:
    cursor = connection.execute(sql, tuple(values))
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor]


def pack_snapshot(snapshot: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **{key: np.asarray(value) for key, value in snapshot.items()})
    return buffer.getvalue()


def unpack_snapshot(blob: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}
