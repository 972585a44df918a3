"""One crash-check run: real processes, real SIGKILLs, a verdict from independent records.

    venues + engine (own processes, durable FIX stores) <- one trader in this process
    parents flow in while the fault loop kills the engine / the venues at seeded random moments
    (and, with disconnect faults, venues drop their connections every N orders);
    then everything restarted, parents settled, the rest cancelled, every final report awaited,
    clean stops, and compare.compare() over ground truth, journal and the trader's records.
"""

from __future__ import annotations

import json
import random
import shutil
import tempfile
import time
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path

from tests.crash.cluster import Cluster
from tests.crash.compare import Evidence, Findings, compare
from tests.crash.configs import write_crash_configs
from tests.crash.evidence import read_journal, read_truth
from tests.crash.flow import ParentSender, finish_parents, make_trader, plan_parents, trader_records

MARKER = ".crash-check"  # in every run directory: --out may only wipe a directory that has it
REPORT = "crash_check.json"
RUN_PROBLEMS = ("unexpected_exits",)  # besides compare.PROBLEMS


class BadOptions(ValueError):
    """Options no run can honour (exit code 2)."""


@dataclass(frozen=True)
class CheckOptions:
    parents: int = 60
    kills: int = 10                 # engine SIGKILLs
    venue_kills: int = 0            # venue-process SIGKILLs
    disconnects: int = 0            # venues given the repeating disconnect fault
    disconnect_every: int = 40      # ... dropping their connection after every this many orders
    seed: int = 1
    fault_after: tuple[float, float] = (0.3, 2.5)  # seconds after a (re)start until the next fault
    flow_seconds: float = 8.0       # how long the parents take to send when no process is killed
    settle_seconds: float = 2.0     # a parent works at least this long before the end cancels it
    final_timeout: float = 60.0     # for every final report after the cancels
    out: Path | None = None         # kept run directory (default: a temporary one, removed)
    progress: bool = False

    def check(self) -> None:
        low, high = self.fault_after
        problems = [text for bad, text in (
            (self.parents < 1, "--parents must be at least 1"),
            (min(self.kills, self.venue_kills, self.disconnects) < 0, "fault counts cannot be negative"),
            (self.disconnect_every < 1, "--disconnect-every must be at least 1"),
            (not 0 < low <= high, "--fault-after needs 0 < MIN <= MAX"),
            (self.flow_seconds <= 0 or self.settle_seconds < 0 or self.final_timeout <= 0,
             "--flow-seconds and --final-timeout must be positive, --settle-seconds not negative"),
        ) if bad]
        if problems:
            raise BadOptions("; ".join(problems))


@dataclass
class CheckResult:
    findings: Findings
    options: CheckOptions
    run_dir: Path
    seconds: float
    evidence: Evidence | None = None  # what was compared (tests tamper with it to prove a problem is seen)
    disconnect_venues: list[str] = field(default_factory=list)
    details: dict = field(default_factory=dict)  # unexpected exits, clean-stop exit codes, ...

    @property
    def counts(self) -> dict[str, int]:
        return self.findings.counts

    @property
    def ok(self) -> bool:
        return self.findings.ok and not any(self.counts.get(name, 0) for name in RUN_PROBLEMS)

    def line(self) -> str:
        c = self.counts
        return (f"crash check: kills={c['kills']} venue_kills={c['venue_kills']} disconnects={c['disconnects']} "
                f"parents={c['parents']} child_fills={c['child_fills']} lost={c['lost']} ({c['lost_shares']} shares) "
                f"overfilled={c['overfilled']} differing={c['differing']} trader_differing={c['trader_differing']} "
                f"reused={c['reused']} unfinished={c['unfinished']} double_booked={c['double_booked']} "
                f"left_open={c['left_open']} "
                f"unexpected_exits={c['unexpected_exits']} | filled_shares={c['filled_shares']} "
                f"ended_filled={c['ended_filled']} ended_canceled={c['ended_canceled']} "
                f"ended_otherwise={c['ended_otherwise']} unjournaled_children={c['unjournaled_children']} "
                f"in {self.seconds:.0f} s")

    def document(self) -> dict:
        options = {key: str(value) if isinstance(value, Path) else value for key, value in asdict(self.options).items()}
        return {"ok": self.ok, "counts": self.counts, "problems": {**self.findings.problems,
                                                                   "unexpected_exits": self.counts["unexpected_exits"]},
                "examples": self.findings.examples, "disconnect_venues": self.disconnect_venues,
                "options": options, "seconds": round(self.seconds, 1), **self.details}


def plan_faults(options: CheckOptions, rng: random.Random) -> list[tuple[str, float]]:
    """(process to kill, seconds after the last (re)start), in a seeded random order."""
    kinds = ["engine"] * options.kills + ["venues"] * options.venue_kills
    rng.shuffle(kinds)
    return [(kind, rng.uniform(*options.fault_after)) for kind in kinds]


