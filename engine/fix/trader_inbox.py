"""The trader inbox: what a trader sent, durable before QuickFIX counts it as received.

QuickFIX raises a session's expected incoming sequence number (and writes it to the FileStore)
right after ``fromApp`` returns. A NewOrderSingle handed to the loop but not yet journaled when the
engine is killed would then be lost for good: the trader's QuickFIX never resends it (the engine
said it had it) and no ack ever comes. So ``fromApp`` first appends the message's text to this
file (one ``write`` to an O_APPEND descriptor, no fsync: it must survive a killed process, as the
journal's commits do), and only then hands it on.

At start the engine replays what the file holds and the journal does not (an order whose ClOrdID
the journal never saw), commits, and empties the file. While running, the file is emptied whenever
every message it holds has been handled by the manager and committed (:meth:`settle`, called after
each of the outbox's commits), so it stays a few lines long.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path


class TraderInbox:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._lock = threading.Lock()
        self._bytes = os.fstat(self._fd).st_size
        self.written = 0  # messages recorded by this process (QuickFIX's threads)

    def record(self, session: str, text: str) -> None:
        """Append one message (QuickFIX's thread, inside fromApp)."""
        line = (json.dumps([session, text]) + "\n").encode()
        with self._lock:
            os.write(self._fd, line)
            self._bytes += len(line)
            self.written += 1

    def settle(self, handled: int) -> None:
        """Empty the file when all ``written`` messages are handled and committed (the loop's thread,
        after a commit). ``handled``: how many of this process's recorded messages the manager has
        taken, all of them now in the journal."""
        if not self._bytes:
            return
        with self._lock:
            if handled >= self.written and self._bytes:
                os.ftruncate(self._fd, 0)
                self._bytes = 0

    def clear(self) -> None:
        """Empty the file (at start, once what it held is replayed and committed, before QuickFIX runs)."""
        with self._lock:
            os.ftruncate(self._fd, 0)
            self._bytes = 0

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


def inbox_entries(path: Path) -> list[tuple[str, str]]:
    """(session, message text) of a previous run, in arrival order; a torn last line is skipped."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        return []
    entries = []
    for line in raw.splitlines():
        try:
            session, text = json.loads(line)
        except (ValueError, TypeError):  # the process died while writing it: it was never handed on
            continue
        entries.append((session, text))
    return entries
