"""Reading the records a crash check compares: the venues' ground-truth log and the engine's journal.

Both are read directly (JSON lines, SQLite opened read-only) rather than through the engine's own
readers: the checker must not share code paths with what it checks.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

JOURNAL_TABLES = ("parents", "children", "fills")


def read_truth(path: Path) -> tuple[list[dict], int]:
    """The ground-truth records and the number of lines that are not JSON (a venue process SIGKILLed
    mid-write can leave half a line, which the restarted process's first line is then glued to:
    a record lost from the truth, so the checker reports how many)."""
    records, unreadable = [], 0
    if not path.exists():
        return records, unreadable
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            line = line.strip()
            if not line:
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                unreadable += 1
    return records, unreadable


def read_journal(path: Path) -> dict[str, list[dict]]:
    """``{"parents": [...], "children": [...], "fills": [...]}``, each row a column dict (empty lists
    when the journal does not exist: an engine that never wrote one has lost everything)."""
    if not path.exists():
        return {table: [] for table in JOURNAL_TABLES}
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
        connection.row_factory = sqlite3.Row
        return {table: [dict(row) for row in connection.execute(f"SELECT * FROM {table}")]
                for table in JOURNAL_TABLES}
