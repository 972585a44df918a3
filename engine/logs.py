"""structlog set-up: JSON lines in production, readable lines on a terminal.

Context (parent, sweep, child, venue) is passed as key-value pairs on every event, so a JSON log
can be filtered by any of them.
"""

from __future__ import annotations

import logging
import sys

import structlog


def configure_logging(log_format: str = "auto", level: str = "info", stream=None) -> None:
    stream = stream or sys.stderr
    if log_format == "auto":
        log_format = "console" if stream.isatty() else "json"
    if log_format == "console":
        tail = [structlog.dev.ConsoleRenderer(colors=stream.isatty())]  # renders exceptions itself
    else:
        tail = [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, structlog.processors.add_log_level,
                    structlog.processors.TimeStamper(fmt="iso", utc=True), *tail],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=True)
