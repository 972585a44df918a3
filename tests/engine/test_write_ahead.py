"""The write-ahead, against a journal that records what each commit made durable: nothing reaches a
venue or a trader before the rows it depends on are committed, a journal that cannot commit sends
nothing, and trader reports a crash caught between commit and send go out again after a restart."""

from __future__ import annotations

import dataclasses
import sqlite3

from engine.domain.messages import ParentReport, ParentStatus, ReportKind, report_record
from engine.domain.orders import Side
from engine.journal import Journal, JournalError, unsent_trader_reports
from tests.engine.fakes import SESSION, SYMBOL, FakeTraders, FakeVenues, Harness, answer_all, until


class RecordingJournal(Journal):
    """A real journal that also remembers, per table, the keys each commit made durable."""

    def __init__(self, *args, **kwargs) -> None:
        self.durable: dict[str, set[str]] = {"children": set(), "parents": set(), "fills": set(), "outbox": set()}
        self.fail = False
        super().__init__(*args, **kwargs)

    def commit_now(self) -> None:
        if self.fail:
            raise JournalError("disk full (test)")
        with self._rows_lock:
            rows = list(self._rows)
        super().commit_now()
        keys = {"child": ("children", 0), "parent": ("parents", 0), "fill": ("fills", 2), "report": ("outbox", 1)}
        for statement, values in rows:
            if statement in keys:
                table, key = keys[statement]
                self.durable[table].add(values[key])


class CheckingVenues(FakeVenues):
    """Refuses to believe a child that is not durable yet."""

    def __init__(self, journal: RecordingJournal) -> None:
        super().__init__()
        self.journal = journal
        self.sent_before_durable: list[str] = []

    def submit(self, command) -> bool:
        if command.child_id not in self.journal.durable["children"]:
            self.sent_before_durable.append(command.child_id)
        return super().submit(command)


class CheckingTraders(FakeTraders):
    def __init__(self, journal: RecordingJournal) -> None:
        super().__init__()
        self.journal = journal
        self.reported_before_durable: list[str] = []

    def report(self, report) -> bool:
        durable = self.journal.durable
        if report.kind is not ReportKind.REJECTED and (
                report.order_id not in durable["parents"] or report.exec_id not in durable["outbox"]):
            self.reported_before_durable.append(f"{report.kind.value} {report.exec_id}")
        return super().report(report)


def _checked_harness(tmp_path) -> Harness:
    harness = Harness(tmp_path)
    harness.journal.close()
    journal = RecordingJournal(harness.config.journal)
    harness.journal = journal
    harness.venues = CheckingVenues(journal)
    harness.traders = CheckingTraders(journal)
    from engine.domain.ids import IdFactory
    from engine.manager.order_manager import OrderManager
    harness.manager = OrderManager(harness.config, harness.venues, harness.traders, journal, harness.weights,
                                   IdFactory("wa-", journal.run))
    return harness


async def test_no_child_leaves_and_no_report_reaches_the_trader_before_the_journal_holds_it(tmp_path):
    async with _checked_harness(tmp_path) as h:
        cl = h.order(900)
        first = await h.children(3)
        answer_all(h, first, fraction=0.5)
        second = (await h.children(4))[3:]
        answer_all(h, second)
        await until(lambda: h.traders.final(cl))
        fills = [r for r in h.traders.for_order(cl) if r.kind is ReportKind.TRADE]
        assert h.venues.submitted and fills
        assert h.venues.sent_before_durable == []
        assert h.traders.reported_before_durable == []
        # every fill the trader heard of was durable, with its child, before the report left
        assert {c.child_id for c in h.venues.submitted} <= h.journal.durable["fills"]


async def test_a_journal_that_cannot_commit_sends_nothing_and_stops_the_engine(tmp_path):
    async with _checked_harness(tmp_path) as h:
        h.journal.fail = True
        cl = h.order(900)
        await until(lambda: h.manager.failed.is_set())
        assert h.venues.submitted == [] and h.traders.reports == []
        assert h.manager.outbox.not_sent["journal failed"] >= 2  # the acks, and the children if any
        parent = h.parent(cl)
        assert parent.reserved == 0 and parent.cum_qty == 0  # children that never left hold nothing
        h.journal.fail = False


async def test_a_child_whose_session_dropped_before_it_left_frees_its_shares_and_teaches_nothing(tmp_path):
    async with Harness(tmp_path) as h:
        h.venues.up.discard("B")
        h.manager.runner.venues = FakeVenues()  # the sweep still sees B logged on: it drops in between
        cl = h.order(900)
        sent = await h.children(2)
        assert {c.venue for c in sent} == {"A", "C"}
        answer_all(h, sent)
        await until(lambda: h.parent(cl).sweeps >= 2)
        assert h.manager.outbox.not_sent["child"] >= 1
        assert h.parent(cl).cum_qty + h.parent(cl).reserved <= 900


