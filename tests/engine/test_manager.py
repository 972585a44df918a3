"""The order manager against fake ports: parent lifecycles for every order type and time in force,
cancel and replace, trader-side rejects, and the reports the trader sees."""

from __future__ import annotations

import asyncio
import time

import pytest

from engine.domain.child import ChildState
from engine.domain.messages import (CancelParent, ParentStatus, ParentStatusQuery, ReplaceParent, ReportKind,
                                    UnsupportedMessage, VenueOrderStatus, VenueReport, VenueReportKind)
from engine.domain.orders import OrderType, RejectReason, Side, TimeInForce
from tests.engine.fakes import SESSION, Harness, answer_all, canceled, trade, until


async def test_a_market_day_parent_is_acknowledged_swept_across_venues_and_filled(tmp_path):
    async with Harness(tmp_path) as h:
        cl = h.order(900)
        sent = await h.children(3)
        assert h.traders.kinds(cl)[:2] == [ReportKind.PENDING_NEW, ReportKind.NEW]
        assert {c.venue for c in sent} == {"A", "B", "C"}
        assert sum(c.quantity for c in sent) == 900
        assert next(c for c in sent if c.venue == "C").quantity % 100 == 0  # C's lot
        answer_all(h, sent)
        await until(lambda: h.traders.final(cl))
        trades = [r for r in h.traders.for_order(cl) if r.kind is ReportKind.TRADE]
        assert sorted(r.last_market for r in trades) == ["A", "B", "C"]
        assert [r.cum_qty for r in trades] == [300, 600, 900]
        assert [r.leaves_qty for r in trades] == [600, 300, 0]
        assert trades[-1].status is ParentStatus.FILLED and trades[-1].avg_px == pytest.approx(25.0)


async def test_children_are_midpoint_iocs_carrying_the_limit_and_the_venue_min_qty(tmp_path):
    async with Harness(tmp_path, venue_defaults={"sender_comp_id": "DARKAGG", "min_qty": 50}) as h:
        h.order(900, order_type=OrderType.LIMIT, limit=25.5)
        sent = await h.children(3)
        assert all(c.limit_price == 25.5 and c.min_qty == 50 for c in sent)


async def test_a_day_parent_sweeps_again_until_filled(tmp_path):
    async with Harness(tmp_path) as h:
        cl = h.order(900)
        first = await h.children(3)
        answer_all(h, first, fraction=0.5)
        second = (await h.children(4))[3:]
        assert sum(c.quantity for c in second) == h.parent(cl).quantity - h.parent(cl).cum_qty
        assert all(".2." in c.child_id for c in second)
        answer_all(h, second)
        await until(lambda: h.traders.final(cl))
        assert h.traders.final(cl).status is ParentStatus.FILLED and h.parent(cl).sweeps == 2


async def test_an_ioc_parent_gets_exactly_one_sweep_then_the_rest_is_cancelled(tmp_path):
    async with Harness(tmp_path) as h:
        cl = h.order(900, tif=TimeInForce.IOC)
        sent = await h.children(3)
        answer_all(h, sent, fraction=0.5)
        final = await until(lambda: h.traders.final(cl))
        assert final.kind is ReportKind.CANCELED and final.cum_qty == 450 and final.leaves_qty == 0
        assert len(h.venues.submitted) == 3


async def test_a_gtd_parent_expires_at_its_expire_time(tmp_path):
    async with Harness(tmp_path) as h:
        cl = h.order(900, tif=TimeInForce.GTD, expire_at=time.time() + 0.3)
        sent = await h.children(3)
        answer_all(h, sent, fraction=0.0)
        final = await until(lambda: h.traders.final(cl), timeout=3)
        assert final.kind is ReportKind.EXPIRED and final.status is ParentStatus.EXPIRED


async def test_min_qty_raises_every_child_to_the_traders_minimum(tmp_path):
    async with Harness(tmp_path) as h:
        h.order(900, min_qty=400)
        sent = await h.children(1)
        assert sent and all(c.quantity >= 400 and c.min_qty == 400 for c in sent)


