"""The SQLite journal: the write-ahead log of the order path, and the engine's memory.

Tables: parents, children, fills, sweeps, incidents, weight snapshots, the engine's runs, the
trader reports on their way out, and the controls (halts, resumes and limit changes, with who and when).

Write-ahead (the contract the crash checks hold the engine to): ``record_*`` only appends a row to
a list; :meth:`Journal.commit_now` makes every row recorded so far durable at once, and the order
manager's outbox (engine.manager.outbox) calls it before anything leaves the process: a child
order is durable, with the id it is sent under, before its NewOrderSingle goes out, and a fill is
durable before the trader hears of it. The order path's commits all run on the event loop's thread,
between two callbacks, so the journal after a crash is always the state at the end of some
callback: a fill row never stands without its child's and parent's rows. A commit is one entry in
the journal's log file (see :class:`Journal`), SQLite in WAL mode with ``synchronous=NORMAL``: it
survives a killed process (only a power cut can lose the last commits).

A writer thread applies the log to the tables, packs and writes the weight snapshots (2-3 ms each,
never on the loop) and checkpoints the log. Reading (restore, summaries, the weights export,
:mod:`engine.journal.readers`) opens its own connection to the tables.
"""

from __future__ import annotations

import json
import os
import pickle
import sqlite3
import threading
import time
from pathlib import Path

import numpy as np

from engine.journal.readers import SweepRow
from engine.journal.tables import (PRUNE_WEIGHTS, SCHEMA, STATEMENTS, add_missing_columns, connect,
                                   pack_snapshot)
from engine.journal.write_ahead_log import ROTATE_BYTES, LogWriter, log_files, log_path, read_entries

WRITE_PERIOD_SECONDS = 0.05  # the writer thread's period: the tables are at most this far behind the log


class JournalError(RuntimeError):
    """The journal could not commit: nothing that depends on it may leave the process."""


