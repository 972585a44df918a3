"""Reading the journal: restore, the trader reports to send again, summaries, the weights export.

Every reader opens its own read-only connection to the tables, so it never shares one with the
journal's writer thread; a journal opened on the file first has applied its log, so the tables are
complete.
"""

from __future__ import annotations

import json
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from engine.journal.tables import column_dicts, connect, unpack_snapshot


@dataclass(frozen=True)
class SweepRow:
    parent_id: str
    sweep: int
    symbol: str
    quantity: int
    venues: list[str]
    sent: list[int]
    filled: list[int]
    timed_out: list[bool]
    learned: bool
    certified: bool
    started_at: float
    latency_ms: float


FINAL_STATES = ("filled", "canceled", "expired", "rejected")


def open_parents(path: Path) -> list[tuple[dict, list[dict]]]:
    """Parents not yet final, each with its children not yet final (as column dicts)."""
    with closing(connect(path, read_only=True)) as connection:
        parents = column_dicts(connection,
                               f"SELECT * FROM parents WHERE state NOT IN {FINAL_STATES} ORDER BY created_at")
        return [(parent, column_dicts(connection,
                                      f"SELECT * FROM children WHERE parent_id = ? AND state NOT IN {FINAL_STATES}",
                                      (parent["parent_id"],))) for parent in parents]


def seen_exec_ids(path: Path, child_ids: Iterable[str]) -> dict[str, set[str]]:
    """child id -> the venue ExecIDs already booked for it (a resent report is then ignored)."""
    seen: dict[str, set[str]] = {}
    with closing(connect(path, read_only=True)) as connection:
        for child_id in child_ids:
            rows = connection.execute("SELECT exec_id FROM fills WHERE child_id = ?", (child_id,))
            seen[child_id] = {exec_id for (exec_id,) in rows}
    return seen


def unsent_trader_reports(path: Path) -> list[dict]:
    """Trader reports committed but perhaps never sent (the engine stopped in between), oldest first."""
    with closing(connect(path, read_only=True)) as connection:
        return [json.loads(report) for (report,) in connection.execute("SELECT report FROM trader_outbox ORDER BY seq")]


def runs(path: Path) -> list[dict]:
    with closing(connect(path, read_only=True)) as connection:
        return column_dicts(connection, "SELECT * FROM runs ORDER BY run")


def child_row(path: Path, child_id: str) -> dict | None:
    with closing(connect(path, read_only=True)) as connection:
        rows = column_dicts(connection, "SELECT * FROM children WHERE child_id = ?", (child_id,))
    return rows[0] if rows else None


def parent_row(path: Path, parent_id: str) -> dict | None:
    with closing(connect(path, read_only=True)) as connection:
        rows = column_dicts(connection, "SELECT * FROM parents WHERE parent_id = ?", (parent_id,))
    return rows[0] if rows else None


def used_cl_ord_ids(path: Path) -> set[tuple[str, str]]:
    # a Journal opened on it first, so the columns are current
    with closing(connect(path, read_only=True)) as connection:
        rows = connection.execute(
            "SELECT session, cl_ord_id FROM parents UNION SELECT session, orig_cl_ord_id FROM parents "
            "UNION SELECT session, pending_cl_ord_id FROM parents WHERE pending_cl_ord_id IS NOT NULL")
        return {(session, cl_ord_id) for session, cl_ord_id in rows}


def latest_weights(path: Path) -> dict[str, tuple[str, int, dict[str, np.ndarray]]]:
    """key -> (policy name, learned sweeps, snapshot) of the newest snapshot per key."""
    with closing(connect(path, read_only=True)) as connection:
        rows = connection.execute(
            "SELECT key, policy, learned, snapshot FROM weights w WHERE taken_at = "
            "(SELECT MAX(taken_at) FROM weights WHERE key = w.key)")
        return {key: (policy, learned, unpack_snapshot(blob)) for key, policy, learned, blob in rows}


def sweeps(path: Path, since: float = 0.0) -> list[SweepRow]:
    with closing(connect(path, read_only=True)) as connection:
        rows = column_dicts(connection, "SELECT * FROM sweeps WHERE started_at >= ? ORDER BY started_at", (since,))
    return [SweepRow(r["parent_id"], r["sweep"], r["symbol"], r["quantity"], json.loads(r["venues"]),
                     json.loads(r["sent"]), json.loads(r["filled"]), json.loads(r["timed_out"]), bool(r["learned"]),
                     bool(r["certified"]), r["started_at"], r["latency_ms"]) for r in rows]


def parents_since(path: Path, since: float = 0.0) -> list[dict]:
    with closing(connect(path, read_only=True)) as connection:
        return column_dicts(connection, "SELECT * FROM parents WHERE created_at >= ? ORDER BY created_at", (since,))


def incidents(path: Path) -> list[dict]:
    with closing(connect(path, read_only=True)) as connection:
        return column_dicts(connection, "SELECT * FROM incidents ORDER BY at")



def controls(path: Path) -> list[dict]:
    """Every halt, resume, limit change and operator cancel, oldest first, ``detail`` decoded."""
    with closing(connect(path, read_only=True)) as connection:
        rows = column_dicts(connection, "SELECT * FROM controls ORDER BY at, rowid")
    return [{**row, "detail": json.loads(row["detail"])} for row in rows]


def fills_awaiting_markouts(path: Path, since: float) -> list[dict]:
    """Fills at or after ``since`` stamped with a midpoint, each with its side and symbol (its
    parent's) and ``horizons_done``: the horizons whose markout the journal already holds. One
    query (the restart reads it before trading), on the fills' time index."""
    with closing(connect(path, read_only=True)) as connection:
        rows = column_dicts(connection,
                            "SELECT f.venue, f.exec_id, f.child_id, f.quantity, f.midpoint, f.at, p.side, p.symbol, "
                            "json_group_array(m.horizon_seconds) FILTER (WHERE m.horizon_seconds IS NOT NULL) AS done "
                            "FROM fills f JOIN parents p ON p.parent_id = f.parent_id LEFT JOIN markouts m "
                            "ON m.venue = f.venue AND m.exec_id = f.exec_id WHERE f.at >= ? AND f.midpoint IS NOT NULL "
                            "GROUP BY f.venue, f.exec_id ORDER BY f.at", (since,))
    for row in rows:
        row["horizons_done"] = json.loads(row.pop("done"))
    return rows
