"""The crash checker (tests/crash): its comparison on canned records, where each problem must be
seen (a checker that cannot fail proves nothing), and three real runs against the engine: SIGKILLs
of the engine, SIGKILLs of the venues, dropped venue connections. Each run must end with every
problem count at zero, and with its faults really done."""

from __future__ import annotations

import dataclasses
import json
import random
import sqlite3

import pytest
import yaml

from engine.domain.ids import IdFactory, ParentId, VenueName, parent_of
from engine.process.launch import CONFIG
from tests.crash import CheckOptions, run_check
from tests.crash.__main__ import main
from tests.crash.check import plan_faults
from tests.crash.compare import PROBLEMS, Evidence, SentParent, compare
from tests.crash.configs import DISCONNECT_FAULT_KEY, ENGINE_VENUE_SESSION, write_crash_configs
from tests.crash.evidence import read_journal, read_truth
from tests.crash.flow import LARGEST_PARENT, SMALLEST_PARENT, plan_parents

# -- canned records ---------------------------------------------------------------------------------


def child(parent: str, sweep: int, venue: str) -> str:
    """A child id minted the engine's way (the format is the engine's business, not the test's)."""
    minted = IdFactory("T", run=1).child_id(ParentId(parent), sweep, VenueName(venue))
    assert parent_of(minted) == parent
    return minted


def order(child_id: str, venue: str, quantity: int, filled: int) -> dict:
    return {"event": "order", "venue": venue, "cl_ord_id": child_id, "order_id": f"{venue}-{child_id}",
            "quantity": quantity, "filled": filled}


def clean_run() -> Evidence:
    """Two trader orders, each one parent, three children between them; everything agrees."""
    a1, a2, b1 = child("P1", 1, "V1"), child("P1", 2, "V2"), child("P2", 1, "V1")
    truth = [{"event": "logon", "venue": "V1"}, order(a1, "V1", 600, 600), order(a2, "V2", 400, 250),
             order(b1, "V1", 500, 0), {"event": "disconnect", "venue": "V2"}]
    parents = [{"parent_id": "P1", "orig_cl_ord_id": "A", "cl_ord_id": "A", "quantity": 1000, "cum_qty": 850,
                "state": "canceled"},
               {"parent_id": "P2", "orig_cl_ord_id": "B", "cl_ord_id": "B", "quantity": 500, "cum_qty": 0,
                "state": "canceled"}]
    children = [{"child_id": a1, "parent_id": "P1", "venue": "V1", "cum_qty": 600},
                {"child_id": a2, "parent_id": "P1", "venue": "V2", "cum_qty": 250},
                {"child_id": b1, "parent_id": "P2", "venue": "V1", "cum_qty": 0}]
    fills = [{"venue": "V1", "exec_id": "e1", "child_id": a1, "parent_id": "P1", "quantity": 600},
             {"venue": "V2", "exec_id": "e2", "child_id": a2, "parent_id": "P1", "quantity": 250}]
    sent = [SentParent("A", "buy", "VOD.L", 1000), SentParent("B", "sell", "VOD.L", 500)]
    return Evidence(truth, parents, children, fills, sent, trader_cum_qty={"A": 850.0, "B": 0.0},
                    trader_order_ids={"A": ["P1"], "B": ["P2"]}, trader_final={"A": "4", "B": "4"})


def problems(evidence: Evidence) -> dict[str, int]:
    return {name: count for name, count in compare(evidence).problems.items() if count}


def test_a_run_where_everything_agrees_has_no_problem():
    findings = compare(clean_run())
    assert findings.ok and set(findings.problems) == set(PROBLEMS)
    assert findings.counts["child_fills"] == 2 and findings.counts["filled_shares"] == 850
    assert findings.counts["disconnects"] == 1 and findings.counts["ended_canceled"] == 2