class Journal:
    """The engine's journal. ``run`` is this engine run's number, unique in this journal (it is
    committed at open, before anything is sent), and goes into every id the run hands out.

    :meth:`commit_now` appends the rows recorded since the last commit as one entry to the
    write-ahead log (:mod:`engine.journal.write_ahead_log`, one ``write``); the writer thread applies the
    entries to the SQLite tables every 50 ms, in order, recording how far in the same
    transaction. Opening a journal first applies what its log still holds (what a killed engine
    committed but never applied), so every reader sees the tables complete."""

    def __init__(self, path: Path, keep_weight_snapshots: int = 60) -> None:
        self.path = Path(path)
        self.keep_weight_snapshots = keep_weight_snapshots
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tables = connect(self.path)  # the writer thread's once started
        self._tables.executescript(SCHEMA)
        add_missing_columns(self._tables)
        generation = _recover(self._tables, self.path)
        self._log = LogWriter(self.path, generation)  # the loop's
        self._applied = (generation, 0)                # (generation, offset) the tables hold
        with self._tables:
            self.run = self._tables.execute("INSERT INTO runs (started_at, pid) VALUES (?, ?)",
                                            (time.time(), os.getpid())).lastrowid
        (self._report_seq,) = self._tables.execute("SELECT COALESCE(MAX(seq), 0) FROM trader_outbox").fetchone()
        self._reports_sent_through = 0  # trader reports up to this number are with QuickFIX
        self._log_lock = threading.Lock()
        self._rows_lock = threading.Lock()
        self._rows: list[tuple[str, tuple]] = []        # the order path's rows, in the order recorded
        self._snapshots: list[tuple[str, tuple]] = []   # weight rows: packed and written by the writer
        self._markers: list[tuple[tuple[int, int], threading.Event]] = []  # set once that point is applied
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._failed: BaseException | None = None
        self._caught_up_at = time.monotonic()  # the writer's last round that found the tables complete
        self.commits = 0
        self._writer = threading.Thread(target=self._write_forever, name="journal-writer", daemon=True)
        self._writer.start()

    # -- recording (any thread; never blocks, never does I/O) ------------------------------------

    def record_parent(self, parent) -> None:
        """The parent's latest state, with the cancel or replace request it is still to carry out."""
        spec = parent.spec
        pending = parent.pending_cancel or parent.pending_replace
        self._put("parent",
                  (parent.parent_id, spec.session, parent.cl_ord_id, spec.cl_ord_id, spec.side.value, spec.symbol,
                   parent.quantity, spec.quantity, spec.order_type.value, spec.time_in_force.value,
                   spec.limit_price, spec.expire_at, spec.min_qty, parent.state.value, parent.cum_qty,
                   parent.notional, parent.sweeps, parent.created_at, parent.done_at,
                   pending.cl_ord_id if pending is not None else None,
                   parent.pending_replace.quantity if parent.pending_replace is not None else None))

    def record_child(self, child) -> None:
        self._put("child", (child.child_id, child.parent_id, child.venue, child.sweep, child.quantity, child.min_qty,
                            child.limit_price, child.state.value, child.cum_qty, child.notional,
                            int(child.timed_out), child.sent_at, child.final_at))

    def record_fill(self, venue: str, exec_id: str, child_id: str, parent_id: str, quantity: int, price: float,
                    booked: int, late: bool, at: float, midpoint: float | None = None) -> None:
        """``midpoint``: the primary's midpoint when the fill was booked (None without a live feed)."""
        self._put("fill", (venue, exec_id, child_id, parent_id, quantity, price, booked, int(late), at, midpoint))

    def record_markout(self, venue: str, exec_id: str, horizon_seconds: float, bps: float, at: float) -> None:
        """The markout of the fill (venue, exec_id) at a horizon, bps positive in our favour."""
        self._put("markout", (venue, exec_id, horizon_seconds, bps, at))

    def record_sweep(self, row: SweepRow) -> None:
        self._put("sweep", (row.parent_id, row.sweep, row.symbol, row.quantity, json.dumps(row.venues),
                            json.dumps(row.sent), json.dumps(row.filled), json.dumps(row.timed_out),
                            int(row.learned), int(row.certified), row.started_at, row.latency_ms))

    def record_incident(self, kind: str, detail: str, at: float) -> None:
        self._put("incident", (at, kind, detail))

    def record_control(self, action: str, detail: dict, origin: str, at: float) -> None:
        """A change of the trading state or the limits (halt, resume, limit, restricted, cancel_all),
        who made it and when: restored at the next start, and the audit trail of the controls."""
        self._put("control", (at, origin, action, json.dumps(detail, sort_keys=True)))

    def record_trader_report(self, exec_id: str, parent_id: str, session: str, report: dict) -> int:
        """A report for a trader, durable before it is sent; returns its number for
        :meth:`trader_reports_sent`. What a crash leaves here is sent again at the next start
        (PossResend, the same ExecID)."""
        self._report_seq += 1
        self._put("report", (self._report_seq, exec_id, parent_id, session, report))  # JSON: the writer's work
        return self._report_seq

    def trader_reports_sent(self, through: int) -> None:
        """Reports up to ``through`` are with QuickFIX: removed at the next commit (one statement
        per commit, not one per report)."""
        with self._rows_lock:
            self._reports_sent_through = max(self._reports_sent_through, through)

    def record_weights(self, key: str, policy: str, learned: int, snapshot: dict[str, np.ndarray], at: float) -> None:
        """``snapshot`` must not change afterwards (policies hand out copies): it is packed later,
        by the writer thread. Only the newest ``keep_weight_snapshots`` per key are kept."""
        with self._rows_lock:
            self._snapshots.append((key, (key, policy, learned, at, snapshot)))

    # -- committing ------------------------------------------------------------------------------

    def commit_now(self) -> None:
        """Make every order-path row recorded so far durable, as one log entry (the write-ahead: call
        it before sending what depends on them). Raises :class:`JournalError` when it cannot."""
        with self._log_lock:
            with self._rows_lock:
                rows, self._rows = self._rows, []
                if self._reports_sent_through:
                    rows.append(("reports_sent", (self._reports_sent_through,)))
                    self._reports_sent_through = 0
            if not rows:
                return
            try:
                if self._log.size >= ROTATE_BYTES and self._applied == (self._log.generation, self._log.size):
                    _remove(self._log.rotate())  # the tables hold all of the old file
                self._log.append(rows)
            except OSError as error:
                self._failed = error
                with self._rows_lock:  # kept, in order, for a commit that may still succeed
                    self._rows[:0] = rows
                raise JournalError(f"journal {self._log.path} cannot commit: {error}") from error
            self.commits += 1

    def flush(self, timeout: float = 10.0) -> None:
        """Commit everything recorded so far and wait until the tables hold it, weight snapshots
        included (shutdown, tests, exports)."""
        self.commit_now()
        done = threading.Event()
        with self._rows_lock:
            self._markers.append(((self._log.generation, self._log.size), done))
        self._wake.set()
        if not done.wait(timeout):
            raise TimeoutError(f"journal {self.path} did not flush within {timeout} s")
        if self._failed is not None:
            raise RuntimeError(f"journal {self.path} failed: {self._failed}") from self._failed

    def close(self) -> None:
        if self._writer.is_alive():
            self._stopping.set()
            self._wake.set()
            self._writer.join(timeout=10.0)
        with self._log_lock:
            self._log.close()
            if self._applied == (self._log.generation, self._log.size):
                _remove(self._log.path)  # all in the tables: the next open starts a fresh file
        self._tables.close()

    # -- health (any thread: the engine's view reads them) ----------------------------------------

    @property
    def writable(self) -> bool:
        """False once a commit or the writer has failed (the write-ahead cannot hold)."""
        return self._failed is None and self._writer.is_alive()

    def lag_seconds(self) -> float:
        """How far the tables are behind the log: seconds since the writer last caught up with
        every commit (0 when it has)."""
        if self._applied >= (self._log.generation, self._log.size):
            return 0.0
        return max(0.0, time.monotonic() - self._caught_up_at)

    def _put(self, statement: str, values: tuple) -> None:
        # Appending under an uncontended lock costs well under a microsecond and wakes nobody.
        with self._rows_lock:
            self._rows.append((statement, values))

    # -- the writer thread -----------------------------------------------------------------------

    def _write_forever(self) -> None:
        while True:
            self._wake.wait(WRITE_PERIOD_SECONDS)
            self._wake.clear()
            stopping = self._stopping.is_set()
            with self._rows_lock:
                markers, self._markers = self._markers, []
            self._apply()
            self._write_snapshots()
            for point, marker in markers:
                if point <= self._applied:
                    marker.set()
                else:  # committed after this round read the log: the next round
                    with self._rows_lock:
                        self._markers.append((point, marker))
            if stopping:
                return

    def _apply(self) -> None:
        # the files from the applied one to the loop's current one (no directory scan every round)
        files = [(generation, log_path(self.path, generation))
                 for generation in range(self._applied[0], self._log.generation + 1)]
        end = (self._log.generation, self._log.size)
        try:
            self._applied = _apply_log(self._tables, files, self._applied)
            if self._applied >= end:
                self._caught_up_at = time.monotonic()
        except (sqlite3.Error, pickle.UnpicklingError, ValueError) as error:  # recorded: flush reports it
            self._failed = error

    def _write_snapshots(self) -> None:
        with self._rows_lock:
            snapshots, self._snapshots = self._snapshots, []
        if not snapshots:
            return
        rows = []
        for key, (k, policy, learned, at, snapshot) in snapshots:
            rows += [("INSERT INTO weights VALUES (?,?,?,?,?)", (k, policy, learned, at, pack_snapshot(snapshot))),
                     (PRUNE_WEIGHTS, (key, key, self.keep_weight_snapshots))]
        try:
            with self._tables:
                for sql, values in rows:
                    self._tables.execute(sql, values)
        except sqlite3.Error as error:  # recorded; flush() reports it
            self._failed = error


