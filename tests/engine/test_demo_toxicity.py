"""`dark-agg demo --market config/markets/lse_toxic.yaml`: two stacks side by side on the same
parents, each its own venues and engine; both journals hold every parent done, fills stamped with
the feed's midpoint and their markouts; the aware engine learned a markout estimate and trades on
net values, the fill-only one did not; each stack's `dark-agg report` is written."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing

import pytest

from engine.commands.cli import main
from engine.journal import latest_weights
from engine.manager.weights import MARKOUTS_KEY

pytestmark = pytest.mark.slow

PARENTS = 40


def test_the_toxicity_demo_runs_both_engines_on_the_same_parents(tmp_path, capsys):
    out = tmp_path / "demo"
    code = main(["demo", "--market", "config/markets/lse_toxic.yaml", "--parents", str(PARENTS), "--window", "10",
                 "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0, printed[-3000:]
    assert "aware / fill-only: markout cost per share" in printed
    for stack in ("aware", "fill-only"):
        with closing(sqlite3.connect(out / stack / "journal.sqlite")) as journal:
            states = dict(journal.execute("SELECT state, COUNT(*) FROM parents GROUP BY state").fetchall())
            assert sum(states.values()) == PARENTS and set(states) <= {"filled", "canceled", "expired"}
            fills, stamped = journal.execute("SELECT COUNT(*), COUNT(midpoint) FROM fills").fetchone()
            assert fills > 0 and stamped == fills  # the feed was live for every fill
            marked = journal.execute("SELECT COUNT(DISTINCT exec_id) FROM markouts WHERE horizon_seconds = 1.0")
            assert marked.fetchone()[0] == fills  # the demo waits for the last fills' markouts
        report = json.loads((out / stack / "report" / "report.json").read_text())
        assert {row["venue"] for row in report["venues"]} >= {"V1", "V2"}
    aware, plain = (latest_weights(out / stack / "journal.sqlite") for stack in ("aware", "fill-only"))
    assert aware[MARKOUTS_KEY][1] > 0  # sweeps taught to the net value
    assert MARKOUTS_KEY not in plain   # the fill-only engine keeps no estimate
