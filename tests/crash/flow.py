"""The trader's side of a crash check: the parents it sends while faults hit, and the end of the run
(every parent cancelled unless done, every final report awaited).

The trader lives for the whole run and survives every engine restart: its file store and no resets
mean it recovers the reports it missed by ResendRequest, which is what lets its CumQty be compared.
"""

from __future__ import annotations

import math
import random
import threading
import time
from pathlib import Path

from tests.crash.compare import SentParent

SMALLEST_PARENT, LARGEST_PARENT = 10_000, 3_000_000  # shares, drawn log-uniformly
LOGON_POLL_SECONDS = 0.5
ACKNOWLEDGMENT_GRACE_SECONDS = 10.0  # at the end, how long a parent may still go without any report


def plan_parents(count: int, symbols: list[str], rng: random.Random) -> list[SentParent]:
    """DAY market parents with log-uniform sizes and random sides, ids unique within the run."""
    low, high = math.log(SMALLEST_PARENT), math.log(LARGEST_PARENT)
    return [SentParent(cl_ord_id=f"CRASH{number}", side=rng.choice(("buy", "sell")), symbol=rng.choice(symbols),
                       quantity=int(round(math.exp(rng.uniform(low, high))))) for number in range(count)]


def make_trader(config, run_dir: Path):
    """The run's one trader: sessions[0] of the engine config, a file store in ``run_dir``, no resets,
    reconnecting every second; it keeps every report (the end waits on them)."""
    from engine.fix.trader_client import TraderClient

    return TraderClient(config.fix.trader.host, config.fix.trader.port, config.fix.trader.sessions[0],
                        config.fix.trader.sender_comp_id, config.fix.data_dictionary, reconnect_seconds=1,
                        store_path=run_dir / "trader_store")


class ParentSender(threading.Thread):
    """Sends the parents one every ``spacing`` seconds, each only once the trader is logged on: an
    order the engine cannot have seen because it was down is not a loss, so none is sent then."""

    def __init__(self, client, parents: list[SentParent], spacing: float) -> None:
        super().__init__(name="crash-parent-sender", daemon=True)
        self.client = client
        self.parents = parents
        self.spacing = spacing
        self.sent_at: dict[str, float] = {}
        self.failure: BaseException | None = None
        self._stopping = threading.Event()

    def run(self) -> None:
        try:
            for parent in self.parents:
                if self._stopping.wait(self.spacing):
                    return
                while not self.client.wait_logged_on(LOGON_POLL_SECONDS):
                    if self._stopping.is_set():
                        return
                # False only when QuickFIX has no such session (never here); then try again after a pause
                while not self.client.send_order(parent.cl_ord_id, parent.side, parent.symbol, parent.quantity,
                                                 tif="DAY"):
                    if self._stopping.wait(LOGON_POLL_SECONDS):
                        return
                self.sent_at[parent.cl_ord_id] = time.monotonic()
        except BaseException as error:  # noqa: BLE001 - reported by the run, not lost with the thread
            self.failure = error

    @property
    def sent(self) -> int:
        return len(self.sent_at)

    def stop(self) -> None:
        self._stopping.set()


def finish_parents(client, parents: list[SentParent], *, settle_seconds: float, final_timeout: float) -> None:
    """Let every parent work ``settle_seconds`` past its first report from the engine (its
    acknowledgment) unless it is done before, cancel the rest, then wait up to ``final_timeout`` for
    every final report. Parents still without one are what compare.unfinished_orders counts."""
    if not client.wait_logged_on(30):
        raise RuntimeError(f"the trader could not log on again at {client.address} before the end of the run")
    # one deadline for all: a parent the engine never acknowledged must not hold up the end for long
    deadline = time.monotonic() + settle_seconds + ACKNOWLEDGMENT_GRACE_SECONDS
    for parent in parents:
        while client.done(parent.cl_ord_id) is None and time.monotonic() < deadline:
            reports = client.reports_for(parent.cl_ord_id)
            if reports and time.time() - reports[0].received_at >= settle_seconds:
                break
            time.sleep(0.05)
    for parent in parents:
        if client.done(parent.cl_ord_id) is None:
            client.cancel(f"{parent.cl_ord_id}.X", parent.cl_ord_id, parent.side, parent.symbol, parent.quantity)
    try:
        client.wait_all_done([p.cl_ord_id for p in parents], timeout=final_timeout)
    except TimeoutError:
        pass  # counted by the comparison, with the orders named


def trader_records(client, parents: list[SentParent]) -> tuple[dict[str, float], dict[str, list[str]], dict[str, str]]:
    """What the trader was told per parent: CumQty, the OrderIDs (our parent ids: more than one is a
    double booking) and the final OrdStatus."""
    cum_qty, order_id, final = {}, {}, {}
    for parent in parents:
        cum_qty[parent.cl_ord_id] = float(client.cum_qty(parent.cl_ord_id))
        ids = {r.order_id for r in client.reports_for(parent.cl_ord_id) if r.order_id and r.order_id != "NONE"}
        if ids:
            order_id[parent.cl_ord_id] = sorted(ids)
        done = client.done(parent.cl_ord_id)
        if done is not None:
            final[parent.cl_ord_id] = done.ord_status
    return cum_qty, order_id, final
