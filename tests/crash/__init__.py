"""The crash checker: proves (or refutes) that a SIGKILLed engine loses no fill, overfills no parent
and reuses no child order id, Jepsen-style: real processes, real SIGKILLs, and a comparison of the
outcome with independent records of truth (the venues' ground-truth log, the trader's own records),
never with log text.

    python -m tests.crash --kills 10 --parents 60 --out out/crash         # see --help
    python -m tests.crash --kills 0 --venue-kills 3 --disconnects 3
    .venv/bin/python -m pytest -m slow tests/engine/test_crash.py          # the three CI scenarios

Problem counts (each must be 0; exit 1 otherwise): lost fills, overfilled parents, parents whose
journaled or trader-side CumQty differs from what their children really filled, reused child ids,
orders left without a final report, orders booked under two parents, parents the journal still holds
open at the end, and processes that ended without our SIGKILL. With ``--out`` the run directory keeps
every config, log, store, the journal and the ground truth, plus crash_check.json with the counts and
the first examples of each problem.

Modules: check (one run), cluster (the processes), flow (the trader's parents), configs (durable
FIX settings on both sides), evidence (reading the records), compare (the verdict, pure).
"""

from tests.crash.check import BadOptions, CheckOptions, CheckResult, run_check

__all__ = ["BadOptions", "CheckOptions", "CheckResult", "run_check"]