def _apply_log(tables: sqlite3.Connection, files: list[tuple[int, Path]],
               applied: tuple[int, int]) -> tuple[int, int]:
    """Apply the entries of the log ``files`` ((generation, path), oldest first) after ``applied``
    to the tables, one transaction per file, each recording how far it got; returns the new
    (generation, offset)."""
    for generation, path in files:
        if generation < applied[0]:
            continue
        entries, end = read_entries(path, applied[1] if generation == applied[0] else 0)
        if entries:
            rows = [row for entry in entries for row in entry]
            with tables:
                _write(tables, rows)
                tables.execute("INSERT OR REPLACE INTO wal_applied VALUES (1, ?, ?)", (generation, end))
        applied = (generation, end)
    return applied


def _recover(tables: sqlite3.Connection, journal: Path) -> int:
    """At open: apply what the log holds beyond what the tables record, then start a new generation
    (recorded before the old files go, so a crash in between re-applies nothing); returns it."""
    row = tables.execute("SELECT generation, offset FROM wal_applied WHERE one = 1").fetchone()
    files = log_files(journal)
    applied = _apply_log(tables, files, tuple(row) if row else (0, 0))
    generation = max([applied[0], *(g for g, _ in files)]) + 1
    with tables:
        tables.execute("INSERT OR REPLACE INTO wal_applied VALUES (1, ?, 0)", (generation,))
    for _, path in files:
        _remove(path)
    return generation


def _remove(path: Path) -> None:
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _write(connection: sqlite3.Connection, rows: list[tuple[str, tuple]]) -> None:
    """Rows in the order recorded; runs of rows for the same statement are bound with executemany
    (in C: the GIL is held far less per row)."""
    start = 0
    while start < len(rows):
        statement = rows[start][0]
        end = start + 1
        while end < len(rows) and rows[end][0] == statement:
            end += 1
        batch = [values for _, values in rows[start:end]]
        if statement == "report":  # serialised here, on the writer's thread, not on the loop
            batch = [(*values[:4], json.dumps(values[4])) for values in batch]
        elif statement == "fill":  # a log written before fills had a midpoint: replayed without one
            batch = [values if len(values) == 10 else (*values, None) for values in batch]
        connection.executemany(STATEMENTS[statement], batch)
        start = end