def test_a_fill_the_journal_holds_too_little_of_is_lost_and_so_is_a_child_it_lacks():
    evidence = clean_run()
    short = dataclasses.replace(evidence, children=[{**c, "cum_qty": 100} if c["venue"] == "V2" else c
                                                    for c in evidence.children])
    findings = compare(short)
    assert findings.counts["lost"] == 1 and findings.counts["lost_shares"] == 150
    [example] = findings.examples["lost"]
    assert example["venue"] == "V2" and example["venue_filled"] == 250 and example["journal_cum_qty"] == 100

    missing = dataclasses.replace(evidence, children=[c for c in evidence.children if c["venue"] != "V1"])
    findings = compare(missing)
    assert findings.counts["lost"] == 1 and findings.counts["lost_shares"] == 600
    assert findings.examples["lost"][0]["journal_cum_qty"] is None


def test_a_parent_its_children_filled_beyond_its_quantity_is_overfilled():
    evidence = clean_run()
    extra = child("P1", 3, "V3")
    overfilled = dataclasses.replace(
        evidence, truth=evidence.truth + [order(extra, "V3", 400, 400)],
        children=evidence.children + [{"child_id": extra, "parent_id": "P1", "venue": "V3", "cum_qty": 400}],
        parents=[{**p, "cum_qty": 1250} if p["parent_id"] == "P1" else p for p in evidence.parents],
        trader_cum_qty={"A": 1250.0, "B": 0.0})
    assert problems(overfilled) == {"overfilled": 1}
    assert compare(overfilled).examples["overfilled"] == [{"parent_id": "P1", "venue_filled": 1250, "quantity": 1000}]


def test_the_sent_quantity_not_the_journals_decides_an_overfill():
    evidence = clean_run()
    inflated = dataclasses.replace(evidence, parents=[{**p, "quantity": 100} if p["parent_id"] == "P1" else p
                                                      for p in evidence.parents])
    assert problems(inflated) == {}  # P1 is trader order A, sent for 1000: 850 filled is no overfill


def test_cum_qty_other_than_the_venue_fills_differs_in_the_journal_and_at_the_trader():
    evidence = clean_run()
    journal_off = dataclasses.replace(evidence, parents=[{**p, "cum_qty": 600} if p["parent_id"] == "P1" else p
                                                         for p in evidence.parents])
    assert problems(journal_off) == {"differing": 1}
    trader_off = dataclasses.replace(evidence, trader_cum_qty={"A": 600.0, "B": 0.0})
    assert problems(trader_off) == {"trader_differing": 1}
    assert compare(trader_off).examples["trader_differing"][0]["venue_filled"] == 850


def test_a_child_id_seen_twice_or_refused_as_a_duplicate_is_reused():
    evidence = clean_run()
    a1 = evidence.children[0]["child_id"]
    twice = dataclasses.replace(evidence, truth=evidence.truth + [order(a1, "V1", 600, 0)])
    assert problems(twice) == {"reused": 1}  # the second order filled nothing: only the reuse shows
    refused = dataclasses.replace(evidence, truth=evidence.truth + [
        {"event": "rejected", "venue": "V1", "cl_ord_id": a1, "reason": 6, "text": f"duplicate ClOrdID {a1}"}])
    assert problems(refused) == {"reused": 1}
    assert compare(refused).examples["reused"] == [{"child_id": a1, "order_venues": ["V1"], "filled": [600],
                                                    "duplicate_rejects": ["V1"]}]
    other_reject = dataclasses.replace(evidence, truth=evidence.truth + [
        {"event": "rejected", "venue": "V1", "cl_ord_id": a1, "reason": 5, "text": "unknown"}])
    assert problems(other_reject) == {}


