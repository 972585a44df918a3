"""``python -m tests.crash [options]``: one crash-check run; exit 0 when no problem was found, 1
when one was (or the run could not be completed), 2 on bad arguments."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tests.crash.check import REPORT, BadOptions, CheckOptions, run_check


def parser() -> argparse.ArgumentParser:
    defaults = CheckOptions()
    p = argparse.ArgumentParser(
        prog="python -m tests.crash",
        description="SIGKILL the engine (and the venues) while parents trade, then compare the venues' ground "
                    "truth, the journal and the trader's records: lost fills, overfilled parents, differing "
                    "CumQty and reused child ids must all be zero.")
    p.add_argument("--parents", type=int, default=defaults.parents,
                   help="DAY market parents to send, log-uniform 10,000 to 3,000,000 shares (default: %(default)s)")
    p.add_argument("--kills", type=int, default=defaults.kills, help="engine SIGKILLs (default: %(default)s)")
    p.add_argument("--venue-kills", type=int, default=defaults.venue_kills,
                   help="SIGKILLs of the venues process, each restarted on the same store (default: %(default)s)")
    p.add_argument("--disconnects", type=int, default=defaults.disconnects,
                   help="venues that drop their connection after every --disconnect-every orders; the drops that "
                        "really happened are counted from the ground-truth log (default: %(default)s)")
    p.add_argument("--disconnect-every", type=int, default=defaults.disconnect_every,
                   help="orders between two drops of a disconnecting venue (default: %(default)s)")
    p.add_argument("--seed", type=int, default=defaults.seed,
                   help="seeds the parents, the fault moments and the venues' liquidity (default: %(default)s)")
    p.add_argument("--fault-after", type=float, nargs=2, metavar=("MIN", "MAX"), default=list(defaults.fault_after),
                   help="each fault comes uniformly MIN to MAX seconds after the last restart was ready "
                        f"(default: {defaults.fault_after[0]} {defaults.fault_after[1]})")
    p.add_argument("--flow-seconds", type=float, default=defaults.flow_seconds,
                   help="how long sending the parents takes when no process is killed (default: %(default)s)")
    p.add_argument("--settle-seconds", type=float, default=defaults.settle_seconds,
                   help="a parent works at least this long after its acknowledgment before the end cancels it "
                        "(default: %(default)s)")
    p.add_argument("--final-timeout", type=float, default=defaults.final_timeout,
                   help="seconds to wait for every final report after the cancels (default: %(default)s)")
    p.add_argument("--out", type=Path, default=None,
                   help="keep the run directory here (configs, logs, journal, ground truth, stores) with "
                        f"{REPORT}: the counts and the first examples of each problem (default: a temporary "
                        "directory, removed)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    options = CheckOptions(parents=args.parents, kills=args.kills, venue_kills=args.venue_kills,
                           disconnects=args.disconnects, disconnect_every=args.disconnect_every, seed=args.seed,
                           fault_after=tuple(args.fault_after), flow_seconds=args.flow_seconds,
                           settle_seconds=args.settle_seconds, final_timeout=args.final_timeout, out=args.out,
                           progress=not args.no_progress and sys.stderr.isatty())
    try:
        options.check()
    except BadOptions as error:
        p.error(str(error))  # exit 2
    try:
        result = run_check(options)
    except BadOptions as error:
        p.error(str(error))
    except Exception as error:  # noqa: BLE001 - a run that cannot finish is a failed check, said plainly
        print(f"crash check could not complete: {error}", file=sys.stderr)
        return 1
    print(result.line())
    if options.out is not None:
        print(f"details: {result.run_dir / REPORT}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
