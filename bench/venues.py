"""Benchmark: IOC orders per second through one venue process hosting 12 venues, zero latency.

Two processes per measurement, so the client does not share the venue's GIL: the server (the real
``dark-agg venues`` command with a generated config, ground-truth log on, as shipped) and this
process as a lean quickfix initiator with one session per venue. The client runs a closed loop: a
window of IOC orders in flight per venue, and each final report (OrdStatus 2, 4 or 8) sends the next
order from the callback. Rate = orders completed / wall time, order in to final report out.

The reference measured in the same run: a raw quickfix acceptor with the same 12 sessions that
answers every NewOrderSingle with one fixed ExecutionReport (no matching, no logging). The ratio
shows what the venue logic costs over bare quickfix.

    python -m bench.venues            # or call run(print) from bench/__main__.py
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable

from engine.process.launch import free_ports

ROOT = Path(__file__).resolve().parent.parent
DICTIONARY = ROOT / "fix_specs" / "FIX44.xml"
VENUES = [f"V{i}" for i in range(1, 13)]
CLIENT = "BENCH"
WINDOW = 16  # orders in flight per venue


def _settings(fix, kind: str, ports: list[int], *, initiator: bool):
    settings = fix.SessionSettings()
    defaults = fix.Dictionary()
    values = {"ConnectionType": kind, "SocketNodelay": "Y", "NonStopSession": "Y", "UseDataDictionary": "Y",
              "DataDictionary": str(DICTIONARY), "ResetOnLogon": "Y", "ResetOnDisconnect": "Y",
              "CheckLatency": "N", "HeartBtInt": "30", "ReconnectInterval": "1", "SocketConnectHost": "127.0.0.1"}
    for key, value in values.items():
        defaults.setString(key, value)
    settings.set(defaults)
    for venue, port in zip(VENUES, ports):
        section = fix.Dictionary()
        section.setString("SocketConnectPort" if initiator else "SocketAcceptPort", str(port))
        sid = fix.SessionID("FIX.4.4", CLIENT, venue) if initiator else fix.SessionID("FIX.4.4", venue, CLIENT)
        settings.set(sid, section)
    return settings


def serve_echo(ports: list[int], with_ack: bool = False) -> None:
    """The raw reference: answer each order with one ExecutionReport (Canceled), nothing else;
    ``with_ack`` sends a New ack first, as the sim venues do for an IOC order."""
    import signal

    import quickfix as fix

    class Echo(fix.Application):
        def onCreate(self, s): pass
        def onLogon(self, s): pass
        def onLogout(self, s): pass
        def toAdmin(self, m, s): pass
        def fromAdmin(self, m, s): pass
        def toApp(self, m, s): pass

        def fromApp(self, message, session):
            try:
                cl_ord_id = message.getField(11)
                for status in ("0", "4") if with_ack else ("4",):
                    # built as text, one SWIG call, the way the engine and the sim venues build theirs
                    text = (f"8=FIX.4.4\x019=0\x0135=8\x0137=1\x0111={cl_ord_id}\x0117=1\x01150={status}"
                            f"\x0139={status}\x0154=1\x0155=VOD.L\x01151=0\x0114=0\x016=0\x0110=000\x01")
                    fix.Session.sendToTarget(fix.Message(text, False), session)
            except Exception as error:  # noqa: BLE001
                print(repr(error), file=sys.stderr)

    settings = _settings(fix, "acceptor", ports, initiator=False)
    acceptor = fix.SocketAcceptor(Echo(), fix.MemoryStoreFactory(), settings)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    acceptor.start()
    print("ready", flush=True)
    while not stopping.wait(0.2):
        pass
    acceptor.stop()


def _venue_config(ports: list[int], directory: Path, ground_truth: bool = True) -> Path:
    market = ROOT / "config" / "markets" / "lse.yaml"
    truth = directory / "ground_truth.jsonl" if ground_truth else "null"
    lines = [f"market: {market}", "seed: 7", f"ground_truth_log: {truth}",
             "symbols:", "  VOD.L: {reference_price: 25.0, tick: 0.01, walk_step_probability: 0.1}",
             f"venue_defaults: {{target_comp_id: {CLIENT}, latency: {{fixed_ms: 0, jitter_ms: 0}}}}", "venues:"]
    lines += [f"  - {{name: {v}, port: {p}, sender_comp_id: {v}}}" for v, p in zip(VENUES, ports)]
    path = directory / "bench_venues.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _start(command: list[str]) -> subprocess.Popen:
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    for line in process.stdout:
        if line.strip() == "ready":
            return process
        if time.monotonic() > deadline:
            break
    process.kill()
    raise RuntimeError(f"server did not start: {command}")


def start_client(ports: list[int], on_message: Callable[[object, object], None]):
    """A lean quickfix initiator with one session per venue, logged on to all of them; each
    application message goes to ``on_message(message, session)`` on QuickFIX's thread (its errors
    are printed, never raised into QuickFIX). Returns the started initiator: stop() it."""
    import quickfix as fix

    from engine.fix.thread_state import keep_thread_state

    logged_on: set[str] = set()
    lock = threading.Lock()

    class Client(fix.Application):
        def onCreate(self, s): pass
        def onLogout(self, s): pass
        def toAdmin(self, m, s): pass
        def fromAdmin(self, m, s): pass
        def toApp(self, m, s): pass

        def onLogon(self, session):
            with lock:
                logged_on.add(session.toString())

        def fromApp(self, message, session):
            try:
                keep_thread_state()
                on_message(message, session)
            except Exception as error:  # noqa: BLE001
                print(repr(error), file=sys.stderr)

    initiator = fix.SocketInitiator(Client(), fix.MemoryStoreFactory(),
                                    _settings(fix, "initiator", ports, initiator=True))
    initiator.start()
    deadline = time.monotonic() + 20
    while len(logged_on) < len(VENUES):
        if time.monotonic() > deadline:
            initiator.stop()
            raise RuntimeError("the bench client could not log on to every venue")
        time.sleep(0.05)
    return initiator


def _drive(ports: list[int], orders_per_venue: int) -> tuple[float, int, int]:
    """Closed-loop IOC flow to 12 sessions; returns (seconds, orders completed, messages received)."""
    import quickfix as fix

    done = threading.Event()
    lock = threading.Lock()
    state = {"sent": {v: 0 for v in VENUES}, "finished": 0, "messages": 0}
    total = orders_per_venue * len(VENUES)
    sessions = {v: fix.SessionID("FIX.4.4", CLIENT, v) for v in VENUES}

    def send(venue: str) -> None:
        number = state["sent"][venue]
        state["sent"][venue] = number + 1
        order = fix.Message()
        order.getHeader().setField(35, "D")
        for tag, value in ((11, f"{venue}-{number}"), (54, "1"), (55, "VOD.L"), (38, str(100 * (1 + number % 50))),
                           (40, "P"), (18, "M"), (59, "3")):
            order.setField(tag, value)
        order.setField(fix.TransactTime())
        fix.Session.sendToTarget(order, sessions[venue])

    def on_message(message, session):
        state["messages"] += 1
        if message.getField(39) in ("2", "4", "8"):
            venue = session.getTargetCompID().getValue()
            state["finished"] += 1
            if state["sent"][venue] < orders_per_venue:
                send(venue)
            if state["finished"] == total:
                done.set()

    initiator = start_client(ports, on_message)
    try:
        start = time.perf_counter()
        for venue in VENUES:  # the single QuickFIX thread of the client serialises these with callbacks
            for _ in range(min(WINDOW, orders_per_venue)):
                send(venue)
        if not done.wait(120):
            raise RuntimeError(f"only {state['finished']} of {total} orders finished")
        return time.perf_counter() - start, state["finished"], state["messages"]
    finally:
        initiator.stop()


def run(report=print, orders_per_venue: int = 1500) -> dict[str, float]:
    """Measure and print; returns the figures (orders/s and messages/s for venues and raw quickfix)."""
    python = sys.executable
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        ports = free_ports(len(VENUES))
        config = _venue_config(ports, Path(tmp))
        for label, command in (
                ("raw quickfix echo", [python, "-m", "bench.venues", "--serve-echo", *map(str, ports)]),
                ("sim venues", [python, "-m", "engine.commands.cli", "venues", "--config", str(config)])):
            server = _start(command)
            try:
                seconds, orders, messages = _drive(ports, orders_per_venue)
            finally:
                server.terminate()
                server.wait(30)
            figures[f"{label} orders/s"] = orders / seconds
            figures[f"{label} messages/s"] = messages / seconds
    venue_rate, raw_rate = figures["sim venues orders/s"], figures["raw quickfix echo orders/s"]
    report("Simulated venues: 12 venues in one process, zero latency, IOC order in -> final report out")
    report(f"  {'':22}{'orders/s':>10}{'reports/s':>11}")
    for label in ("sim venues", "raw quickfix echo"):
        report(f"  {label:<22}{figures[label + ' orders/s']:>10.0f}{figures[label + ' messages/s']:>11.0f}")
    report(f"  venues / raw = {venue_rate / raw_rate:.2f}   goal >= 3000 orders/s: "
           f"{'met' if venue_rate >= 3000 else 'NOT met'}   ({orders_per_venue} orders per venue, window {WINDOW})")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders-per-venue", type=int, default=1500)
    parser.add_argument("--serve-echo", nargs="+", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--with-ack", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_echo:
        serve_echo(args.serve_echo, args.with_ack)
        return 0
    run(print, args.orders_per_venue)
    return 0


if __name__ == "__main__":
    sys.exit(main())
