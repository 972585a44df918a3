"""A restart restores the learned weights and the open parents from the journal."""

from __future__ import annotations

import asyncio

import numpy as np

from engine.allocation.rules import VenueRules
from engine.app import restore_weights
from engine.domain.child import ChildState
from engine.domain.messages import (CancelParent, ParentStatus, ReplaceParent, ReportKind, VenueOrderStatus, VenueReport,
                                    VenueReportKind)
from engine.domain.orders import TimeInForce
from engine.journal import open_parents
from engine.manager.weights import MARKET_KEY
from engine.manager.restore import restore_parents
from tests.engine.fakes import SESSION, Harness, answer_all, until

EXPGRAD = {"policy": "expgrad", "sweep": {"deadline_ms": 40, "interval_ms": 1, "cancel_retry_ms": 50}}


async def test_a_restart_restores_open_parents_and_reconciles_their_children(tmp_path):
    async with Harness(tmp_path, **EXPGRAD) as first:
        for _ in range(4):  # some learning, so there are weights to restore
            cl = first.order(900, tif=TimeInForce.IOC)
            answer_all(first, await _new_children(first), fraction=0.3)
            await until(lambda: first.traders.final(cl))
        open_cl = first.order(900)
        sent = await _new_children(first)
        answer_all(first, [c for c in sent if c.venue == "A"], fraction=0.5)
        before = first.weights.market.desired_allocation(900, VenueRules.of(first.config.market), np.ones(3, bool))
        # B and C never answer: the engine stops with them in flight
    [(row, children)] = open_parents(first.config.journal)
    assert row["cl_ord_id"] == open_cl and {c["venue"] for c in children} == {"B", "C"}

    async with Harness(tmp_path, **EXPGRAD) as second:
        assert restore_weights(second.weights, second.config) >= 1
        after = second.weights.market.desired_allocation(900, VenueRules.of(second.config.market), np.ones(3, bool))
        np.testing.assert_allclose(after, before)
        parent = second.parent(open_cl)
        filled_before = sent[0].quantity // 2
        assert parent.state is ParentStatus.PARTIALLY_FILLED and parent.cum_qty == filled_before
        assert {c.venue for c in parent.open_children.values()} == {"B", "C"}
        assert all(c.state is ChildState.UNRESOLVED for c in parent.open_children.values())
        # only the unreserved shares are swept at once; B's and C's wait for the venues' answers
        resumed = await until(lambda: list(second.venues.submitted))
        assert sum(c.quantity for c in resumed) == 900 - filled_before - 600
        answer_all(second, resumed)
        queries = await until(lambda: {q.child_id for q in second.venues.queries} >= set(parent.open_children)
                              and list(second.venues.queries))
        for query in {q.child_id: q for q in queries}.values():  # B filled 100 while we were down, C nothing
            cum = 100 if query.venue == "B" else 0
            second.deliver(VenueReport(query.venue, query.child_id, f"S-{query.venue}", VenueReportKind.STATUS,
                                       VenueOrderStatus.CANCELED, cum_qty=cum, leaves_qty=0, avg_px=25.0))
        assert parent.cum_qty == 900 - 600 + 100 and not parent.open_children
        rest = await until(lambda: second.venues.submitted[len(resumed):])
        assert sum(c.quantity for c in rest) == 500
        answer_all(second, rest)
        final = await until(lambda: second.traders.final(open_cl))
        assert final.status is ParentStatus.FILLED and final.cum_qty == 900


async def _stop_with_a_request_pending(tmp_path, request_for):
    """A DAY parent whose children never answer, and a request made mid-sweep; the engine stops."""
    async with Harness(tmp_path, **EXPGRAD) as first:
        cl = first.order(900)
        await _new_children(first)
        first.deliver(request_for(cl))
    return cl


async def _answer_the_reconciliation(h, parent):
    queries = await until(lambda: {q.child_id for q in h.venues.queries} >= set(parent.open_children)
                          and list(h.venues.queries))
    for query in {q.child_id: q for q in queries}.values():
        h.deliver(VenueReport(query.venue, query.child_id, f"S-{query.child_id}", VenueReportKind.STATUS,
                              VenueOrderStatus.CANCELED, cum_qty=0, leaves_qty=0))


async def test_a_cancel_pending_at_the_stop_is_carried_out_after_the_restart_under_its_own_clordid(tmp_path):
    cl = await _stop_with_a_request_pending(tmp_path, lambda cl: CancelParent(SESSION, "X1", cl))
    async with Harness(tmp_path, **EXPGRAD) as second:
        parent = second.parent(cl)
        assert parent.state is ParentStatus.PENDING_CANCEL and parent.pending_cancel.cl_ord_id == "X1"
        await _answer_the_reconciliation(second, parent)
        final = await until(lambda: second.traders.final("X1"))
        assert final.kind is ReportKind.CANCELED and final.cl_ord_id == "X1" and final.orig_cl_ord_id == cl
        assert second.venues.submitted == []  # nothing new was swept for a parent being cancelled
        second.deliver(CancelParent(SESSION, "X1", cl))
        assert "duplicate ClOrdID X1" in second.traders.cancel_refusals[-1].text


