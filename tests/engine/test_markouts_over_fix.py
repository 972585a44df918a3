"""Markouts of real fills over FIX, against the simulator's ground truth: every fill the engine
books is stamped with the feed's midpoint (the one the venue filled at), and its markout at each
horizon is the move to the midpoint the venues priced the next order at, as the ground-truth log
records it. The toxic venue's informed contra moves the shared midpoint against us for every child
of its sweep; the metrics and `dark-agg report` show the same."""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.request

import pytest

from engine.config import engine_config_from_dict
from engine.domain.markouts import markout_bps
from engine.domain.orders import Side
from engine.fix.trader_client import TraderClient
from sim_venues.host_config import config_from_dict
from tests.engine.engine_thread import EngineThread
from tests.sim_venues.fix_client import eventually, free_port

pytestmark = pytest.mark.slow

ENGINE_ID, MD_ID, TRADER, SYMBOL = "AGGMK", "MKFEED", "MKTRADER", "TOXY.L"
MOVE_BPS, HORIZONS = 50.0, (0.5, 1.0)
MARKET = f"""
name: Toxic pair
currency: GBP
reference_price: 20.0
order_notional: {{min: 2000, max: 2000000}}
venues:
  - {{name: TOX, fill_probability: 1.0, tail_exponent: 1.5, min_size: 100, max_size: 200,
      toxicity: {{probability: 1.0, move_bps: {MOVE_BPS}, horizon_seconds: 0.2}}}}
  - {{name: CLEAN, fill_probability: 1.0, tail_exponent: 1.5, min_size: 100, max_size: 200}}
"""


def start_host(folder):
    from sim_venues.host import VenueHost

    (folder / "market.yaml").write_text(MARKET)
    document = {"market": "market.yaml", "seed": 5, "acceptor": "thread_per_connection", "ground_truth_log": str(folder / "truth.jsonl"),
                "symbols": {SYMBOL: {"reference_price": 20.0, "tick": 0.01}},
                "market_data": {"port": free_port(), "sender_comp_id": MD_ID, "target_comp_id": ENGINE_ID},
                "venue_defaults": {"target_comp_id": ENGINE_ID},
                "venues": [{"name": name, "port": free_port(), "sender_comp_id": f"MK{name}"}
                           for name in ("TOX", "CLEAN")]}
    host = VenueHost(config_from_dict(document, base_dir=folder))
    host.start()
    return host


def engine_config(folder, host):
    return engine_config_from_dict({
        "market": "market.yaml", "symbols": [SYMBOL], "journal": "journal.sqlite",
        "sweep": {"deadline_ms": 300, "interval_ms": 5, "cancel_retry_ms": 300},
        "weights": {"fill_value_bps": 10.0, "markout_horizon_seconds": HORIZONS[0]},
        "metrics": {"port": free_port()},
        "market_data": {"port": host.config.market_data.port, "sender_comp_id": ENGINE_ID, "target_comp_id": MD_ID,
                        "heartbeat_seconds": 1, "markout_horizons_seconds": list(HORIZONS)},
        "fix": {"store_path": "fix_store", "reconnect_seconds": 1,
                "trader": {"port": free_port(), "sender_comp_id": ENGINE_ID, "sessions": [TRADER]}},
        "venue_defaults": {"sender_comp_id": ENGINE_ID},
        "venues": [{"name": l.venue, "port": l.port, "target_comp_id": l.sender_comp_id} for l in host.listings()],
    }, base_dir=folder)