async def test_trader_reports_a_crash_caught_between_commit_and_send_go_out_again_once(tmp_path):
    harness = Harness(tmp_path)
    report = ParentReport(SESSION, "R1-P1", "C1", "R1-E7", ReportKind.TRADE, ParentStatus.PARTIALLY_FILLED, Side.BUY,
                          SYMBOL, 1000, 300, 700, 25.0, last_qty=300, last_px=25.0, last_market="A")
    harness.journal.record_trader_report(report.exec_id, report.order_id, report.session, report_record(report))
    harness.journal.commit_now()  # committed, then the process died before QuickFIX had it
    harness.journal.close()
    async with Harness(tmp_path) as h:
        assert h.manager.resend_unsent_reports() == 1
        await until(lambda: h.traders.reports)
        [again] = h.traders.reports
        assert again.exec_id == "R1-E7" and again.poss_resend and again.cum_qty == 300
        h.journal.flush()
        assert unsent_trader_reports(h.config.journal) == []
        assert h.manager.resend_unsent_reports() == 0


async def test_a_report_for_a_child_the_journal_lacks_is_booked_to_the_parent_it_names(tmp_path):
    from engine.domain.messages import VenueOrderStatus, VenueReport, VenueReportKind

    async with Harness(tmp_path) as h:
        cl = h.order(900)
        sent = await h.children(3)
        answer_all(h, sent, fraction=0.0)
        parent = h.parent(cl)
        await until(lambda: parent.reserved == 0)
        # an id of ours, of this parent, that no sweep of this run sent (as if its row were lost)
        lost = f"{parent.parent_id}.99.7.A"
        h.deliver(VenueReport("A", lost, "LOST1", VenueReportKind.TRADE, VenueOrderStatus.FILLED, last_qty=100,
                              last_px=25.0, cum_qty=100, leaves_qty=0, avg_px=25.0))
        await until(lambda: parent.cum_qty == 100)
        assert h.manager.counters["report for a child the journal does not hold"] == 1
        assert any(r.kind is ReportKind.TRADE and r.last_qty == 100 for r in h.traders.for_order(cl))
        h.journal.flush()
        with sqlite3.connect(h.config.journal) as connection:
            assert connection.execute("SELECT booked FROM fills WHERE child_id = ?", (lost,)).fetchone() == (100,)


def test_what_a_crash_left_in_the_log_reaches_the_tables_when_the_journal_opens_and_only_once(tmp_path):
    from engine.journal import incidents
    from engine.journal.write_ahead_log import LogWriter, log_files

    path = tmp_path / "journal.sqlite"
    Journal(path).close()
    assert log_files(path) == []  # a clean close leaves nothing to apply
    with sqlite3.connect(path) as connection:
        (generation,) = connection.execute("SELECT generation FROM wal_applied").fetchone()
    log = LogWriter(path, generation)  # entries a killed engine committed but never applied
    log.append([("incident", (1.0, "test", "left in the log"))])
    log.append([("incident", (2.0, "test", "and this"))])
    log.close()
    with open(log.path, "ab") as torn:  # the kill came in the middle of the next commit's write
        torn.write(b"\x40\x00\x00\x00\x01\x02")
    Journal(path).close()
    assert [row["detail"] for row in incidents(path)] == ["left in the log", "and this"]
    Journal(path).close()
    assert len(incidents(path)) == 2 and log_files(path) == []


def test_a_large_log_rotates_once_applied_and_nothing_is_lost(tmp_path, monkeypatch):
    from engine.journal import journal as journal_module
    from engine.journal import incidents
    from engine.journal.write_ahead_log import log_files

    monkeypatch.setattr(journal_module, "ROTATE_BYTES", 2000)
    journal = Journal(tmp_path / "journal.sqlite")
    for number in range(300):
        journal.record_incident("test", f"incident {number} " + "x" * 50, float(number))
        journal.commit_now()
        if number % 50 == 49:
            journal.flush()  # applied: the next commit past the size may start a new file
    generations = [generation for generation, _ in log_files(journal.path)]
    journal.flush()
    journal.close()
    assert len(generations) == 1 and generations[0] > 1  # rotated, the old files gone
    assert [row["detail"].split()[1] for row in incidents(journal.path)] == [str(n) for n in range(300)]


async def test_a_resent_fill_for_a_child_finished_before_a_restart_is_not_booked_again(tmp_path):
    from tests.engine.fakes import trade

    async with Harness(tmp_path) as h:
        cl = h.order(900)
        sent = await h.children(3)
        fills = [trade(command, command.quantity // 3, command.quantity // 3, final=True) for command in sent]
        h.deliver(*fills)  # each child fills a third, and ends
        await until(lambda: h.parent(cl).cum_qty == sum(c.quantity // 3 for c in sent))
        booked = h.parent(cl).cum_qty
        h.manager._stopping = True  # stop before the next sweep: the parent stays open in the journal
    async with Harness(tmp_path) as h:  # the restart: finished children are not restored
        parent = h.parent(cl)
        assert parent.cum_qty == booked and not parent.open_children
        reports_before = len(h.traders.reports)
        h.deliver(fills[0])  # the venue resends (PossDup) a fill the journal has booked
        resent_with_new_id = dataclasses.replace(fills[1], exec_id="NEW-ID-FOR-AN-OLD-FILL")
        h.deliver(resent_with_new_id)
        assert parent.cum_qty == booked
        assert [r for r in h.traders.reports[reports_before:] if r.kind is ReportKind.TRADE] == []
        assert h.manager.counters["report for a child the journal does not hold"] == 0
