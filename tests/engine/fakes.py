"""Hand-written fakes of the manager's ports and a harness that runs an OrderManager against them.

The fakes record what the manager sends; tests answer as a venue would by delivering domain
messages, so every race (a fill crossing a cancel, a report after the deadline) is scripted exactly.
"""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path

from engine.app import build_weights
from engine.domain.ids import IdFactory, SessionKey
from engine.domain.messages import (NewParent, ParentStatus, ReportKind, SubmitChild, VenueOrderStatus,
                                    VenueReport, VenueReportKind)
from engine.domain.orders import OrderType, ParentSpec, Side, TimeInForce
from engine.config import engine_config_from_dict
from engine.journal import Journal
from engine.manager.order_manager import OrderManager

SESSION = SessionKey("FIX.4.4:DARKAGG->TRADER1")
SYMBOL = "VOD.L"
VENUES = ("A", "B", "C")

MARKET_YAML = """
name: TEST
currency: GBP
reference_price: 25.0
order_notional: {min: 2500, max: 2500000}
venues:
  - {name: A, fill_probability: 0.5, tail_exponent: 1.3, min_size: 100, max_size: 50000}
  - {name: B, fill_probability: 0.5, tail_exponent: 1.3, min_size: 100, max_size: 50000}
  - {name: C, fill_probability: 0.5, tail_exponent: 1.3, min_size: 100, max_size: 50000, lot_size: 100, min_order_size: 200}
"""


def engine_config(tmp_path: Path, **overrides):
    (tmp_path / "market.yaml").write_text(MARKET_YAML)
    document = {
        "market": "market.yaml", "policy": "uniform", "symbols": [SYMBOL, "BARC.L"],
        "journal": "journal.sqlite",
        "sweep": {"deadline_ms": 150, "interval_ms": 1, "cancel_retry_ms": 100},
        "weights": {"min_symbol_history": 5, "snapshot_seconds": 0.05},
        "fix": {"trader": {"port": 9999, "sender_comp_id": "DARKAGG", "sessions": ["TRADER1"], "store": "memory"}},
        "venue_defaults": {"sender_comp_id": "DARKAGG"},
        "venues": [{"name": name, "port": 9000 + i, "target_comp_id": name} for i, name in enumerate(VENUES)],
    }
    document.update(overrides)
    return engine_config_from_dict(document, base_dir=tmp_path)


class FakeVenues:
    def __init__(self, names=VENUES) -> None:
        self.up = set(names)
        self.submitted: list[SubmitChild] = []
        self.cancels = []
        self.queries = []

    def submit(self, command) -> bool:
        if command.venue not in self.up:
            return False
        self.submitted.append(command)
        return True

    def cancel(self, command) -> bool:
        if command.venue not in self.up:
            return False
        self.cancels.append(command)
        return True

    def query(self, command) -> bool:
        if command.venue not in self.up:
            return False
        self.queries.append(command)
        return True

    def logged_on(self, venue: str) -> bool:
        return venue in self.up


class FakeTraders:
    def __init__(self) -> None:
        self.reports = []
        self.cancel_refusals = []
        self.business_refusals = []

    def report(self, report) -> bool:
        self.reports.append(report)
        return True

    def refuse_cancel(self, refusal) -> bool:
        self.cancel_refusals.append(refusal)
        return True

    def refuse_business(self, refusal) -> bool:
        self.business_refusals.append(refusal)
        return True

    def for_order(self, cl_ord_id):
        return [r for r in self.reports if r.cl_ord_id == cl_ord_id or r.orig_cl_ord_id == cl_ord_id]

    def kinds(self, cl_ord_id):
        return [r.kind for r in self.for_order(cl_ord_id)]

    def final(self, cl_ord_id):
        finals = [r for r in self.for_order(cl_ord_id)
                  if r.status in (ParentStatus.FILLED, ParentStatus.CANCELED, ParentStatus.EXPIRED, ParentStatus.REJECTED)]
        return finals[-1] if finals else None


_exec_ids = itertools.count(1)


def trade(command: SubmitChild, cum: int, last: int, price: float = 25.0, final: bool | None = None) -> VenueReport:
    done = cum >= command.quantity
    status = VenueOrderStatus.FILLED if done else VenueOrderStatus.PARTIALLY_FILLED
    if final and not done:
        status = VenueOrderStatus.CANCELED  # the single-report ending: trade and cancel of the rest
    return VenueReport(command.venue, command.child_id, f"X{next(_exec_ids)}", VenueReportKind.TRADE, status,
                       last_qty=last, last_px=price, cum_qty=cum, leaves_qty=0 if done or final else command.quantity - cum,
                       avg_px=price)


def canceled(command, cum: int = 0, price: float = 25.0) -> VenueReport:
    return VenueReport(command.venue, command.child_id, f"X{next(_exec_ids)}", VenueReportKind.CANCELED,
                       VenueOrderStatus.CANCELED, cum_qty=cum, leaves_qty=0, avg_px=price if cum else 0.0)


class Harness:
    def __init__(self, tmp_path: Path, **overrides) -> None:
        self.config = engine_config(tmp_path, **overrides)
        self.venues = FakeVenues()
        self.traders = FakeTraders()
        self.journal = Journal(self.config.journal, keep_weight_snapshots=self.config.weights.keep_snapshots)
        self.weights = build_weights(self.config)
        self.manager = OrderManager(self.config, self.venues, self.traders, self.journal, self.weights,
                                    IdFactory(f"t{tmp_path.name[-6:]}-"))
        self._cl = itertools.count(1)

    async def __aenter__(self) -> "Harness":
        self.manager.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.manager.stop()
        self.journal.flush()
        self.journal.close()

    def order(self, quantity: int = 1000, *, side=Side.BUY, tif=TimeInForce.DAY, order_type=OrderType.MARKET,
              limit=None, expire_at=None, min_qty=None, symbol=SYMBOL, cl_ord_id=None) -> str:
        cl_ord_id = cl_ord_id or f"C{next(self._cl)}"
        spec = ParentSpec(SESSION, cl_ord_id, side, symbol, quantity, order_type, tif, limit, expire_at, min_qty)
        self.manager.deliver(NewParent(spec))
        self.manager.outbox.flush()  # what the loop does right after the bridge's drain
        return cl_ord_id

    def deliver(self, *messages) -> None:
        """As the bridge delivers a batch; then the outbox's flush, which the loop runs next."""
        for message in messages:
            self.manager.deliver(message)
        self.manager.outbox.flush()

    async def children(self, count: int, timeout: float = 2.0) -> list[SubmitChild]:
        """Waits until ``count`` children in all have been sent; returns the newest ``count``... all so far."""
        await until(lambda: len(self.venues.submitted) >= count, timeout)
        return list(self.venues.submitted)

    def parent(self, cl_ord_id: str):
        return self.manager._find(SESSION, cl_ord_id)


async def until(predicate, timeout: float = 2.0, interval: float = 0.001):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)


def answer_all(harness: Harness, commands, fraction: float = 1.0) -> None:
    """Each child fills ``fraction`` of its quantity, then the rest is cancelled (fill-then-cancel)."""
    for command in commands:
        filled = int(command.quantity * fraction)
        if filled:
            harness.deliver(trade(command, filled, filled))
        if filled < command.quantity:
            harness.deliver(canceled(command, filled))


__all__ = ["Harness", "ReportKind", "until", "trade", "canceled", "answer_all"]