def test_fills_are_stamped_with_the_venues_midpoint_and_marked_out_against_the_ground_truth(tmp_path):
    host = start_host(tmp_path)
    config = engine_config(tmp_path, host)
    running = EngineThread(config).start()
    client = TraderClient("127.0.0.1", config.fix.trader.port, TRADER, ENGINE_ID, config.fix.data_dictionary).start()
    parents = 4
    try:
        assert client.wait_logged_on(10)
        eventually(lambda: running.manager.markouts.live, 10)  # the feed's first midpoint is in
        # one IOC buy at a time, each after the last one's markouts are all due (and its move is in)
        for number in range(parents + 1):  # the last is a probe: the midpoint after the others' moves
            client.send_order(f"MK{number}", "buy", SYMBOL, 400, tif="IOC")
            assert client.wait_done(f"MK{number}", timeout=10).cum_qty > 0
            time.sleep(max(HORIZONS) + 0.3)
        eventually(lambda: running.manager.markouts.book.pending() == 0, 5)
        running.manager.outbox.flush()
        eventually(lambda: running.manager.runner.weights.markouts_learned == parents + 1, 5)  # taught every 0.5 s
        metrics = scrape(config.metrics.port)
    finally:
        client.stop()
        running.stop()
        host.stop()
    truth = [json.loads(line) for line in (tmp_path / "truth.jsonl").read_text().splitlines()]
    orders = {r["cl_ord_id"]: r for r in truth if r.get("event") == "order" and r["filled"] > 0}
    with sqlite3.connect(tmp_path / "journal.sqlite") as db:
        fills = db.execute("SELECT venue, exec_id, child_id, midpoint, price FROM fills ORDER BY at").fetchall()
        markouts = {(venue, exec_id, horizon): bps for venue, exec_id, horizon, bps
                    in db.execute("SELECT venue, exec_id, horizon_seconds, bps FROM markouts")}
    assert len(fills) == len(orders) == 2 * (parents + 1)  # both venues fill every sweep
    # the venues priced each sweep at one midpoint; the next sweep's is where the moves left it
    sweep_midpoints = []
    for venue, exec_id, child_id, midpoint, price in fills:
        assert midpoint == pytest.approx(orders[child_id]["midpoint"], abs=1e-9) == pytest.approx(price)
        if not sweep_midpoints or sweep_midpoints[-1] != midpoint:
            sweep_midpoints.append(midpoint)
    assert len(sweep_midpoints) == parents + 1
    for venue, exec_id, child_id, midpoint, _ in fills:
        k = sweep_midpoints.index(midpoint)
        if k == parents:
            continue  # the probe: no order after it tells where the midpoint went
        expected = markout_bps(Side.BUY, midpoint, sweep_midpoints[k + 1])
        half_tick_bps = 0.5 * 0.01 / midpoint * 1e4  # the published midpoint is on the tick
        assert expected == pytest.approx(-MOVE_BPS, abs=half_tick_bps)  # one informed fill per sweep (TOX)
        for horizon in HORIZONS:  # CLEAN's fill shares TOX's move: same sweep, same midpoint
            assert markouts[(venue, exec_id, horizon)] == pytest.approx(expected, abs=1e-6), (venue, horizon)
    for venue in ("TOX", "CLEAN"):  # the metrics per venue and horizon say what the journal says
        for horizon in HORIZONS:
            mean = metrics[f'darkagg_venue_mean_markout_bps{{horizon="{horizon:g}",venue="{venue}"}}']
            assert mean == pytest.approx(-MOVE_BPS, abs=2.6)
            assert metrics[f'darkagg_markout_bps_count{{horizon="{horizon:g}",venue="{venue}"}}'] == parents + 1
        assert metrics[f'darkagg_venue_net_value_bps{{venue="{venue}"}}'] < 10.0
    learned = running.manager.runner.weights
    assert learned.markouts_learned == parents + 1  # one row per sweep, the probe's too
    assert all(value < 10.0 for value in learned.net_values())  # every venue's share is worth less now
    report_the_run(tmp_path, expected_bps=-MOVE_BPS)


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        lines = response.read().decode().splitlines()
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in lines if line.startswith("darkagg_")}


def report_the_run(folder, expected_bps: float) -> None:
    """`dark-agg report` on the run's journal shows the same markouts per venue."""
    from engine.commands.cli import main

    out = folder / "report"
    assert main(["report", "--journal", str(folder / "journal.sqlite"), "--out", str(out)]) == 0
    document = json.loads((out / "report.json").read_text())
    for venue in document["venues"]:
        assert {m["horizon_seconds"] for m in venue["markouts"]} == set(HORIZONS)
        for markout in venue["markouts"]:  # 20.00 and below: a tick is at most 5.1 bps
            assert markout["mean_bps"] == pytest.approx(expected_bps, abs=2.6), venue["venue"]
    assert (out / "markout_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

