"""Kill switches, trading states and limit changes in the order manager, against fake ports: halt and
resume in every scope, halt --cancel, venue disable and enable, the automatic trips (reject storm,
overfill, journal failure), limit changes, and all of it surviving a restart."""

from __future__ import annotations

import asyncio

import pytest

from engine.domain.controls import GLOBAL, Scope, Target
from engine.domain.limit_changes import LimitChange
from engine.domain.messages import (CancelParent, ParentStatus, ReplaceParent, ReportKind, VenueOrderStatus, VenueReport,
                                    VenueReportKind)
from engine.domain.orders import RejectReason, TimeInForce
from engine.journal import JournalError, controls, incidents
from engine.manager.operations import OperationRefused
from tests.engine.fakes import SESSION, SYMBOL, Harness, answer_all, canceled, trade, until

OPS = "ops:test@127.0.0.1"
OTHER_SYMBOL = "BARC.L"
SWEEP = {"deadline_ms": 100, "interval_ms": 1, "cancel_retry_ms": 50, "resolve_wait_ms": 300}


def rejected_for(h: Harness, cl: str):
    final = h.traders.final(cl)
    assert final is not None and final.kind is ReportKind.REJECTED, h.traders.kinds(cl)
    return final


async def test_a_global_halt_refuses_new_parents_with_reason_2_and_resume_ends_it(tmp_path):
    async with Harness(tmp_path, sweep=SWEEP) as h:
        h.manager.operations.halt(GLOBAL, "market wide event", OPS)
        cl = h.order(900)
        report = rejected_for(h, cl)
        assert report.reject_reason is RejectReason.HALTED and "trading halted (global): market wide event" in report.text
        assert h.venues.submitted == []
        h.manager.operations.resume(GLOBAL, OPS)
        cl = h.order(900)
        assert len(await h.children(3)) == 3 and h.traders.kinds(cl)[:2] == [ReportKind.PENDING_NEW, ReportKind.NEW]


@pytest.mark.parametrize("target", [GLOBAL, Target(Scope.SESSION, str(SESSION)), Target(Scope.SYMBOL, SYMBOL)],
                         ids=["global", "session", "symbol"])
async def test_a_halt_pauses_working_parents_in_scope_and_cancels_still_work(tmp_path, target):
    async with Harness(tmp_path, sweep=SWEEP) as h:
        working = h.order(900)
        first = await h.children(3)
        h.manager.operations.halt(target, "pause", OPS)
        answer_all(h, first, fraction=0.0)  # the sweep in flight ends; no new one may start
        await asyncio.sleep(0.3)
        assert len(h.venues.submitted) == 3
        refused = h.order(500)
        assert rejected_for(h, refused).reject_reason is RejectReason.HALTED
        h.manager.operations.resume(target, OPS)
        second = await h.children(6)  # the paused parent sweeps again at once
        assert all(".2." in c.child_id for c in second[3:])
        answer_all(h, second[3:], fraction=0.0)
        h.manager.operations.halt(target, "again", OPS)
        h.deliver(CancelParent(SESSION, "X1", working))  # a cancel is never refused by a halt
        final = await until(lambda: h.traders.final("X1"), timeout=3)
        assert final.kind is ReportKind.CANCELED


async def test_a_symbol_halt_leaves_other_symbols_trading(tmp_path):
    async with Harness(tmp_path, sweep=SWEEP) as h:
        h.manager.operations.halt(Target(Scope.SYMBOL, SYMBOL), "news pending", OPS)
        assert rejected_for(h, h.order(900)).reject_reason is RejectReason.HALTED
        other = h.order(900, symbol=OTHER_SYMBOL)
        assert len(await h.children(3)) == 3 and h.traders.kinds(other)[1] is ReportKind.NEW


@pytest.mark.parametrize("target", [GLOBAL, Target(Scope.SESSION, str(SESSION)), Target(Scope.SYMBOL, SYMBOL)],
                         ids=["global", "session", "symbol"])
async def test_halt_cancel_ends_every_working_parent_in_scope_within_a_deadline_and_the_resolve_wait(tmp_path, target):
    async with Harness(tmp_path, sweep=SWEEP) as h:
        in_scope = [h.order(900), h.order(600)]
        spared = h.order(900, symbol=OTHER_SYMBOL)
        await h.children(9)
        loop = asyncio.get_running_loop()
        started = loop.time()
        result = h.manager.operations.halt(target, "kill", OPS, cancel=True)
        scoped = in_scope + ([spared] if target == GLOBAL or target.scope is Scope.SESSION else [])
        assert len(result["cancelled"]) == len(scoped)
        finals = [await until(lambda cl=cl: h.traders.final(cl), timeout=3) for cl in scoped]
        elapsed = loop.time() - started
        assert all(f.kind is ReportKind.CANCELED and "canceled by operator: kill" in f.text for f in finals)
        assert elapsed <= (SWEEP["deadline_ms"] + SWEEP["resolve_wait_ms"]) / 1000 + 0.2
        if spared not in scoped:
            assert h.traders.final(spared) is None and not h.parent(spared).is_final


