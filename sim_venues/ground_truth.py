"""The ground-truth log: one JSON line per order (its hidden draw and its fill) and per fault.

It is a product feature, not a debug log: tests and studies read it to check that what the engine
observed is exactly the censored truth, ``filled == min(sent, hidden)`` unless MinQty or a limit
blocked it. It uses its own structlog logger bound to its own file (never the global structlog
configuration, which belongs to the process that embeds the venues). Lines are flushed as written,
so a reader sees an order's line before the client sees its last report.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, TextIO

import structlog


class GroundTruthLog:
    def __init__(self, path: Path | None) -> None:
        self._file: TextIO | None = None
        self._logger = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8")
            self._logger = structlog.wrap_logger(
                structlog.WriteLogger(self._file),
                # No TimeStamper: an ISO timestamp costs more than the rest of the line; ``ts``
                # (epoch seconds) and ``monotonic`` are added by record() instead.
                processors=[structlog.processors.JSONRenderer()],
            )

    @property
    def enabled(self) -> bool:
        return self._logger is not None

    def record(self, fields: dict[str, Any]) -> None:
        """Write one line; takes ownership of ``fields`` (it is extended, not copied)."""
        if self._logger is not None:
            fields["ts"] = time.time()
            fields["monotonic"] = time.monotonic()
            self._logger.msg(**fields)  # ``event`` is one of the fields: structlog's event key

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
            self._logger = None
