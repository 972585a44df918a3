"""The journal: the write-ahead log of the order path, and the engine's memory.

:mod:`engine.journal.journal` records and commits (the :class:`Journal`, its writer thread, and
the recovery at open), :mod:`engine.journal.write_ahead_log` is the log file the loop commits to,
:mod:`engine.journal.readers` reads the tables back (restore, summaries, the weights export), and
:mod:`engine.journal.tables` holds the SQLite schema both sides share.
"""

from engine.journal.journal import WRITE_PERIOD_SECONDS, Journal, JournalError
from engine.journal.readers import (FINAL_STATES, SweepRow, child_row, controls, fills_awaiting_markouts, incidents,
                                    latest_weights, open_parents, parent_row, parents_since, runs, seen_exec_ids, sweeps,
                                    unsent_trader_reports, used_cl_ord_ids)
from engine.journal.tables import SCHEMA

__all__ = ["FINAL_STATES", "SCHEMA", "WRITE_PERIOD_SECONDS", "Journal", "JournalError", "SweepRow", "child_row", "controls",
           "fills_awaiting_markouts", "incidents", "latest_weights", "open_parents", "parent_row", "parents_since",
           "runs", "seen_exec_ids", "sweeps", "unsent_trader_reports", "used_cl_ord_ids"]