async def test_a_disabled_venue_gets_no_children_until_it_is_enabled(tmp_path):
    async with Harness(tmp_path, sweep=SWEEP) as h:
        h.manager.operations.halt(Target(Scope.VENUE, "B"), "maintenance", OPS)
        h.order(900)
        first = await h.children(2)
        await asyncio.sleep(0.05)
        assert {c.venue for c in h.venues.submitted} == {"A", "C"}
        h.manager.operations.resume(Target(Scope.VENUE, "B"), OPS)
        answer_all(h, first, fraction=0.0)
        await until(lambda: any(c.venue == "B" for c in h.venues.submitted))


async def test_unknown_scopes_and_resuming_what_is_not_halted_are_refused(tmp_path):
    async with Harness(tmp_path) as h:
        with pytest.raises(OperationRefused, match="unknown venue 'Z'"):
            h.manager.operations.halt(Target(Scope.VENUE, "Z"), "x", OPS)
        with pytest.raises(OperationRefused, match="unknown symbol"):
            h.manager.operations.halt(Target(Scope.SYMBOL, "NOPE.L"), "x", OPS)
        with pytest.raises(OperationRefused, match="is not halted"):
            h.manager.operations.resume(GLOBAL, OPS)
        assert h.manager.controls.halts == ()


async def test_a_restart_keeps_every_halt_and_a_resume_after_it_ends_it(tmp_path):
    async with Harness(tmp_path) as h:
        h.manager.operations.halt(Target(Scope.SYMBOL, SYMBOL), "news", OPS)
        h.manager.operations.halt(Target(Scope.VENUE, "C"), "flaky", OPS)
        h.manager.operations.halt(GLOBAL, "end of day", OPS)
        h.manager.operations.resume(GLOBAL, OPS)
    async with Harness(tmp_path) as again:
        halts = {(h.target.scope, h.target.key): h for h in again.manager.controls.halts}
        assert set(halts) == {(Scope.SYMBOL, SYMBOL), (Scope.VENUE, "C")}
        assert halts[(Scope.SYMBOL, SYMBOL)].origin == OPS and halts[(Scope.SYMBOL, SYMBOL)].reason == "news"
        assert rejected_for(again, again.order(900)).reject_reason is RejectReason.HALTED
        again.order(900, symbol=OTHER_SYMBOL)
        await again.children(2)
        assert {c.venue for c in again.venues.submitted} == {"A", "B"}
    actions = [row["action"] for row in controls(tmp_path / "journal.sqlite")]
    assert actions == ["halt", "halt", "halt", "resume"]


async def test_an_operator_cancel_a_stop_left_unfinished_is_carried_out_after_the_restart(tmp_path):
    async with Harness(tmp_path, sweep={**SWEEP, "deadline_ms": 50}) as h:
        cl = h.order(900)
        await h.children(3)  # never answered: the stop leaves the parent open with its children unresolved
        h.manager.operations.cancel_all("flatten", OPS)
        h.manager._stopping = True
    assert h.traders.final(cl) is None
    async with Harness(tmp_path, sweep=SWEEP) as again:
        await until(lambda: len(again.venues.queries) >= 3)
        for query in again.venues.queries[:3]:
            again.deliver(VenueReport(query.venue, query.child_id, f"S{query.child_id}", VenueReportKind.STATUS,
                                      VenueOrderStatus.CANCELED, cum_qty=0, leaves_qty=0))
        final = await until(lambda: again.traders.final(cl), timeout=3)
        assert final.kind is ReportKind.CANCELED and "canceled by operator: flatten" in final.text


async def test_a_reject_storm_disables_the_venue_and_says_so(tmp_path):
    storm = {"venue_rejects": 3, "venue_reject_window_seconds": 10}
    async with Harness(tmp_path, sweep=SWEEP, trips=storm) as h:
        h.order(90_000)
        answered = 0
        while h.manager.controls.venue_halt("A") is None:  # A rejects every child, the others cancel
            await until(lambda: len(h.venues.submitted) > answered)
            for command in h.venues.submitted[answered:]:
                h.deliver(VenueReport("A", command.child_id, f"R{command.child_id}", VenueReportKind.REJECTED,
                                      VenueOrderStatus.REJECTED, cum_qty=0, leaves_qty=0, text="no")
                          if command.venue == "A" else canceled(command))
                answered += 1
        assert sum(c.venue == "A" for c in h.venues.submitted) == 3  # the third reject tripped it
        await asyncio.sleep(0.05)
        assert sum(c.venue == "A" for c in h.venues.submitted) == 3
        halt = await until(lambda: h.manager.controls.venue_halt("A"))
        assert halt.automatic and "reject storm" in halt.reason
    assert any(row["kind"] == "trip: venue halted" for row in incidents(tmp_path / "journal.sqlite"))


