"""``dark-agg order``: send one parent order to a running aggregator as a FIX 4.4 trader, print each
ExecutionReport as it arrives, and exit when the parent is done.

Exit status: 0 filled, canceled or expired; 1 rejected; 2 no logon, timeout, bad arguments, or
Ctrl-C (which first asks the engine to cancel the parent and shows how it ends).
``configure`` stays light (no quickfix): the client is imported inside ``run``. Reports arrive on
QuickFIX's thread and are printed by the main thread through a queue.
"""

from __future__ import annotations

import argparse
import queue
import sys
import time
from pathlib import Path

EXIT_DONE, EXIT_REJECTED, EXIT_FAILED = 0, 1, 2
CANCEL_WAIT_SECONDS = 5.0


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--side", required=True, choices=("buy", "sell"), help="buy or sell")
    parser.add_argument("--symbol", required=True, help="instrument, e.g. VOD.L (one of the engine's symbols)")
    parser.add_argument("--qty", required=True, type=int, help="parent quantity in shares")
    parser.add_argument("--limit", type=float, default=None,
                        help="limit price: trade only when the midpoint is within it (default: market, any midpoint)")
    parser.add_argument("--tif", choices=("DAY", "IOC", "GTD"), type=str.upper, default=None,
                        help="time in force: DAY (default), IOC (one sweep), GTD (needs --expire-seconds)")
    parser.add_argument("--expire-seconds", type=float, default=None, metavar="S",
                        help="GTD: the parent expires S seconds from now (implies --tif GTD)")
    parser.add_argument("--min-qty", type=int, default=None, metavar="N",
                        help="MinQty: the smallest execution accepted from any venue")
    parser.add_argument("--config", type=Path, default=Path("config/engine.yaml"),
                        help="engine config giving the trader host, port and CompIDs (default: config/engine.yaml)")
    parser.add_argument("--trader", default=None,
                        help="trader CompID to log on as (default: the first of the config's trader sessions)")
    parser.add_argument("--timeout", type=float, default=60.0, metavar="S",
                        help="give up after S seconds without the parent being done (default 60)")
    parser.add_argument("--cl-ord-id", default=None, help="ClOrdID of the parent (default: derived from the time)")


def run(args: argparse.Namespace) -> int:
    from engine.config import load_engine_config
    from engine.config.loading import load_or_report

    config = load_or_report(load_engine_config, args.config, "order")
    if config is None:
        return EXIT_FAILED
    tif = args.tif or ("GTD" if args.expire_seconds is not None else "DAY")
    if tif == "GTD" and args.expire_seconds is None:
        return _fail("--tif GTD needs --expire-seconds")
    if tif != "GTD" and args.expire_seconds is not None:
        return _fail(f"--expire-seconds is for GTD orders, not {tif}")
    traders = list(config.fix.trader.sessions)
    trader = args.trader or traders[0]
    if trader not in traders:
        return _fail(f"--trader {trader}: not a trader session of {args.config} (configured: {', '.join(traders)})")

    from engine.fix.trader_client import TraderClient, describe  # imports quickfix

    fix = config.fix
    reports: queue.SimpleQueue = queue.SimpleQueue()
    client = TraderClient(fix.trader.host, fix.trader.port, trader, fix.trader.sender_comp_id, fix.data_dictionary,
                          on_report=reports.put)
    cl_ord_id = args.cl_ord_id or f"ORD-{int(time.time() * 1000)}"
    deadline = time.monotonic() + args.timeout
    client.start()
    try:
        if not client.wait_logged_on(min(args.timeout, 10.0)):
            return _fail(f"no logon at {client.address} as {trader} -> {fix.trader.sender_comp_id}: "
                         "is `dark-agg run` running there?")
        expire_at = None if args.expire_seconds is None else time.time() + args.expire_seconds
        print(f"{trader} -> {client.address}: {args.side} {args.qty} {args.symbol} "
              f"{'market' if args.limit is None else f'limit {args.limit:g}'} {tif} ClOrdID={cl_ord_id}", flush=True)
        if not client.send_order(cl_ord_id, args.side, args.symbol, args.qty, limit=args.limit, tif=tif,
                                 expire_at=expire_at, min_qty=args.min_qty):
            return _fail(f"could not send the order to {client.address} (session down)")
        final = _follow(reports, cl_ord_id, deadline, describe)
        if final is None:
            return _fail(f"parent {cl_ord_id} not done within {args.timeout:g} s; it may still be working at "
                         f"{client.address}")
        return EXIT_REJECTED if final.ord_status == "8" else EXIT_DONE
    except KeyboardInterrupt:
        # Leave nothing working behind: ask the engine to cancel, and show how the parent ends.
        print(f"interrupted: cancelling {cl_ord_id}", file=sys.stderr, flush=True)
        if client.logged_on and client.cancel(f"{cl_ord_id}-X", cl_ord_id, args.side, args.symbol, args.qty):
            final = _follow(reports, cl_ord_id, time.monotonic() + CANCEL_WAIT_SECONDS, describe)
            if final is None:
                print(f"no final report within {CANCEL_WAIT_SECONDS:g} s; {cl_ord_id} may still be working",
                      file=sys.stderr)
        return EXIT_FAILED
    finally:
        client.stop()


def _follow(reports: queue.SimpleQueue, cl_ord_id: str, deadline: float, describe):
    """Print the reports of ``cl_ord_id`` as they arrive; the final one, or None at the deadline."""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        try:
            report = reports.get(timeout=min(remaining, 0.25))
        except queue.Empty:
            continue
        if cl_ord_id not in (report.cl_ord_id, report.orig_cl_ord_id):
            continue
        print(describe(report), flush=True)
        if report.is_done:
            return report


def _fail(message: str) -> int:
    print(f"dark-agg order: {message}", file=sys.stderr)
    return EXIT_FAILED
