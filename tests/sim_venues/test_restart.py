"""A venue host with ``store: file`` restarted on its files, over real FIX: after a clean stop, and
after the `dark-agg venues` process is killed with SIGKILL. The restarted venues answer for every
order the old process took: a filled order's status is its fill, its ClOrdID stays used, a resting
DAY order is canceled on restart, and new ExecIDs and OrderIDs never repeat old ones."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from engine.process.launch import Process
from sim_venues.host_config import config_from_dict
from sim_venues.order_store import order_file_path
from tests.sim_venues.conftest import CLIENT, SYMBOL, host_document, market_for_tests
from tests.sim_venues.fix_client import FixTestClient, VenueAddress, eventually, free_port

# Always liquid, 1000-2000 shares: an IOC of 500 fills whole, a DAY of 5000 fills part and rests.
ALWAYS = dict(fill_probability=1.0, tail_exponent=1.5, min_size=1000, max_size=2000)


def file_store_config(tmp_path: Path, venue: str, store: str = "file"):
    venues = {venue: (ALWAYS, {})}
    # thread_per_connection: quickfix 1.16's SocketAcceptor.stop() can SIGSEGV when the client
    # reconnects during the stop, which a restart with the client connected invites (see README).
    document = {**host_document(venues, tmp_path / "truth.jsonl"), "store": store,
                "store_path": str(tmp_path / "store"), "acceptor": "thread_per_connection"}
    return config_from_dict(document, base_dir=tmp_path, market=market_for_tests(venues))


def client_for(venue: str, port: int) -> FixTestClient:
    return FixTestClient([VenueAddress(venue, port, venue, CLIENT)])


def trade_before_the_restart(client: FixTestClient, venue: str) -> dict:
    """One filled IOC, one rejected order, one resting DAY order; what the trader saw of them."""
    client.send_order(venue, "filled", quantity=500)
    client.send_order(venue, "rejected", quantity=500, symbol="NOPE.L")
    client.send_order(venue, "resting", quantity=5000, time_in_force="0")
    filled = client.wait_final("filled")
    assert filled[39] == "2" and client.wait_final("rejected")[39] == "8"
    trade = eventually(lambda: [r for r in client.reports_for("resting") if r[150] == "F"])[0]
    assert trade[39] == "1" and 0 < int(trade[14]) < 5000
    reports = {cl_ord_id: client.reports_for(cl_ord_id) for cl_ord_id in ("filled", "rejected", "resting")}
    every = [r for rs in reports.values() for r in rs]
    return {"filled": filled, "resting": trade, "exec_ids": {r[17] for r in every},
            "order_ids": {r[37] for r in every if r[37] != "NONE"}, "counts": {k: len(v) for k, v in reports.items()}}


def status_answer(client: FixTestClient, venue: str, cl_ord_id: str) -> dict:
    client.send_status(venue, cl_ord_id)
    return eventually(lambda: [r for r in client.reports_for(cl_ord_id) if r[150] == "I"])[-1]


def check_after_the_restart(client: FixTestClient, venue: str, before: dict, truth_log: Path) -> None:
    filled = status_answer(client, venue, "filled")
    assert (filled[39], filled[14], filled[151], filled[37]) == ("2", "500", "0", before["filled"][37])
    assert float(filled[6]) == float(before["filled"][6])

    resting = status_answer(client, venue, "resting")  # canceled on restart, its fill kept
    assert (resting[39], resting[151], resting[14]) == ("4", "0", before["resting"][14])
    client.send_cancel(venue, "cancel-resting", "resting")
    too_late = eventually(lambda: client.messages_of_type(venue, "9"))[-1]
    assert (too_late[41], too_late[102]) == ("resting", "0")

    client.send_order(venue, "rejected", quantity=500)  # valid now, but the ClOrdID was used
    duplicate = eventually(lambda: client.reports_for("rejected")[1:])[0]
    assert (duplicate[39], duplicate[103]) == ("8", "6")

    client.send_order(venue, "fresh", quantity=500)
    assert client.wait_final("fresh")[39] == "2"
    new_reports = [r for cl_ord_id in ("filled", "resting", "rejected", "fresh")
                   for r in client.reports_for(cl_ord_id)[before["counts"].get(cl_ord_id, 0):]]
    assert len(new_reports) == 5  # two status answers, the duplicate's reject, the fresh order's New and Trade
    new_exec_ids = {r[17] for r in new_reports}
    assert len(new_exec_ids) == len(new_reports) and not new_exec_ids & before["exec_ids"]
    assert client.reports_for("fresh")[0][37] not in before["order_ids"]

    events = [json.loads(line) for line in truth_log.read_text().splitlines()]
    canceled = [e for e in events if e["event"] == "canceled_on_restart"]
    assert [(e["venue"], e["cl_ord_id"], e["cum_qty"]) for e in canceled] == \
        [(venue, "resting", int(before["resting"][14]))]


def test_a_cleanly_stopped_host_remembers_its_orders_at_the_next_start(tmp_path):
    from sim_venues.host import VenueHost

    config = file_store_config(tmp_path, "DUR1")
    port = config.venues[0].port
    client = client_for("DUR1", port)
    host = VenueHost(config)
    host.start()
    try:
        client.start()
        before = trade_before_the_restart(client, "DUR1")
        host.stop()
        assert order_file_path(config.store_path, "DUR1").stat().st_size > 0
        host = VenueHost(config)
        host.start()
        eventually(lambda: client.logons["DUR1"] >= 2 and client.logged_on["DUR1"], 10)
        check_after_the_restart(client, "DUR1", before, config.ground_truth_log)
        assert host.errors() == 0
    finally:
        client.stop()
        host.stop()


def test_a_killed_venues_process_loses_no_order_it_reported(tmp_path):
    market = tmp_path / "market.yaml"
    market.write_text(yaml.safe_dump({
        "name": "CRASH", "currency": "GBP", "reference_price": 20.0,
        "order_notional": {"min": 1000, "max": 1000000},
        "venues": [{"name": "KILL1", **ALWAYS, "lot_size": 1, "min_order_size": 1}]}))
    port = free_port()
    config = tmp_path / "venues.yaml"
    config.write_text(yaml.safe_dump({
        "market": str(market), "seed": 5, "ground_truth_log": "truth.jsonl", "store": "file", "store_path": "store",
        "symbols": {SYMBOL: {"reference_price": 20.0, "tick": 0.01}},
        "venue_defaults": {"target_comp_id": CLIENT},
        "venues": [{"name": "KILL1", "port": port, "sender_comp_id": "KILL1"}]}))
    client = client_for("KILL1", port)
    venues = Process("venues", ["venues", "--config", str(config)], tmp_path / "venues-1.log")
    try:
        venues.wait_ready()
        client.start()
        before = trade_before_the_restart(client, "KILL1")
        venues.kill()
        venues = Process("venues", ["venues", "--config", str(config)], tmp_path / "venues-2.log")
        venues.wait_ready()
        eventually(lambda: client.logons["KILL1"] >= 2 and client.logged_on["KILL1"], 15)
        check_after_the_restart(client, "KILL1", before, tmp_path / "truth.jsonl")
    finally:
        client.stop()
        venues.stop()


def test_a_memory_store_writes_no_order_file(tmp_path):
    from sim_venues.host import VenueHost

    config = file_store_config(tmp_path, "MEM1", store="memory")
    with VenueHost(config) as host:
        assert all(session.venue.on_change is None for session in host.sessions.values())
        with client_for("MEM1", config.venues[0].port) as client:
            client.send_order("MEM1", "m1", quantity=500)
            client.send_order("MEM1", "m2", quantity=500, time_in_force="0")
            assert client.wait_final("m1")[39] == "2"
            client.wait_final("m2")
    assert not (tmp_path / "store").exists()
