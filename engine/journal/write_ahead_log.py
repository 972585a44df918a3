"""The journal's write-ahead log: an append-only file of committed entries, one ``write`` each.

Why not SQLite for this part: the order path commits before every sweep and before fills reach a
trader, on the event loop's thread. In the running engine an INSERT of a sweep's rows into a SQLite
log took 80 us, a commit of them into the tables 155-415 us (110-140 us alone, without threads
competing for the GIL); a ``write`` of the same rows pickled takes 8-12 us. What a commit must
promise is only that a killed process keeps it: a ``write`` that returned is in the kernel's page
cache and survives the process (as a SQLite WAL commit with ``synchronous=NORMAL`` does; both lose
the last commits only to a power cut).

Format: files ``<journal>-wal.<generation>``, each a run of entries
``[payload length: 4 bytes][crc32 of the payload: 4 bytes][payload: pickled rows]``. An entry
cut short by a kill, or whose checksum does not match, ends the file: it was never acknowledged
(``commit`` had not returned), so nothing was sent on the strength of it. The journal's writer
thread applies entries to the SQLite tables and records how far (generation, offset) in the same
transaction; the loop starts a new generation once the current file is large and fully applied,
and deletes the old one. Payloads are pickled rows of plain values written by this process only:
the log is the engine's own file, like the database beside it.
"""

from __future__ import annotations

import os
import pickle
import struct
import zlib
from pathlib import Path

_HEADER = struct.Struct("<II")
ROTATE_BYTES = 16 * 1024 * 1024  # a new file once the current one is this large and fully applied


def log_files(journal: Path) -> list[tuple[int, Path]]:
    """(generation, path) of every log file of a journal, oldest first."""
    journal = Path(journal)
    found = []
    for path in journal.parent.glob(journal.name + "-wal.*"):
        suffix = path.name.rsplit(".", 1)[-1]
        if suffix.isdigit():
            found.append((int(suffix), path))
    return sorted(found)


def log_path(journal: Path, generation: int) -> Path:
    return Path(journal).with_name(f"{Path(journal).name}-wal.{generation}")


class LogWriter:
    """The loop's end: appends entries to the current generation's file."""

    def __init__(self, journal: Path, generation: int) -> None:
        self.journal = Path(journal)
        self.generation = generation
        self.path = log_path(journal, generation)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self.size = os.fstat(self._fd).st_size

    def append(self, rows: list) -> None:
        payload = pickle.dumps(rows, protocol=5)
        entry = _HEADER.pack(len(payload), zlib.crc32(payload)) + payload
        written = os.write(self._fd, entry)
        if written != len(entry):  # a full disk mid-entry: the torn tail is ignored when read
            raise OSError(f"short write to {self.path}: {written} of {len(entry)} bytes")
        self.size += written

    def rotate(self) -> Path:
        """Continue in the next generation's file; returns the previous file (the caller deletes it
        once it is fully applied)."""
        old = self.path
        os.close(self._fd)
        self.generation += 1
        self.path = log_path(self.journal, self.generation)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self.size = 0
        return old

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def read_entries(path: Path, offset: int) -> tuple[list[list], int]:
    """The complete entries of a log file after ``offset``, and the offset after the last one."""
    try:
        with open(path, "rb") as file:
            file.seek(offset)
            data = file.read()
    except FileNotFoundError:
        return [], offset
    entries, position = [], 0
    while position + _HEADER.size <= len(data):
        length, checksum = _HEADER.unpack_from(data, position)
        start, end = position + _HEADER.size, position + _HEADER.size + length
        if end > len(data) or zlib.crc32(data[start:end]) != checksum:
            break  # cut short by a kill (or still being written): never acknowledged
        entries.append(pickle.loads(data[start:end]))
        position = end
    return entries, offset + position
