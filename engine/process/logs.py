"""structlog set-up: JSON lines in production, readable lines on a terminal.

Context (parent, sweep, child, venue) is passed as key-value pairs on every event, so a JSON log
can be filtered by any of them. JSON lines are buffered and written every ``FLUSH_SECONDS`` by a
small thread (and at exit): a write per line released the GIL to the QuickFIX thread on every sweep
and cost the event loop about 70 us a line. A terminal gets every line at once.

Every writer of the process's output (the batches, the console lines, :func:`write_line`) writes
under one lock, whole lines only: the ``ready`` line that scripts wait for can never come out glued
to a log line (stdout and stderr often share one file, as under `engine.process.launch`).
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading

import structlog

FLUSH_SECONDS = 0.2
OUTPUT_LOCK = threading.Lock()  # held by whoever writes lines to the process's stdout or stderr


def write_line(line: str, stream=None) -> None:
    """Write one whole line (``ready``, an error) to stdout (or ``stream``) as a single write, never
    inside a log batch or another line."""
    stream = stream or sys.stdout
    with OUTPUT_LOCK:
        stream.flush()
        os.write(stream.fileno(), (line.rstrip("\n") + "\n").encode())


class LockedLines:
    """A text stream whose every write (one whole line, as structlog's WriteLogger makes it) is
    written and flushed under :data:`OUTPUT_LOCK`."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        with OUTPUT_LOCK:
            self._stream.write(text)
            self._stream.flush()
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return self._stream.isatty()


class BufferedLines:
    """A write-only text stream that gathers lines and writes them out in batches."""

    def __init__(self, stream) -> None:
        self._stream = stream
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._flush_forever, name="log-writer", daemon=True)
        self._thread.start()
        atexit.register(self.write_out)

    def write(self, text: str) -> int:
        with self._lock:
            self._lines.append(text)
        return len(text)

    def flush(self) -> None:  # structlog flushes after every line: batching is the point
        pass

    def write_out(self) -> None:
        with self._lock:
            lines, self._lines = self._lines, []
        if lines:
            with OUTPUT_LOCK:
                self._stream.write("".join(lines))
                self._stream.flush()

    def _flush_forever(self) -> None:
        event = threading.Event()
        while not event.wait(FLUSH_SECONDS):
            try:
                self.write_out()
            except (OSError, ValueError):  # the stream closed under us at exit
                return


def configure_logging(log_format: str = "auto", level: str = "info", stream=None) -> None:
    stream = stream or sys.stderr
    if log_format == "auto":
        log_format = "console" if stream.isatty() else "json"
    if log_format == "console":
        tail = [structlog.dev.ConsoleRenderer(colors=stream.isatty())]  # renders exceptions itself
        factory = structlog.WriteLoggerFactory(LockedLines(stream))  # one write per line, under the lock
    else:
        tail = [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
        factory = structlog.WriteLoggerFactory(BufferedLines(stream))
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso", utc=True), *tail],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        logger_factory=factory,
        cache_logger_on_first_use=True)