def test_an_order_without_a_final_report_is_unfinished_one_booked_twice_double_booked_one_still_open_left_open():
    evidence = clean_run()
    assert problems(dataclasses.replace(evidence, trader_final={"A": "4"})) == {"unfinished": 1}
    twice = dataclasses.replace(evidence, parents=evidence.parents + [
        {"parent_id": "P9", "orig_cl_ord_id": "B", "cl_ord_id": "B", "quantity": 500, "cum_qty": 0,
         "state": "canceled"}])
    assert problems(twice) == {"double_booked": 1}
    still_working = dataclasses.replace(evidence, parents=[
        {**p, "state": "partially filled"} if p["parent_id"] == "P2" else p for p in evidence.parents])
    assert problems(still_working) == {"left_open": 1}


def test_a_fill_on_a_parent_the_journal_never_held_is_lost_and_differing():
    evidence = clean_run()
    ghost = child("P7", 1, "V4")
    unknown = dataclasses.replace(evidence, truth=evidence.truth + [order(ghost, "V4", 300, 300)])
    assert problems(unknown) == {"lost": 1, "differing": 1}
    assert compare(unknown).counts["unjournaled_children"] == 1


def test_a_child_sent_without_a_journal_row_is_reported_but_is_no_problem_when_nothing_filled():
    evidence = clean_run()
    unfilled = child("P2", 2, "V3")
    findings = compare(dataclasses.replace(evidence, truth=evidence.truth + [order(unfilled, "V3", 500, 0)]))
    assert findings.ok and findings.counts["unjournaled_children"] == 1
    assert findings.examples["unjournaled_children"][0]["child_id"] == unfilled


# -- reading, configs, options --------------------------------------------------------------------


def test_truth_lines_cut_by_a_kill_are_counted_not_fatal(tmp_path):
    path = tmp_path / "truth.jsonl"
    path.write_text(json.dumps({"event": "logon", "venue": "V1"}) + "\n" + '{"event": "ord'
                    + json.dumps({"event": "logon", "venue": "V2"}) + "\n\n")
    records, unreadable = read_truth(path)
    assert records == [{"event": "logon", "venue": "V1"}] and unreadable == 1
    assert read_truth(tmp_path / "none.jsonl") == ([], 0)


def test_the_journal_is_read_as_column_dicts(tmp_path):
    path = tmp_path / "journal.sqlite"
    with sqlite3.connect(path) as connection:
        connection.executescript("CREATE TABLE parents (parent_id TEXT, cum_qty INTEGER);"
                                 "CREATE TABLE children (child_id TEXT, cum_qty INTEGER);"
                                 "CREATE TABLE fills (child_id TEXT, quantity INTEGER);"
                                 "INSERT INTO parents VALUES ('P1', 5); INSERT INTO fills VALUES ('c', 5);")
    assert read_journal(path) == {"parents": [{"parent_id": "P1", "cum_qty": 5}], "children": [],
                                  "fills": [{"child_id": "c", "quantity": 5}]}
    assert read_journal(tmp_path / "missing.sqlite") == {"parents": [], "children": [], "fills": []}


def test_the_run_configs_are_durable_on_both_sides_and_accepted(tmp_path):
    from engine.config import load_engine_config
    from sim_venues.host_config import load_config

    configs, dropping = write_crash_configs(tmp_path, seed=3, disconnect_venues=2, disconnect_every=25)
    venues = yaml.safe_load(configs.venues.read_text())
    assert venues["store"] == "file" and venues["store_path"] == str(tmp_path / "venue_store")
    assert venues["ground_truth_log"] == str(tmp_path / "ground_truth.jsonl")
    assert venues["venue_defaults"]["latency"]["fixed_ms"] > 0
    assert len(dropping) == 2 and all((entry.get("faults", {}).get(DISCONNECT_FAULT_KEY) == 25)
                                      == (entry["name"] in dropping) for entry in venues["venues"])
    engine = yaml.safe_load(configs.engine.read_text())
    assert engine["venue_defaults"]["session"] == ENGINE_VENUE_SESSION
    assert engine["sweep"] == yaml.safe_load((CONFIG / "engine.yaml").read_text())["sweep"]  # as shipped
    # both programs accept what was written (the schemas are theirs)
    loaded = load_engine_config(configs.engine)
    assert all(v.session.store == "file" and not v.session.reset_on_logon for v in loaded.venues)
    host = load_config(configs.venues)
    assert {v.name for v in host.venues if v.faults.disconnect_every_orders == 25} == set(dropping)


