"""The ground-truth log: one JSON line per order (its hidden draw and its fill) and per fault.

It is a product feature, not a debug log: tests and studies read it to check that what the engine
observed is exactly the censored truth, ``filled == min(sent, hidden)`` unless MinQty or a limit
blocked it. Lines are plain ``json.dumps`` written and flushed at once (no logging framework:
structlog's processor chain cost about 30 us per order, a sixth of a venue's work), so a reader sees
an order's line before the client sees its last report.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any, TextIO


class GroundTruthLog:
    def __init__(self, path: Path | None) -> None:
        self._file: TextIO | None = None
        self._lock = threading.Lock()  # the QuickFIX thread and the scheduler thread both record
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8")

    @property
    def enabled(self) -> bool:
        return self._file is not None

    def record(self, fields: dict[str, Any]) -> None:
        """Write one line; takes ownership of ``fields`` (it is extended, not copied)."""
        if self._file is not None:
            fields["ts"] = time.time()  # epoch seconds: an ISO timestamp costs more than the line
            fields["monotonic"] = time.monotonic()
            line = json.dumps(fields, default=str) + "\n"
            with self._lock:
                if self._file is not None:
                    self._file.write(line)
                    self._file.flush()

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