def run_check(options: CheckOptions) -> CheckResult:
    options.check()
    started = time.monotonic()
    with ExitStack() as cleanup:
        run_dir = _run_directory(options, cleanup)
        configs, dropping = write_crash_configs(run_dir, seed=options.seed, disconnect_venues=options.disconnects,
                                                disconnect_every=options.disconnect_every)
        from engine.config import load_engine_config
        config = load_engine_config(configs.engine)  # a config the engine refuses fails here, named

        rng = random.Random(options.seed)
        parents = plan_parents(options.parents, list(config.symbols), rng)
        faults = plan_faults(options, rng)

        cluster = Cluster(run_dir, configs, [venue.name for venue in config.venues])
        cleanup.callback(cluster.kill_all)  # a run that fails midway leaves no process behind
        cluster.start("venues")
        cluster.start("engine")
        client = make_trader(config, run_dir)
        client.start()
        cleanup.callback(client.stop)
        _trade_through_faults(cluster, client, parents, faults, options, cleanup)
        stop_codes = cluster.stop()  # clean stops, then the trader: it has every final report by now
        client.stop()

        evidence, unreadable = _gather_evidence(run_dir, configs.journal, client, parents)
        findings = compare(evidence)
        findings.counts.update(kills=cluster.kills["engine"], venue_kills=cluster.kills["venues"],
                               unexpected_exits=len(cluster.unexpected_exits), truth_unreadable_lines=unreadable,
                               engine_starts=cluster.starts["engine"], venue_starts=cluster.starts["venues"])
        result = CheckResult(findings, options, run_dir, time.monotonic() - started, evidence, dropping,
                             {"unexpected_exits": cluster.unexpected_exits, "clean_stop_exit_codes": stop_codes})
        if options.out is not None:
            (run_dir / REPORT).write_text(json.dumps(result.document(), indent=2, default=str))
        return result


def _trade_through_faults(cluster: Cluster, client, parents: list, faults: list[tuple[str, float]],
                          options: CheckOptions, cleanup: ExitStack) -> None:
    """The parents spread over the time the faults take (or --flow-seconds), then the end: what is
    down restarted, every parent settled or cancelled, every final report awaited."""
    flow_seconds = sum(delay for _, delay in faults) if faults else options.flow_seconds
    sender = ParentSender(client, parents, spacing=flow_seconds / len(parents))
    cleanup.callback(sender.stop)
    sender.start()
    _fault_loop(cluster, faults, flow_seconds, sender, options.progress)
    cluster.restart_if_down()
    sender.join(timeout=flow_seconds + 60 + 2 * len(parents))
    if sender.is_alive() or sender.failure is not None:
        raise RuntimeError(f"the trader sent only {sender.sent} of {len(parents)} parents"
                           + (f": {sender.failure!r}" if sender.failure else ""))
    finish_parents(client, parents, settle_seconds=options.settle_seconds, final_timeout=options.final_timeout)


def _gather_evidence(run_dir: Path, journal_path: Path, client, parents: list) -> tuple[Evidence, int]:
    """Everything the verdict needs, read once every process has stopped (the journal is complete)."""
    truth, unreadable = read_truth(run_dir / "ground_truth.jsonl")
    journal = read_journal(journal_path)
    cum_qty, order_ids, final = trader_records(client, parents)
    return Evidence(truth, journal["parents"], journal["children"], journal["fills"], parents,
                    cum_qty, order_ids, final), unreadable


def _fault_loop(cluster: Cluster, faults: list[tuple[str, float]], flow_seconds: float, sender: ParentSender,
                progress: bool) -> None:
    """Each fault: wait its delay with the flow running, SIGKILL, restart, wait until ready. Without
    process faults the flow simply runs (the disconnect faults are the venues' own)."""
    from tqdm import tqdm

    steps = faults or [("flow", flow_seconds)]
    with tqdm(total=len(steps), desc="faults" if faults else "flow", unit="fault" if faults else "flow",
              disable=not progress) as bar:
        for kind, delay in steps:
            time.sleep(delay)
            if kind != "flow":
                cluster.kill(kind)
            bar.set_postfix(sent=sender.sent, engine_kills=cluster.kills["engine"],
                            venue_kills=cluster.kills["venues"], refresh=False)
            bar.update(1)


def _run_directory(options: CheckOptions, cleanup: ExitStack) -> Path:
    if options.out is None:
        return Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="crash-check-")))
    out = options.out.resolve()
    if out.exists() and any(out.iterdir()):
        if not (out / MARKER).exists():
            raise BadOptions(f"--out {out} is not empty and not a crash-check directory: refusing to wipe it")
        shutil.rmtree(out)  # a fresh run: fresh journal, stores and ground truth
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("a crash-check run directory: the next run with --out here wipes it\n")
    return out