async def test_a_venue_that_overfills_is_disabled(tmp_path):
    async with Harness(tmp_path, sweep=SWEEP) as h:
        h.order(900)
        sent = await h.children(3)
        a = next(c for c in sent if c.venue == "A")
        h.deliver(trade(a, a.quantity + 100, a.quantity + 100))
        halt = await until(lambda: h.manager.controls.venue_halt("A"))
        assert halt.automatic and "overfill" in halt.reason


async def test_a_journal_that_cannot_commit_halts_every_sweep(tmp_path):
    async with Harness(tmp_path, sweep=SWEEP) as h:
        h.order(900)
        first = await h.children(3)
        original = h.journal.commit_now

        def failing() -> None:
            raise JournalError("disk full (test)")
        h.journal.commit_now = failing
        answer_all(h, first, fraction=0.0)
        await until(lambda: h.manager.failed.is_set())
        assert h.manager.controls.halt_of(str(SESSION), SYMBOL).automatic
        await asyncio.sleep(0.2)
        assert len(h.venues.submitted) == 3
        h.journal.commit_now = original


async def test_a_limit_changed_at_runtime_applies_at_once_is_journaled_and_survives_a_restart(tmp_path):
    async with Harness(tmp_path) as h:
        h.manager.operations.set_limit(LimitChange("order.max_quantity", 500.0, "hard", None, 0.0), OPS)
        over = h.order(501)
        assert rejected_for(h, over).reject_reason is RejectReason.EXCEEDS_LIMIT
        at = h.order(500)
        await until(lambda: h.traders.kinds(at)[1:2] == [ReportKind.NEW])
        with pytest.raises(OperationRefused, match="soft level"):
            h.manager.operations.set_limit(LimitChange("order.max_quantity", 600.0, "soft", None, 0.0), OPS)
    async with Harness(tmp_path) as again:
        assert again.manager.risk.limits.order.max_quantity.hard == 500.0
        assert again.manager.operations.show_limits()["changes"][0]["origin"] == OPS
        assert rejected_for(again, again.order(501, cl_ord_id="N1")).reject_reason is RejectReason.EXCEEDS_LIMIT


async def test_an_ioc_parent_with_every_venue_disabled_ends_at_once_rather_than_wait(tmp_path):
    async with Harness(tmp_path, sweep=SWEEP) as h:
        h.manager.operations.halt(Target(Scope.VENUE, "A"), "x", OPS)
        h.manager.operations.halt(Target(Scope.VENUE, "B"), "x", OPS)
        h.manager.operations.halt(Target(Scope.VENUE, "C"), "x", OPS)
        cl = h.order(900, tif=TimeInForce.IOC)
        final = await until(lambda: h.traders.final(cl))
        assert final.kind is ReportKind.CANCELED and final.status is ParentStatus.CANCELED
        assert h.venues.submitted == []


async def test_the_restricted_list_file_is_read_at_start_and_reloaded_on_command(tmp_path):
    restricted = tmp_path / "restricted.txt"
    restricted.write_text("# none yet\n")
    async with Harness(tmp_path, risk={"restricted_file": "restricted.txt"}) as h:
        first = h.order(900)
        await until(lambda: h.traders.kinds(first)[1:2] == [ReportKind.NEW])
        restricted.write_text(f"{SYMBOL}   # under investigation\n")
        assert h.traders.final(h.order(900, cl_ord_id="not yet")) is None  # the file is read on command only
        result = h.manager.operations.reload_restricted(OPS)
        assert f"added ['{SYMBOL}']" in result["message"]
        report = rejected_for(h, h.order(900))
        assert report.reject_reason is RejectReason.HALTED and "restricted list" in report.text
        restricted.unlink()
        with pytest.raises(OperationRefused, match="the old one stays"):
            h.manager.operations.reload_restricted(OPS)
        assert rejected_for(h, h.order(900)).reject_reason is RejectReason.HALTED
    assert [row["action"] for row in controls(tmp_path / "journal.sqlite")] == ["restricted"]


async def test_a_replace_over_the_message_rate_is_refused_with_cxl_rej_reason_2_and_a_cancel_never_is(tmp_path):

    async with Harness(tmp_path, sweep=SWEEP, risk={"session": {"max_messages_per_second": {"hard": 2}}}) as h:
        cl = h.order(900)                                             # message 1
        await h.children(3)
        h.deliver(ReplaceParent(SESSION, "R1", cl, 800))              # message 2: at the limit
        h.deliver(ReplaceParent(SESSION, "R2", "R1", 700))            # message 3: over it
        refusal = await until(lambda: next((r for r in h.traders.cancel_refusals if r.cl_ord_id == "R2"), None))
        assert refusal.broker_option and refusal.for_replace and "max_messages_per_second 2" in refusal.text
        assert not any(r.cl_ord_id == "R1" for r in h.traders.cancel_refusals)
        h.deliver(CancelParent(SESSION, "X1", "R1"))                  # message 4: a cancel still goes through
        final = await until(lambda: h.traders.final("X1"), timeout=3)
        assert final.kind is ReportKind.CANCELED
