"""``dark-agg order``: send one parent order to a running aggregator as a FIX 4.4 trader, print each
ExecutionReport as it arrives, and exit when the parent is done.

Exit status: 0 filled, canceled or expired; 1 rejected; 2 no logon (refused or none), timeout, bad arguments, or
Ctrl-C (which first asks the engine to cancel the parent and shows how it ends).
``configure`` stays light (no quickfix): the client is imported inside ``run``. Reports arrive on
QuickFIX's thread and are printed by the main thread through a queue.

A secured trader port (config/engine.secure.yaml) is reached the way the config describes it:
``fix.trader.tls`` set (or any ``--tls-*`` flag) -> TLS, with ``--tls-cert``/``--tls-key`` when
the engine requires a client certificate; ``credentials: true`` -> ``--username`` and a password.
The password never goes on the command line, where ``ps`` and the shell history would show it: it
comes from DARKAGG_ORDER_PASSWORD, or the first line of standard input with ``--password-stdin``.
Every problem with these is found before connecting, and a refused logon is said as such; the
command gives up at the first refusal instead of letting QuickFIX retry, since the engine locks a
CompID out after repeated refusals.
"""

from __future__ import annotations

import argparse
import os
import queue
import sys
import time
from pathlib import Path

EXIT_DONE, EXIT_REJECTED, EXIT_FAILED = 0, 1, 2
CANCEL_WAIT_SECONDS = 5.0
PASSWORD_VARIABLE = "DARKAGG_ORDER_PASSWORD"


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
    secured = parser.add_argument_group(
        "secured trader port", "logon credentials and TLS, for an engine whose config has fix.trader.credentials: "
        "true or fix.trader.tls (e.g. config/engine.secure.yaml)")
    secured.add_argument("--username", default=None, metavar="NAME",
                         help="Username (553) to log on with; required when the config has fix.trader.credentials: "
                              f"true. The password comes from {PASSWORD_VARIABLE} or --password-stdin, never "
                              "from the command line")
    secured.add_argument("--password-stdin", action="store_true",
                         help=f"read the password from the first line of standard input (instead of {PASSWORD_VARIABLE})")
    secured.add_argument("--tls-ca", type=Path, default=None, metavar="PEM",
                         help="CA certificate(s) the engine's server certificate must chain to (default: the config's "
                              "fix.trader.tls.ca, the CA the engine checks client certificates against: right when "
                              "one CA signs both, as in config/engine.secure.yaml; otherwise give the server's CA)")
    secured.add_argument("--tls-cert", type=Path, default=None, metavar="PEM",
                         help="our client certificate (PEM); required when the config has "
                              "fix.trader.tls.require_client_certificate: true")
    secured.add_argument("--tls-key", type=Path, default=None, metavar="PEM", help="the private key of --tls-cert (PEM)")


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

    try:
        tls = _tls(args, config.fix.trader.tls)
        username, password = _credentials(args, config.fix.trader.credentials)
    except _Refused as refused:
        return _fail(str(refused))

    from engine.fix.trader_client import TraderClient, describe  # imports quickfix

    fix = config.fix
    reports: queue.SimpleQueue = queue.SimpleQueue()
    client = TraderClient(fix.trader.host, fix.trader.port, trader, fix.trader.sender_comp_id, fix.data_dictionary,
                          on_report=reports.put, tls=tls, username=username, password=password)
    cl_ord_id = args.cl_ord_id or f"ORD-{int(time.time() * 1000)}"
    deadline = time.monotonic() + args.timeout
    client.start()
    try:
        if not client.wait_logged_on(min(args.timeout, 10.0), stop_at_refusal=True):
            return _fail(_no_logon(client, trader, fix.trader.sender_comp_id))
        expire_at = None if args.expire_seconds is None else time.time() + args.expire_seconds
        print(f"{trader} -> {client.address}{' (TLS)' if tls else ''}: {args.side} {args.qty} {args.symbol} "
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


class _Refused(Exception):
    """A reason not to connect at all (the message says what to change)."""


def _tls(args: argparse.Namespace, engine_tls):
    """The client's InitiatorTlsConfig, or None for plain TCP. ``engine_tls``: the config's
    fix.trader.tls (an AcceptorTlsConfig), which says whether the port is TLS and what it demands."""
    from engine.config.security import InitiatorTlsConfig

    if engine_tls is None and args.tls_ca is None and args.tls_cert is None and args.tls_key is None:
        return None
    ca = args.tls_ca or (engine_tls.ca if engine_tls is not None else None)
    if ca is None:
        raise _Refused(f"--tls-ca is needed: {args.config} has no fix.trader.tls.ca to take it from")
    ca_flag = "--tls-ca" if args.tls_ca is not None else "--tls-ca (default: fix.trader.tls.ca)"
    for flag, path in ((ca_flag, ca), ("--tls-cert", args.tls_cert), ("--tls-key", args.tls_key)):
        if path is not None and not path.is_file():
            raise _Refused(f"{flag} {path}: no such file")
    if (args.tls_cert is None) != (args.tls_key is None):
        raise _Refused("--tls-cert and --tls-key go together: give both or neither")
    if args.tls_cert is None and engine_tls is not None and engine_tls.require_client_certificate:
        raise _Refused(f"the engine requires a client certificate (fix.trader.tls.require_client_certificate "
                       f"in {args.config}): give --tls-cert and --tls-key")
    # absolute: QuickFIX would resolve relative paths from its own working directory
    return InitiatorTlsConfig(ca=ca.resolve(), certificate=None if args.tls_cert is None else args.tls_cert.resolve(),
                              key=None if args.tls_key is None else args.tls_key.resolve())


def _credentials(args: argparse.Namespace, required: bool) -> tuple[str | None, str | None]:
    """(username, password), both or neither. The password is only passed on, never printed."""
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")  # spaces are the password's own
        if not password:
            raise _Refused("--password-stdin: no password on the first line of standard input")
    else:
        password = os.environ.get(PASSWORD_VARIABLE) or None
    if args.username is None:
        if required:
            raise _Refused(f"the engine wants a Username and Password at logon (fix.trader.credentials in "
                           f"{args.config}): give --username, and the password in {PASSWORD_VARIABLE} or "
                           "with --password-stdin")
        if args.password_stdin:
            raise _Refused("--password-stdin without --username: give the Username to log on with")
        return None, None  # a stray DARKAGG_ORDER_PASSWORD with no username is not sent anywhere
    if password is None:
        raise _Refused(f"--username {args.username} needs a password: set {PASSWORD_VARIABLE} or use "
                       "--password-stdin")
    return args.username, password


def _no_logon(client, trader: str, engine_comp_id: str) -> str:
    """Why there was no logon, as far as the client can tell."""
    from engine.security import REFUSED_LOGON_TEXT

    where = f"{client.address} as {trader} -> {engine_comp_id}"
    text = client.last_logout_text
    if text and REFUSED_LOGON_TEXT in text:
        return f"logon refused by the engine at {where} (check --username and the password)"
    if text:
        return f"no logon at {where}: the engine logged us out ({text})"
    if client.tls is not None:
        return (f"no logon at {where} over TLS: is `dark-agg run` running there, does its certificate chain to "
                f"{client.tls.ca}, and does it accept our client certificate?")
    return f"no logon at {where}: is `dark-agg run` running there?"


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