async def test_a_replace_pending_at_the_stop_is_carried_out_after_the_restart(tmp_path):
    cl = await _stop_with_a_request_pending(tmp_path, lambda cl: ReplaceParent(SESSION, "R1", cl, 600))
    async with Harness(tmp_path, **EXPGRAD) as second:
        parent = second.parent(cl)
        assert parent.state is ParentStatus.PENDING_REPLACE and parent.pending_replace.quantity == 600
        await _answer_the_reconciliation(second, parent)
        replaced = await until(lambda: [r for r in second.traders.for_order("R1") if r.kind is ReportKind.REPLACED])
        assert replaced[0].orig_cl_ord_id == cl and replaced[0].quantity == 600
        resumed = await until(lambda: list(second.venues.submitted))
        assert sum(c.quantity for c in resumed) == 600  # the reduced quantity is swept


def test_a_journal_from_before_pending_requests_were_kept_opens_and_restores(tmp_path):
    import sqlite3

    from engine.journal import SCHEMA, Journal

    path = tmp_path / "old.sqlite"
    old_schema = SCHEMA.replace(", pending_cl_ord_id TEXT, pending_quantity INTEGER", "")
    with sqlite3.connect(path) as connection:
        connection.executescript(old_schema)
        connection.execute("INSERT INTO parents VALUES ('P1','FIX.4.4:DARKAGG->TRADER1','C1','C1','buy','VOD.L',900,900,"
                           "'market','day',NULL,NULL,NULL,'pending replace',0,0.0,1,1.0,NULL)")
    Journal(path).close()
    [(row, _)] = open_parents(path)
    assert row["pending_cl_ord_id"] is None
    [parent] = restore_parents(path, lambda child: None)
    assert parent.state is ParentStatus.NEW and parent.pending_replace is None  # the trader may ask again


async def _new_children(h, count=3):
    seen = getattr(h, "_seen", 0)
    await until(lambda: len(h.venues.submitted) >= seen + count)
    h._seen = len(h.venues.submitted)
    return h.venues.submitted[seen:seen + count]


def test_weights_of_another_policy_are_not_restored(tmp_path):
    from engine.app import build_weights
    from engine.journal import Journal
    from tests.engine.fakes import engine_config

    config = engine_config(tmp_path, policy="expgrad")
    journal = Journal(config.journal)
    journal.record_weights(MARKET_KEY, "km", 10, {"x": np.zeros(3)}, 1.0)
    journal.flush()
    journal.close()
    assert restore_weights(build_weights(config), config) == 0


async def test_the_live_weights_export_in_the_study_format_with_the_weight_map(tmp_path):
    from engine.commands.run_report import export_weights

    async with Harness(tmp_path, **EXPGRAD) as h:
        for _ in range(3):
            cl = h.order(900, tif=TimeInForce.IOC)
            answer_all(h, await _new_children(h), fraction=0.3)
            await until(lambda: h.traders.final(cl))
    document = export_weights(h.config, tmp_path / "export")
    assert set(document) == {"market", "rounds", "seed", "sizes", "policies", "oracle"}
    [(name, policy)] = document["policies"].items()
    assert name == "expgrad" and document["rounds"] == 3
    assert len(policy["allocations"]) == len(document["sizes"]) == len(document["oracle"]["allocations"])
    for size, row in zip(document["sizes"], policy["allocations"]):
        assert len(row) == 3 and sum(row) <= size + 0.002 * len(row)  # rows are rounded to 3 decimals
    assert (tmp_path / "export" / "weights_map.png").stat().st_size > 10_000


async def test_the_live_weights_reach_the_journal_by_time_while_the_engine_runs(tmp_path):
    from engine.journal import latest_weights

    async with Harness(tmp_path, policy="expgrad", weights={"snapshot_seconds": 0.05, "min_symbol_history": 5},
                       sweep={"deadline_ms": 40, "interval_ms": 1}) as h:
        cl = h.order(900, tif=TimeInForce.IOC)
        answer_all(h, await _new_children(h), fraction=0.3)
        await until(lambda: h.traders.final(cl))
        # no stop, no sweep count reached: the periodic snapshot alone must bring the sweep in
        await until(lambda: h.journal.flush() or latest_weights(h.config.journal).get(MARKET_KEY, ("", 0))[1] == 1,
                    timeout=3.0)
        rows = _weight_rows(h.config.journal)
        await asyncio.sleep(0.3)  # nothing learned since: nothing new is written
        h.journal.flush()
        assert _weight_rows(h.config.journal) == rows


def test_only_the_newest_weight_snapshots_are_kept_per_key(tmp_path):
    from engine.journal import Journal, latest_weights

    journal = Journal(tmp_path / "journal.sqlite", keep_weight_snapshots=3)
    for at in range(1, 6):
        journal.record_weights(MARKET_KEY, "expgrad", at, {"x": np.full(3, at)}, float(at))
    for at in range(1, 3):
        journal.record_weights("VOD.L", "expgrad", at, {"x": np.full(3, at)}, float(at))
    journal.flush()
    journal.close()
    import sqlite3
    with sqlite3.connect(tmp_path / "journal.sqlite") as connection:
        kept = connection.execute("SELECT key, learned FROM weights ORDER BY key, learned").fetchall()
    assert kept == [(MARKET_KEY, 3), (MARKET_KEY, 4), (MARKET_KEY, 5), ("VOD.L", 1), ("VOD.L", 2)]
    policy, learned, arrays = latest_weights(tmp_path / "journal.sqlite")[MARKET_KEY]
    assert learned == 5 and arrays["x"].tolist() == [5, 5, 5]


def _weight_rows(path):
    import sqlite3
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT COUNT(*) FROM weights").fetchone()[0]
