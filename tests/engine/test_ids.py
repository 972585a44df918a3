"""The id scheme across restarts: every run of the engine has its own number from the journal, and
every id it sends (parents, children, cancels, status requests, ExecIDs) carries it, so no id of a
run can collide with one of another run, whatever the journal lost."""

from __future__ import annotations

import time

from engine.domain.ids import IdFactory, ParentId, VenueName, parent_of, run_prefix
from engine.journal import Journal, runs


def _factory(journal: Journal) -> IdFactory:
    return IdFactory(run_prefix(journal.run, time.time()), journal.run)


def test_each_opening_of_a_journal_is_a_new_run_committed_at_once(tmp_path):
    numbers = []
    for _ in range(3):
        journal = Journal(tmp_path / "journal.sqlite")
        numbers.append(journal.run)
        journal.close()  # nothing else written: the run row was committed at open
    assert numbers == sorted(set(numbers)) and len(numbers) == 3
    assert [row["run"] for row in runs(tmp_path / "journal.sqlite")] == numbers


def test_a_restored_parent_never_gets_a_child_id_of_an_earlier_run(tmp_path):
    """The worst case of the old scheme: the sweep counter of a restored parent is behind (the rows
    of its last sweep never reached the journal), so the next run numbers a sweep the same again."""
    parent, venue = ParentId("19abR1-P7"), VenueName("V3")
    sent = set()
    for _ in range(3):
        journal = Journal(tmp_path / "journal.sqlite")
        ids = _factory(journal)
        for sweep in (1, 2, 3):  # each run starts again from the same (stale) counter
            sent.add(ids.child_id(parent, sweep, venue))
        journal.close()
    assert len(sent) == 9
    assert {parent_of(child) for child in sent} == {parent}


def test_cancel_and_status_request_ids_differ_across_runs_for_the_same_child_and_attempt(tmp_path):
    seen_cancels, seen_queries = set(), set()
    for _ in range(2):
        journal = Journal(tmp_path / "journal.sqlite")
        ids = _factory(journal)
        child = ids.child_id(ParentId("P"), 1, VenueName("V1"))
        seen_cancels.add(ids.cancel_id(ParentId("P") + ".1.1.V1", 1))  # the same child restored in each run
        seen_queries.add(ids.status_request_id(child))
        journal.close()
    assert len(seen_cancels) == 2 and len(seen_queries) == 2


def test_parent_and_exec_ids_of_two_runs_differ_even_from_two_journals():
    first, second = IdFactory(run_prefix(1, 1000.0), 1), IdFactory(run_prefix(1, 1000.5), 1)
    assert first.parent() != second.parent() and first.exec_id() != second.exec_id()


def test_parent_of_reads_our_ids_and_refuses_others():
    ids = IdFactory("abcR4-", 4)
    parent = ids.parent()
    assert parent_of(ids.child_id(parent, 12, VenueName("V1"))) == parent
    assert parent_of(ids.child_id(parent, 1, VenueName("CHI.X"))) == parent  # a venue name may hold a dot
    for foreign in ("ORDER-1", "P1.2.V1", "P1.x.2.V1", ".1.2.V1", "P1.1.2."):
        assert parent_of(foreign) is None