@pytest.mark.parametrize("changes, reason", [
    (dict(symbol="NOPE.L"), RejectReason.UNKNOWN_SYMBOL),
    (dict(quantity=0), RejectReason.INCORRECT_QUANTITY),
    (dict(order_type=OrderType.LIMIT), RejectReason.OTHER),                   # no price
    (dict(tif=TimeInForce.GTD, expire_at=1.0), RejectReason.TOO_LATE),        # in the past
    (dict(min_qty=5000), RejectReason.INCORRECT_QUANTITY),
])
async def test_invalid_parents_are_rejected_with_a_reason_and_nothing_is_sent(tmp_path, changes, reason):
    async with Harness(tmp_path) as h:
        quantity = changes.pop("quantity", 900)
        cl = h.order(quantity, **changes)
        [report] = h.traders.for_order(cl)
        assert report.kind is ReportKind.REJECTED and report.reject_reason is reason and report.text
        assert h.venues.submitted == []


async def test_a_duplicate_cl_ord_id_is_rejected(tmp_path):
    async with Harness(tmp_path) as h:
        h.order(900, cl_ord_id="SAME")
        h.order(500, cl_ord_id="SAME")
        rejected = [r for r in h.traders.for_order("SAME") if r.kind is ReportKind.REJECTED]
        assert len(rejected) == 1 and rejected[0].reject_reason is RejectReason.DUPLICATE_ORDER


async def test_a_cancel_mid_sweep_waits_for_the_children_then_cancels(tmp_path):
    async with Harness(tmp_path) as h:
        cl = h.order(900)
        sent = await h.children(3)
        h.deliver(CancelParent(SESSION, "X1", cl))
        assert h.traders.reports[-1].kind is ReportKind.PENDING_CANCEL
        assert h.traders.final("X1") is None  # children still in flight
        answer_all(h, sent, fraction=0.5)
        final = await until(lambda: h.traders.final("X1"))
        assert final.kind is ReportKind.CANCELED and final.orig_cl_ord_id == cl and final.cum_qty == 450
        assert len(h.venues.submitted) == 3  # no new sweep after the cancel


async def test_cancel_of_an_unknown_or_finished_order_is_refused(tmp_path):
    async with Harness(tmp_path) as h:
        h.deliver(CancelParent(SESSION, "X1", "NOPE"))
        cl = h.order(900, tif=TimeInForce.IOC)
        answer_all(h, await h.children(3), fraction=0.0)
        await until(lambda: h.traders.final(cl))
        h.deliver(CancelParent(SESSION, "X2", cl))
        unknown, late = h.traders.cancel_refusals
        assert not unknown.too_late and unknown.status is None
        assert late.too_late and late.status is ParentStatus.CANCELED


async def test_a_replace_reduces_the_quantity_between_sweeps(tmp_path):
    async with Harness(tmp_path) as h:
        cl = h.order(900)
        sent = await h.children(3)
        h.deliver(ReplaceParent(SESSION, "R1", cl, 600))
        assert h.traders.reports[-1].kind is ReportKind.PENDING_REPLACE
        answer_all(h, sent, fraction=0.5)  # 450 filled
        replaced = await until(lambda: next((r for r in h.traders.reports if r.kind is ReportKind.REPLACED), None))
        assert replaced.quantity == 600 and replaced.cl_ord_id == "R1" and replaced.orig_cl_ord_id == cl
        second = (await h.children(4))[3:]
        assert sum(c.quantity for c in second) <= 150
        answer_all(h, second)
        final = await until(lambda: h.traders.final("R1"))
        assert final.status is ParentStatus.FILLED and final.cum_qty == sum(c.quantity for c in second) + 450


async def test_a_replace_that_would_increase_the_quantity_is_refused(tmp_path):
    async with Harness(tmp_path) as h:
        cl = h.order(900)
        await h.children(3)
        h.deliver(ReplaceParent(SESSION, "R1", cl, 1200))
        [refusal] = h.traders.cancel_refusals
        assert refusal.for_replace and "reduction" in refusal.text


async def test_status_queries_are_answered_and_unknown_orders_say_so(tmp_path):
    async with Harness(tmp_path) as h:
        cl = h.order(900)
        await h.children(3)
        h.deliver(ParentStatusQuery(SESSION, cl), ParentStatusQuery(SESSION, "NOPE"))
        status = h.traders.reports[-2]
        assert status.kind is ReportKind.STATUS and status.status is ParentStatus.NEW and status.leaves_qty == 900
        unknown = h.traders.reports[-1]
        assert unknown.kind is ReportKind.STATUS and unknown.reject_reason is RejectReason.UNKNOWN_ORDER


