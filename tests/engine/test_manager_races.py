"""Races and faults against the manager: a venue lost mid-sweep, duplicate and late reports, fills
for unknown orders, venue overfills, and the never-overfill invariant under random venue behaviour."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.domain.child import ChildState
from engine.domain.messages import (CancelParent, ParentStatus, ReportKind, VenueCancelRefused, VenueOrderStatus,
                                    VenueReport, VenueReportKind, VenueSessionChanged)
from engine.domain.orders import TimeInForce
from tests.engine.fakes import SESSION, Harness, answer_all, canceled, trade, until


def trades_of(h, cl):
    return [r for r in h.traders.for_order(cl) if r.kind is ReportKind.TRADE]


async def test_a_venue_lost_mid_sweep_does_not_stall_the_parent_and_is_reconciled_on_reconnect(tmp_path):
    async with Harness(tmp_path) as h:
        learned = []
        observe = h.weights.observe
        h.weights.observe = lambda symbol, allocation, filled: (learned.append((allocation.children.copy(), filled.copy())),
                                                                observe(symbol, allocation, filled))
        cl = h.order(900)
        first = await h.children(3)
        lost = next(c for c in first if c.venue == "B")
        h.venues.up.discard("B")
        answer_all(h, [c for c in first if c.venue != "B"], fraction=0.5)  # A and C: 150 each
        second = (await h.children(4))[3:]  # the deadline passed: the parent goes on without B
        assert {c.venue for c in second} <= {"A", "C"}
        assert sum(c.quantity for c in second) == 900 - 300 - lost.quantity  # B's shares stay reserved
        child = h.manager.children[lost.child_id]
        assert child.state is ChildState.UNRESOLVED and child.timed_out
        sent, filled = learned[0]
        assert sent[1] == 0 and filled[1] == 0  # the lost child taught nothing
        answer_all(h, second)
        h.venues.up.add("B")
        h.deliver(VenueSessionChanged("B", True))
        [query] = [q for q in h.venues.queries if q.child_id == lost.child_id][:1]
        h.deliver(VenueReport("B", lost.child_id, "B-late", VenueReportKind.STATUS, VenueOrderStatus.CANCELED,
                              cum_qty=100, leaves_qty=0, avg_px=25.1))
        third = (await h.children(len(first) + len(second) + 1))[len(first) + len(second):]
        assert sum(c.quantity for c in third) == 200  # B's unfilled 200 came back to the parent
        answer_all(h, third)
        final = await until(lambda: h.traders.final(cl))
        assert final.status is ParentStatus.FILLED and final.cum_qty == 900
        reconciled = [r for r in trades_of(h, cl) if r.last_market == "B"]
        assert reconciled[0].last_qty == 100 and reconciled[0].last_px == 25.1


async def test_duplicate_exec_ids_and_resent_fills_are_counted_once(tmp_path):
    async with Harness(tmp_path) as h:
        cl = h.order(900, tif=TimeInForce.IOC)
        sent = await h.children(3)
        fill = trade(sent[0], 100, 100)
        resent = VenueReport(fill.venue, fill.child_id, "another-exec-id", fill.kind, fill.status, fill.last_qty,
                             fill.last_px, fill.cum_qty, fill.leaves_qty, fill.avg_px)
        h.deliver(fill, fill, resent)
        answer_all(h, sent[1:], fraction=0.0)
        h.deliver(canceled(sent[0], 100))
        final = await until(lambda: h.traders.final(cl))
        assert final.cum_qty == 100 and len(trades_of(h, cl)) == 1


async def test_reports_for_unknown_orders_are_counted_and_ignored(tmp_path):
    async with Harness(tmp_path) as h:
        h.deliver(VenueReport("A", "someone-else.1.A", "Z1", VenueReportKind.TRADE, VenueOrderStatus.FILLED,
                              last_qty=100, last_px=25.0, cum_qty=100))
        assert h.manager.counters["report for an unknown order"] == 1 and h.traders.reports == []


async def test_a_late_fill_after_the_cancel_is_booked_only_while_it_fits(tmp_path):
    async with Harness(tmp_path) as h:
        cl = h.order(900, tif=TimeInForce.IOC)
        a, b, c = await h.children(3)
        h.deliver(canceled(a), trade(b, b.quantity, b.quantity), trade(c, c.quantity, c.quantity))
        final = await until(lambda: h.traders.final(cl))
        assert final.cum_qty == 600
        h.deliver(trade(a, 200, 200))  # after the venue said cancelled: 300 are still free on the parent
        assert h.parent(cl).cum_qty == 800 and trades_of(h, cl)[-1].last_qty == 200
        h.deliver(VenueReport(a.venue, a.child_id, "late-2", VenueReportKind.TRADE, VenueOrderStatus.FILLED,
                              last_qty=100, last_px=25.0, cum_qty=300))
        assert h.parent(cl).cum_qty == 900  # exactly fits


async def test_a_venue_reporting_more_than_was_sent_is_capped(tmp_path):
    async with Harness(tmp_path) as h:
        cl = h.order(900, tif=TimeInForce.IOC)
        a, b, c = await h.children(3)
        h.deliver(trade(a, a.quantity + 500, a.quantity + 500))
        answer_all(h, [b, c], fraction=0.0)
        final = await until(lambda: h.traders.final(cl))
        assert final.cum_qty == a.quantity
        assert h.manager.counters["venue anomaly"] == 1


async def test_a_cancel_refused_as_unknown_closes_the_child_without_fills(tmp_path):
    async with Harness(tmp_path, sweep={"deadline_ms": 30, "interval_ms": 1, "cancel_retry_ms": 1000}) as h:
        cl = h.order(900, tif=TimeInForce.IOC)
        a, b, c = await h.children(3)
        answer_all(h, [b, c], fraction=0.0)
        await until(lambda: h.venues.cancels)  # a is withdrawn at the deadline
        h.deliver(VenueCancelRefused("A", a.child_id, too_late=False, text="unknown order"))
        final = await until(lambda: h.traders.final(cl))
        assert final.cum_qty == 0 and h.manager.children[a.child_id].state is ChildState.CANCELED


async def test_a_cancel_refused_as_too_late_asks_the_venue_for_the_childs_status(tmp_path):
    async with Harness(tmp_path, sweep={"deadline_ms": 30, "interval_ms": 1, "cancel_retry_ms": 1000}) as h:
        h.order(900, tif=TimeInForce.IOC)
        a, b, c = await h.children(3)
        await until(lambda: h.venues.cancels)
        h.deliver(VenueCancelRefused("A", a.child_id, too_late=True, text="too late"))
        assert [q.child_id for q in h.venues.queries] == [a.child_id]


async def test_a_cancel_waits_for_a_child_withdrawn_at_the_deadline_and_reports_its_fill_first(tmp_path):
    async with Harness(tmp_path, sweep={"deadline_ms": 30, "interval_ms": 1, "cancel_retry_ms": 1000,
                                        "resolve_wait_ms": 5000}) as h:
        cl = h.order(900)
        a, b, c = await h.children(3)
        h.deliver(CancelParent(SESSION, "X1", cl))
        answer_all(h, [b, c], fraction=0.0)
        await until(lambda: h.venues.cancels)  # a is withdrawn at the deadline, its venue has not answered
        await asyncio.sleep(0.05)
        assert h.traders.final("X1") is None and h.parent(cl).state is ParentStatus.PENDING_CANCEL
        h.deliver(trade(a, 100, 100, final=True))  # the venue's answer: 100 traded before the withdrawal
        final = await until(lambda: h.traders.final("X1"))
        assert final.kind is ReportKind.CANCELED and final.cum_qty == 100
        kinds = h.traders.kinds(cl)
        assert kinds.index(ReportKind.TRADE) < kinds.index(ReportKind.CANCELED)
        assert len(h.venues.submitted) == 3 and h.manager.counters["fill after the parent's final report"] == 0


async def test_a_parent_ends_after_the_resolve_wait_and_a_fill_after_it_is_an_incident(tmp_path):
    async with Harness(tmp_path, sweep={"deadline_ms": 30, "interval_ms": 1, "cancel_retry_ms": 1000,
                                        "resolve_wait_ms": 100}) as h:
        cl = h.order(900, tif=TimeInForce.IOC)
        a, b, c = await h.children(3)
        answer_all(h, [b, c], fraction=0.0)
        final = await until(lambda: h.traders.final(cl))  # a's venue never answers
        assert final.kind is ReportKind.CANCELED and final.cum_qty == 0
        assert h.manager.counters["children unresolved after the resolve wait"] == 1
        h.deliver(trade(a, 50, 50, final=True))
        late = h.traders.reports[-1]
        assert late.kind is ReportKind.TRADE and late.last_qty == 50 and late.status is ParentStatus.CANCELED
        assert h.manager.counters["fill after the parent's final report"] == 1


async def test_a_cancel_pending_when_the_parent_fills_is_refused_as_too_late(tmp_path):
    async with Harness(tmp_path) as h:
        cl = h.order(900)
        sent = await h.children(3)
        h.deliver(CancelParent(SESSION, "X1", cl))
        answer_all(h, sent)  # everything fills before the cancel can be carried out
        await until(lambda: h.traders.cancel_refusals)
        [refusal] = h.traders.cancel_refusals
        assert refusal.cl_ord_id == "X1" and refusal.too_late and refusal.status is ParentStatus.FILLED
        assert h.traders.final(cl).status is ParentStatus.FILLED


# -- the never-overfill invariant under random venue behaviour --------------------------------------

ACTIONS = st.lists(st.tuples(st.sampled_from(["fill", "dup", "cancel", "late", "over", "silent", "unknown"]),
                             st.floats(0.0, 1.0)), min_size=1, max_size=4)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(quantity=st.integers(200, 5000), behaviour=st.lists(ACTIONS, min_size=3, max_size=12))
def test_the_parent_is_never_overfilled_whatever_the_venues_send(tmp_path_factory, quantity, behaviour):
    asyncio.run(_random_venues(tmp_path_factory.mktemp("overfill"), quantity, behaviour))


async def _random_venues(tmp_path, quantity, behaviour):
    async with Harness(tmp_path, sweep={"deadline_ms": 10, "interval_ms": 0, "cancel_retry_ms": 20}) as h:
        cl = h.order(quantity)
        parent = h.parent(cl)
        handled = 0
        script = iter(behaviour * 3)
        for _ in range(6):
            try:
                await until(lambda: len(h.venues.submitted) > handled or parent.is_final, timeout=1.0)
            except AssertionError:
                break
            for command in h.venues.submitted[handled:]:
                _play(h, command, next(script, [("silent", 0.0)]))
                assert parent.cum_qty + parent.reserved <= parent.quantity
                assert parent.reserved == _open_quantity(parent)  # the running total never drifts
            handled = len(h.venues.submitted)
            if parent.is_final:
                break
        if not parent.is_final:
            h.deliver(CancelParent(SESSION, "STOP", cl))
        for command in h.venues.submitted:  # everything ends eventually, possibly with more late fills
            h.deliver(trade(command, command.quantity, command.quantity), canceled(command, command.quantity))
        await until(lambda: parent.is_final, timeout=3.0)
        reported = sum(r.last_qty for r in trades_of(h, cl))
        assert parent.cum_qty == reported <= quantity
        assert parent.cum_qty + parent.reserved <= parent.quantity
        assert parent.reserved == _open_quantity(parent)
        assert not h.manager.failed.is_set()


def _open_quantity(parent) -> int:
    return sum(child.open_quantity for child in parent.open_children.values())


def _play(h, command, actions) -> None:
    cum = 0
    for action, fraction in actions:
        step = int(fraction * command.quantity)
        if action == "fill" and step:
            cum = min(command.quantity, cum + step)
            h.deliver(trade(command, cum, step))
        elif action == "dup" and cum:
            h.deliver(trade(command, cum, step))
        elif action == "cancel":
            h.deliver(canceled(command, cum))
        elif action == "late":
            h.deliver(canceled(command, cum), trade(command, min(command.quantity, cum + step), step))
        elif action == "over":
            h.deliver(trade(command, command.quantity + step + 1, step + 1))
        elif action == "unknown":
            h.deliver(VenueReport(command.venue, command.child_id + "x", "U", VenueReportKind.TRADE,
                                  VenueOrderStatus.FILLED, last_qty=step, last_px=25.0, cum_qty=step))


async def test_a_venue_that_keeps_rejecting_is_benched_for_a_while(tmp_path):
    async with Harness(tmp_path, sweep={"deadline_ms": 100, "interval_ms": 1, "reject_bench_ms": 60000}) as h:
        cl = h.order(50_000)
        handled = 0
        for _ in range(5):  # A rejects every child; B and C fill nothing
            await h.children(handled + 3)
            for command in h.venues.submitted[handled:handled + 3]:
                if command.venue == "A":
                    h.deliver(VenueReport("A", command.child_id, f"R-{command.child_id}", VenueReportKind.REJECTED,
                                          VenueOrderStatus.REJECTED, cum_qty=0, leaves_qty=0, text="no"))
                else:
                    h.deliver(canceled(command))
            handled += 3
        sixth = await until(lambda: h.venues.submitted[handled:])
        assert {c.venue for c in sixth} == {"B", "C"}
        h.deliver(CancelParent(SESSION, "STOP", cl))
        answer_all(h, sixth, fraction=0.0)
        await until(lambda: h.traders.final("STOP"))