def test_parents_and_faults_are_planned_from_the_seed():
    parents = plan_parents(200, ["VOD.L", "BARC.L"], random.Random(4))
    assert parents == plan_parents(200, ["VOD.L", "BARC.L"], random.Random(4))
    assert len({p.cl_ord_id for p in parents}) == 200 and {p.side for p in parents} == {"buy", "sell"}
    assert all(SMALLEST_PARENT <= p.quantity <= LARGEST_PARENT for p in parents)
    options = CheckOptions(kills=5, venue_kills=2, fault_after=(0.5, 1.0))
    faults = plan_faults(options, random.Random(1))
    assert sorted(kind for kind, _ in faults) == ["engine"] * 5 + ["venues"] * 2
    assert all(0.5 <= delay <= 1.0 for _, delay in faults) and faults == plan_faults(options, random.Random(1))


@pytest.mark.parametrize("arguments", [["--parents", "0"], ["--kills", "-1"], ["--fault-after", "2", "1"],
                                       ["--disconnect-every", "0"], ["--bogus"]])
def test_bad_arguments_exit_2(arguments, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(arguments)
    assert exit_.value.code == 2


def test_an_out_directory_that_is_not_a_crash_check_run_is_never_wiped(tmp_path, capsys):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(SystemExit) as exit_:
        main(["--out", str(tmp_path), "--parents", "1", "--kills", "0", "--no-progress"])
    assert exit_.value.code == 2 and (tmp_path / "precious.txt").read_text() == "keep me"


# -- real runs ------------------------------------------------------------------------------------


def assert_clean(result, **faults) -> None:
    counts = result.counts
    assert result.ok, f"{result.line()}\nexamples: {json.dumps(result.findings.examples, indent=1)[:4000]}\n" \
                      f"details: {result.details}"
    assert all(counts[name] == 0 for name in PROBLEMS) and counts["unexpected_exits"] == 0
    assert counts["child_fills"] > 0 and counts["parents"] == result.options.parents
    for name, expected in faults.items():
        assert counts[name] == expected, result.line()


def assert_a_lost_fill_would_be_seen(result) -> None:
    """The same real records with one filled child taken out of the journal: the checker says so."""
    evidence = result.evidence
    filled = {c["child_id"] for c in evidence.children if c["cum_qty"] > 0}
    victim = sorted(filled)[0]
    tampered = dataclasses.replace(evidence, children=[c for c in evidence.children if c["child_id"] != victim])
    findings = compare(tampered)
    assert findings.counts["lost"] == 1 and findings.examples["lost"][0]["child_id"] == victim


@pytest.mark.slow
def test_engine_sigkills_lose_no_fill(tmp_path):
    result = run_check(CheckOptions(parents=20, kills=10, seed=11, out=tmp_path / "run"))
    print(result.line())
    assert_clean(result, kills=10, venue_kills=0)
    assert result.counts["engine_starts"] == 11
    assert_a_lost_fill_would_be_seen(result)


@pytest.mark.slow
def test_venue_sigkills_lose_no_fill(tmp_path):
    result = run_check(CheckOptions(parents=20, kills=0, venue_kills=3, seed=12, out=tmp_path / "run"))
    print(result.line())
    assert_clean(result, kills=0, venue_kills=3)


@pytest.mark.slow
def test_dropped_venue_connections_lose_no_fill(tmp_path):
    result = run_check(CheckOptions(parents=20, kills=0, disconnects=3, disconnect_every=40, seed=13,
                                    flow_seconds=6.0, out=tmp_path / "run"))
    print(result.line())
    assert_clean(result, kills=0, venue_kills=0)
    assert result.counts["disconnects"] > 0 and len(result.disconnect_venues) == 3