async def test_unsupported_messages_get_a_business_reject(tmp_path):
    async with Harness(tmp_path) as h:
        h.deliver(UnsupportedMessage(SESSION, "R", "7"))
        [refusal] = h.traders.business_refusals
        assert refusal.ref_msg_type == "R" and refusal.ref_seq_num == "7"


async def test_a_single_report_ending_fills_and_closes_the_child(tmp_path):
    async with Harness(tmp_path) as h:
        cl = h.order(900, tif=TimeInForce.IOC)
        sent = await h.children(3)
        for command in sent:
            h.deliver(trade(command, 100, 100, final=True))
        final = await until(lambda: h.traders.final(cl))
        assert final.cum_qty == 300 and final.kind is ReportKind.CANCELED


async def test_sweeps_back_off_while_nothing_fills_and_return_to_full_speed_after_a_fill(tmp_path):
    async with Harness(tmp_path, sweep={"deadline_ms": 100, "interval_ms": 10, "max_interval_ms": 80}) as h:
        h.order(900)
        started = []
        for sweep in range(1, 6):  # empty sweeps: the pause doubles 10, 20, 40, 80, 80 ms
            sent = await h.children(3 * sweep, timeout=3)
            started.append(asyncio.get_running_loop().time())
            answer_all(h, sent[-3:], fraction=0.0)
        gaps = [b - a for a, b in zip(started, started[1:])]
        assert gaps[-1] > 2.5 * gaps[0]
        answer_all(h, (await h.children(18, timeout=3))[-3:], fraction=0.2)  # a fill: full speed again
        before = asyncio.get_running_loop().time()
        await h.children(21, timeout=3)
        assert asyncio.get_running_loop().time() - before < 0.06


async def test_a_venue_reject_ends_the_child_teaches_nothing_and_the_parent_goes_on(tmp_path):
    async with Harness(tmp_path) as h:
        learned = []
        observe = h.weights.observe
        h.weights.observe = lambda symbol, allocation, filled: (learned.append(allocation.children.copy()),
                                                                observe(symbol, allocation, filled))
        cl = h.order(900)
        a, b, c = await h.children(3)
        h.deliver(VenueReport("A", a.child_id, "R1", VenueReportKind.REJECTED, VenueOrderStatus.REJECTED,
                              cum_qty=0, leaves_qty=0, text="below the venue's minimum"))
        answer_all(h, [b, c])
        assert h.manager.children[a.child_id].state is ChildState.REJECTED
        second = (await h.children(4))[3:]
        assert sum(x.quantity for x in second) == a.quantity  # A's shares came back to the parent
        assert learned[0][0] == 0 and learned[0][1] > 0       # A's reject taught nothing
        answer_all(h, second)
        assert (await until(lambda: h.traders.final(cl))).status is ParentStatus.FILLED


async def test_a_finished_parent_leaves_memory_and_is_still_answered_from_the_journal(tmp_path, monkeypatch):
    from engine.manager import parent_tasks

    monkeypatch.setattr(parent_tasks, "_FORGET_CHILDREN_AFTER", 0.2)  # longer than one journal batch
    async with Harness(tmp_path) as h:
        cl = h.order(900, tif=TimeInForce.IOC)
        answer_all(h, await h.children(3), fraction=0.5)
        final = await until(lambda: h.traders.final(cl))
        parent_id = h.parent(cl).parent_id
        await until(lambda: parent_id not in h.manager.parents, timeout=3.0)
        assert not h.manager.children  # its children went with it
        h.deliver(ParentStatusQuery(SESSION, cl))
        status = h.traders.reports[-1]
        assert status.kind is ReportKind.STATUS and status.status is ParentStatus.CANCELED
        assert status.cum_qty == final.cum_qty == 450 and status.order_id == parent_id
        h.deliver(CancelParent(SESSION, "X9", cl))
        refusal = h.traders.cancel_refusals[-1]
        assert refusal.too_late and refusal.status is ParentStatus.CANCELED
        h.order(100, cl_ord_id=cl)  # its ClOrdID is still taken
        assert h.traders.reports[-1].reject_reason is RejectReason.DUPLICATE_ORDER
