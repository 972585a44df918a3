"""Durable order memory of the simulated venues (``store: file``), as real venues keep their book.

Each venue appends one JSON line per order state change to ``<store_path>/orders/<venue>.jsonl``:
an order's state after its arrival (``order``), after a cancel (``canceled``), after the
cancel-on-restart rule (``canceled_on_restart``), or a ClOrdID used up by a rejection
(``rejected``). The venue core hands the record to :meth:`OrderFile.append` before it returns the
reports, so the line reaches the OS before QuickFIX sees a report (write-ahead): a process killed
after that still answers a status request with the fill, and one killed before it never sent a
report of that order. One ``encode`` and one unbuffered ``write`` per change, no fsync: the store
protects against a killed process, not a lost machine.

At start (:func:`attach_order_file`) the file is replayed into the venue, then rewritten with only
what the venue remembers (``state`` records, bounded by ``history_limit``), so neither the file nor
the next start-up grows with the number of runs, and a torn last line (a kill mid-write) is dropped
there rather than glued to the next append. Then the resting orders are canceled through the same
append path. A rewrite killed halfway leaves the old file in place (write to a temporary, then
``os.replace``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Iterable

from sim_venues.venue import Venue

ORDERS_FOLDER = "orders"
_encode = json.JSONEncoder(separators=(",", ":")).encode  # built once: json.dumps with options builds one per call


class OrderStoreError(Exception):
    """The order file cannot be read back (anything worse than a torn last line)."""


@dataclass(frozen=True)
class Replay:
    records: list[dict[str, Any]]
    torn_tail: bool  # the last line had no newline: a write cut short by a kill, skipped


@dataclass(frozen=True)
class AttachedStore:
    file: "OrderFile"
    replay: Replay
    canceled_on_restart: list[dict[str, Any]] = field(default_factory=list)


def order_file_path(store_path: Path, venue: str) -> Path:
    return store_path / ORDERS_FOLDER / f"{venue}.jsonl"


class OrderFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: BinaryIO | None = None

    def load(self) -> Replay:
        """Every complete line, oldest first; a missing file is an empty memory."""
        records: list[dict[str, Any]] = []
        torn = False
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            return Replay(records, False)
        with handle:
            for number, line in enumerate(handle, 1):
                if not line.endswith(b"\n"):
                    torn = bool(line.strip())  # only the last line can lack its newline
                    break
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError as error:
                    raise OrderStoreError(f"{self.path}:{number}: not a JSON line ({error}); only a torn "
                                          "last line is skipped") from None
                if not isinstance(record, dict):
                    raise OrderStoreError(f"{self.path}:{number}: expected a JSON object, got {record!r}")
                records.append(record)
        return Replay(records, torn)

    def rewrite(self, records: Iterable[dict[str, Any]]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        with temporary.open("wb") as handle:
            for record in records:
                handle.write((_encode(record) + "\n").encode())
        os.replace(temporary, self.path)

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Unbuffered: each append is one write(2) of the whole line, in the OS when it returns.
        self._file = open(self.path, "ab", buffering=0)

    def append(self, record: dict[str, Any]) -> None:
        data = (_encode(record) + "\n").encode()
        written = self._file.write(data)
        if written is not None and written < len(data):  # a short write (disk full, ...): finish the line
            view = memoryview(data)
            while written < len(data):
                written += self._file.write(view[written:])

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def attach_order_file(venue: Venue, store_path: Path) -> AttachedStore:
    """Replay the venue's file into it, compact the file, make every later change append to it, and
    apply the cancel-on-restart rule (written like any change). Call before the venue's session
    serves anything."""
    order_file = OrderFile(order_file_path(store_path, venue.name))
    replay = order_file.load()
    try:
        venue.restore(replay.records)
    except ValueError as error:
        raise OrderStoreError(f"{order_file.path}: {error}") from None
    order_file.rewrite(venue.remembered())
    order_file.open()
    venue.on_change = order_file.append
    canceled = venue.cancel_resting()
    return AttachedStore(order_file, replay, canceled)
