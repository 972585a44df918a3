"""Start the simulated venues and the engine as separate processes on free loopback ports, the way
an operator would (`dark-agg venues`, `dark-agg run`): the demo and the benchmark use this, so they
exercise the real commands. Each process gets its own CPU time (no shared GIL with the trader).

Config files are written into a run directory from the project's defaults with the ports, the
journal and the FIX stores replaced, so nothing depends on ports 9101-9200 being free.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parents[2]
CONFIG = PROJECT / "config"


_LOWEST_PORT = 20000
_handed_out: set[int] = set()
_port_choice = random.Random()  # its own generator: tests that seed `random` must not pick the same ports


def _ephemeral_floor() -> int:
    """The lowest port the kernel picks for outgoing connections (Linux; 32768 elsewhere)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A loopback port nobody listens on, below the ephemeral range.

    ``bind(("127.0.0.1", 0))`` hands out an ephemeral port, and between this probe and the real
    listener's bind the kernel may give that same port to any outgoing connection on the machine
    (a venue session connecting, another test): the listener then fails with EADDRINUSE. Ports
    below the ephemeral range are never chosen for outgoing connections, so the only way to lose
    one is to another listener. Ports are not handed out twice by one process."""
    floor = max(_LOWEST_PORT + 1000, _ephemeral_floor())
    for _ in range(1000):
        port = _port_choice.randrange(_LOWEST_PORT, floor)
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free loopback port between {_LOWEST_PORT} and {floor}")


def free_ports(count: int) -> list[int]:
    return [free_port() for _ in range(count)]


@dataclass(frozen=True)
class RunConfigs:
    venues: Path
    engine: Path
    journal: Path


def write_run_configs(run_dir: Path, *, zero_latency: bool = False, engine_overrides: dict | None = None,
                      seed: int | None = None, ground_truth: bool = True, market: Path | None = None,
                      venue_overrides: dict | None = None) -> RunConfigs:
    """Copies of config/sim_venues.yaml and config/engine.yaml in ``run_dir`` with fresh free ports.
    ``ground_truth=False`` turns the venues' ground-truth log off (a study's record, not a pool's work);
    ``market``: another market file for both (the venues' liquidity and toxicity, the engine's rules).
    ``engine_overrides`` (``venue_overrides``) replace top-level keys of the engine's (venues') file, and
    merge into a section given as a dict."""
    run_dir.mkdir(parents=True, exist_ok=True)
    venues = yaml.safe_load((CONFIG / "sim_venues.yaml").read_text())
    engine = yaml.safe_load((CONFIG / "engine.yaml").read_text())
    ports = {entry["name"]: free_port() for entry in venues["venues"]}
    venues["market"] = str(Path(market).resolve() if market is not None else (CONFIG / venues["market"]).resolve())
    venues["ground_truth_log"] = str(run_dir / "ground_truth.jsonl") if ground_truth else None
    if seed is not None:
        venues["seed"] = seed
    feed_port = free_port()  # the feed's own port too: two stacks up at once must not share one
    if venues.get("market_data"):
        venues["market_data"] = {**venues["market_data"], "port": feed_port}
    for entry in venues["venues"]:
        entry["port"] = ports[entry["name"]]
        if zero_latency:
            entry.pop("latency", None)
    if zero_latency:
        venues["venue_defaults"]["latency"] = {"fixed_ms": 0, "jitter_ms": 0}
    engine["market"] = venues["market"]
    engine["journal"] = str(run_dir / "journal.sqlite")
    engine["fix"]["store_path"] = str(run_dir / "fix_store")
    engine["fix"]["trader"]["port"] = free_port()
    if engine.get("ops"):  # the operator's channel and the metrics of this run: its own ports and token
        engine["ops"] = {**engine["ops"], "port": free_port(), "token_file": str(run_dir / "ops.token")}
    if engine.get("metrics"):
        engine["metrics"] = {**engine["metrics"], "port": free_port()}
    restricted = engine.get("risk", {}).get("restricted_file")
    if restricted:
        engine["risk"]["restricted_file"] = str((CONFIG / restricted).resolve())
    for entry in engine["venues"]:
        entry["port"] = ports[entry["name"]]
    if engine.get("market_data"):
        engine["market_data"] = {**engine["market_data"], "port": feed_port}
    _override(engine, engine_overrides)
    _override(venues, venue_overrides)
    paths = RunConfigs(run_dir / "sim_venues.yaml", run_dir / "engine.yaml", run_dir / "journal.sqlite")
    paths.venues.write_text(yaml.safe_dump(venues, sort_keys=False))
    paths.engine.write_text(yaml.safe_dump(engine, sort_keys=False))
    return paths


def _override(document: dict, overrides: dict | None) -> None:
    for key, value in (overrides or {}).items():
        merged = isinstance(value, dict) and isinstance(document.get(key), dict)
        document[key] = {**document[key], **value} if merged else value


_PINNED_START = ("import os, runpy, sys; os.sched_setaffinity(0, {cpus}); "
                 "sys.argv[0] = 'dark-agg'; runpy.run_module('engine.commands.cli', run_name='__main__')")


class Process:
    """A `dark-agg` subcommand in its own process; its output goes to ``log``. Waits for the line
    ``ready`` that both `venues` and `run` print once they serve."""

    def __init__(self, name: str, arguments: list[str], log: Path, cpus: frozenset[int] | None = None) -> None:
        self.name = name
        self.log = log
        self._file = open(log, "w")
        command = [sys.executable, "-m", "engine.commands.cli", *arguments]
        if cpus is not None:
            # Pinned before the interpreter starts any thread, so every thread of the process inherits
            # it (sched_setaffinity on a running pid moves its main thread only).
            command = [sys.executable, "-c", _PINNED_START.format(cpus=sorted(cpus)), *arguments]
        self._process = subprocess.Popen(command, stdout=self._file, stderr=subprocess.STDOUT, cwd=PROJECT,
                                         env={**os.environ, "PYTHONUNBUFFERED": "1"})

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self._process.returncode}; see {self.log}:\n"
                                   + self.log.read_text()[-2000:])
            if any(line.strip() == "ready" for line in self.log.read_text().splitlines()):
                return
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not ready within {timeout} s; see {self.log}")

    @property
    def pid(self) -> int:
        return self._process.pid

    @property
    def running(self) -> bool:
        return self._process.poll() is None

    def kill(self) -> int:
        """SIGKILL, no cleanup at all (what the crash checks do to the engine and the venues)."""
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait()
        self._file.close()
        return self._process.returncode

    def stop(self, timeout: float = 20.0) -> int:
        """SIGINT (a clean stop), then SIGKILL if it does not end in time."""
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._file.close()
        return self._process.returncode
