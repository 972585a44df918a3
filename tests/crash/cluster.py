"""The two server processes of a crash check, killed and restarted on the same configs, stores and
journal. Every start gets its own log file (engine-01.log, venues-02.log, ...) so a failure can be
traced to the incarnation it happened in."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from engine.process.launch import Process, RunConfigs

KILLED = -signal.SIGKILL  # Popen's returncode of a process ended by our SIGKILL
SESSIONS_BACK_SECONDS = 15.0  # the engine reconnects every fix.reconnect_seconds (1 s as shipped)


class Cluster:
    def __init__(self, run_dir: Path, configs: RunConfigs, venue_names: list[str]) -> None:
        self.run_dir = run_dir
        self.configs = configs
        self.venue_names = venue_names
        self.truth = run_dir / "ground_truth.jsonl"
        self.venues: Process | None = None
        self.engine: Process | None = None
        self.starts = {"venues": 0, "engine": 0}
        self.kills = {"venues": 0, "engine": 0}
        # exits we did not cause (a crash of its own, or a refusal to start): each one a finding
        self.unexpected_exits: list[dict] = []

    # -- starting ---------------------------------------------------------------------------------

    def start(self, name: str) -> None:
        arguments = (["venues", "--config", str(self.configs.venues)] if name == "venues" else
                     ["run", "--config", str(self.configs.engine), "--log-format", "json"])
        self.starts[name] += 1
        process = Process(name, arguments, self.run_dir / f"{name}-{self.starts[name]:02d}.log")
        setattr(self, name, process)  # held before waiting, so a process that never gets ready is killed too
        process.wait_ready()  # raises with the log's tail when it cannot start: the run cannot go on

    # -- faults -----------------------------------------------------------------------------------

    def kill(self, name: str) -> None:
        """SIGKILL the process and start it again on the same files (what a supervisor would do)."""
        process = getattr(self, name)
        code = process.kill()
        if code == KILLED:
            self.kills[name] += 1
        else:  # it had already ended by itself: not a kill of ours
            self.unexpected_exits.append({"process": name, "log": str(process.log), "exit": code})
        if name == "venues":
            truth_before = self.truth.stat().st_size if self.truth.exists() else 0
            self.start(name)
            # the next fault's clock starts once the engine trades with the new venues again: a
            # venue process killed before anyone reconnected to it would test nothing
            self._wait_for_logons(truth_before)
        else:
            self.start(name)

    def _wait_for_logons(self, offset: int) -> None:
        """Until every venue has logged a logon in the ground truth after ``offset`` (or a timeout:
        a venue that stays away shows in the results, it need not stop the run)."""
        deadline = time.monotonic() + SESSIONS_BACK_SECONDS
        while time.monotonic() < deadline:
            with self.truth.open("rb") as truth:
                truth.seek(offset)
                logged_on = {record.get("venue") for record in _records(truth.read())
                             if record.get("event") == "logon"}
            if logged_on >= set(self.venue_names):
                return
            time.sleep(0.05)

    def restart_if_down(self) -> None:
        for name, process in (("venues", self.venues), ("engine", self.engine)):
            if process is not None and not process.running:
                self.unexpected_exits.append({"process": name, "log": str(process.log), "exit": process.kill()})
                self.start(name)

    # -- the end ----------------------------------------------------------------------------------

    def stop(self) -> dict[str, int | None]:
        """Clean stops, the engine first (its venue sessions log out before the venues go away).
        Returns the exit codes; anything but 0 is worth a look."""
        codes = {}
        for name in ("engine", "venues"):
            process = getattr(self, name)
            codes[name] = process.stop() if process is not None else None
            setattr(self, name, None)
        return codes

    def kill_all(self) -> None:
        """On the way out of a failed run: leave no process behind."""
        for name in ("engine", "venues"):
            process = getattr(self, name)
            if process is not None:
                process.kill()
                setattr(self, name, None)


def _records(data: bytes) -> list[dict]:
    records = []
    for line in data.splitlines():
        try:
            records.append(json.loads(line))
        except ValueError:  # a half-written last line, or one cut by a kill
            continue
    return records
