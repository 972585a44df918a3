"""Over FIX: one market per symbol for every venue of a host, its market-data session, and the
informed flow of a toxic venue.

A host of its own (CompIDs MK*, unique in the process: QuickFIX's session registry is process-wide)
with two plain venues, a toxic one, a market-data session, and a market stepping every 10 ms:

- STEP.L moves one tick before every order (``walk_step_probability: 1``), so the test decides when
  the midpoint moves; VOL.L walks fast in time; INF*.L and FRAC.L are still but for informed moves,
  so the moves are exact (on a tick of 0.0001 at 20.00, rounding costs at most 0.05 bps).
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict

import pytest

from engine.allocation.profiles import MarketProfile, Toxicity, VenueProfile
from sim_venues.host_config import config_from_dict
from tests.sim_venues.fix_client import FixTestClient, VenueAddress, eventually, free_port
from tests.sim_venues.md_client import MarketDataClient, entries, midpoint_of

CLIENT, MD_ID, MD_CLIENT = "MKCLI", "MKMD", "MKMDCLI"
ALWAYS = dict(fill_probability=1.0, tail_exponent=1.5, min_size=1000, max_size=2000)
TOXICITY = Toxicity(probability=0.4, move_bps=10.0, horizon_seconds=0.1)
STEP_SECONDS = 0.01
STANDARD_ERRORS = 4.0
INFORMED_SYMBOLS = ("INF0.L", "INF1.L", "INF2.L", "INF3.L")
ROUNDING_BPS = 0.1  # two roundings to a 0.0001 tick at ~20.00 (0.05 bps each), with float slack


@pytest.fixture(scope="module")
def market_host(tmp_path_factory):
    from sim_venues.host import VenueHost

    folder = tmp_path_factory.mktemp("market")
    market = MarketProfile(name="MK", reference_price=20.0, currency="GBP", min_notional=1_000, max_notional=1_000_000,
                           venues=(VenueProfile(name="MKA", **ALWAYS), VenueProfile(name="MKB", **ALWAYS),
                                   VenueProfile(name="MKTOX", **ALWAYS, toxicity=TOXICITY)))
    fine = {"reference_price": 20.0, "tick": 0.0001}
    document = {
        "seed": 5, "ground_truth_log": str(folder / "truth.jsonl"), "market_step_seconds": STEP_SECONDS,
        "symbols": {"STILL.L": {"reference_price": 20.0, "tick": 0.01},
                    "STEP.L": {"reference_price": 20.0, "tick": 0.01, "walk_step_probability": 1.0},
                    "VOL.L": {**fine, "volatility_bps_per_sqrt_second": 100.0, "quote_size": 700},
                    "FRAC.L": fine, **{symbol: fine for symbol in INFORMED_SYMBOLS}},
        "market_data": {"port": free_port(), "sender_comp_id": MD_ID, "target_comp_id": MD_CLIENT},
        "venue_defaults": {"target_comp_id": CLIENT},
        "venues": [{"name": name, "port": free_port(), "sender_comp_id": name} for name in ("MKA", "MKB", "MKTOX")],
    }
    host = VenueHost(config_from_dict(document, base_dir=folder, market=market))
    host.start()
    yield host
    host.stop()


@pytest.fixture(scope="module")
def venues(market_host):
    addresses = [VenueAddress(v.venue, v.port, v.sender_comp_id, v.target_comp_id) for v in market_host.listings()]
    with FixTestClient(addresses) as client:
        yield client


@pytest.fixture(scope="module")
def md(market_host):
    md_config = market_host.config.market_data
    with MarketDataClient(md_config.port, MD_CLIENT, MD_ID) as client:
        yield client


def fill(venues, venue: str, cl_ord_id: str, symbol: str, side: str = "1") -> float:
    venues.send_order(venue, cl_ord_id, side=side, quantity=500, symbol=symbol)
    final = venues.wait_final(cl_ord_id)
    assert final[14] == "500", final
    return float(final[6])


def truth(market_host, ids) -> dict[str, dict]:
    wanted = set(ids)
    records = {}
    for line in market_host.config.ground_truth_log.read_text().splitlines():
        record = json.loads(line)
        if record.get("event") == "order" and record.get("cl_ord_id") in wanted:
            records[record["cl_ord_id"]] = record
    assert set(records) == wanted
    return records


def test_two_venues_fill_at_the_same_midpoint_at_the_same_moment(market_host, venues):
    ids = [f"same-{i}" for i in range(400)]
    for i, cl_ord_id in enumerate(ids):  # interleaved bursts of 40, two market steps apart
        venues.send_order("MKA" if i % 2 == 0 else "MKB", cl_ord_id, quantity=500, symbol="VOL.L")
        if i % 40 == 39:
            time.sleep(2 * STEP_SECONDS)
    finals = venues.wait_all_final(ids, timeout=20)
    records = truth(market_host, ids)
    by_step: dict[int, dict[str, set[float]]] = defaultdict(lambda: defaultdict(set))
    for cl_ord_id, final in zip(ids, finals):
        record = records[cl_ord_id]
        assert float(final[31]) == record["midpoint"]  # the client saw the truth's midpoint
        by_step[record["market_step"]][record["venue"]].add(record["midpoint"])
    for step, venues_in_step in by_step.items():
        assert len(set().union(*venues_in_step.values())) == 1, (step, dict(venues_in_step))
    shared_steps = [step for step, seen in by_step.items() if len(seen) == 2]
    assert len(shared_steps) >= 5  # both venues traded in the same market step, many times
    assert len({next(iter(next(iter(seen.values())))) for seen in by_step.values()}) >= 5  # and the price moved


def test_a_subscription_gets_a_snapshot_then_an_incremental_refresh_whenever_the_midpoint_moves(venues, md):
    assert md.subscribe("step", ["STEP.L"])
    snapshot = md.wait_message("W", "step")
    assert snapshot.field(55) == "STEP.L"
    start = midpoint_of(snapshot)
    assert [(e[269], float(e[270]), e[271]) for e in entries(snapshot)] == [
        ("0", pytest.approx(start - 0.01), "1000"), ("1", pytest.approx(start + 0.01), "1000")]
    prices = []
    for i in range(5):  # each order moves STEP.L one tick first, and trades at the moved midpoint
        prices.append(fill(venues, "MKA", f"step-{i}", "STEP.L"))
        eventually(lambda: len(md.messages("X", "step")) == i + 1)
    updates = md.messages("X", "step")
    assert [midpoint_of(u) for u in updates] == pytest.approx(prices)
    assert all(abs(b - a) == pytest.approx(0.01) for a, b in zip([start] + prices, prices))
    for update, price in zip(updates, prices):
        assert [(e[279], e[269], e[55], float(e[270]), e[271]) for e in entries(update)] == [
            ("1", "0", "STEP.L", pytest.approx(price - 0.01), "1000"),
            ("1", "1", "STEP.L", pytest.approx(price + 0.01), "1000")]
    time.sleep(0.1)
    assert len(md.messages("X", "step")) == 5  # no move, no update
    md.unsubscribe("step", ["STEP.L"])


def test_a_walking_symbol_streams_updates_until_unsubscribed_and_a_snapshot_request_gets_one_snapshot(md):
    md.subscribe("walk", ["VOL.L"])
    md.request("once", ["VOL.L"], subscription="0")
    snapshot = md.wait_message("W", "walk")
    assert [(e[269], e[271]) for e in entries(snapshot)] == [("0", "700"), ("1", "700")]
    eventually(lambda: len(md.messages("X", "walk")) >= 10)
    for update in md.messages("X", "walk"):
        bid, offer = (float(e[270]) for e in entries(update))
        assert offer - bid == pytest.approx(0.0002)  # two ticks of 0.0001
    md.unsubscribe("walk", ["VOL.L"])
    time.sleep(0.2)  # updates sent before the unsubscribe was handled may still be on the wire
    count = len(md.messages("X", "walk"))
    time.sleep(0.3)
    assert len(md.messages("X", "walk")) == count
    assert len(md.messages("W", "once")) == 1 and md.messages("X", "once") == []


@pytest.mark.parametrize("req_id, symbols, types, reason, text", [
    ("bad-symbol", ["NOPE.L"], ("0", "1"), "0", "unknown symbol NOPE.L"),
    ("bad-type", ["STILL.L"], ("2",), "8", "MDEntryType (269) must include 0 (bid) or 1 (offer)"),
])
def test_a_request_the_market_cannot_serve_is_rejected_with_a_reason(md, req_id, symbols, types, reason, text):
    md.subscribe(req_id, symbols, entry_types=types)
    reject = md.wait_message("Y", req_id)
    assert (reject.field(281), reject.field(58)) == (reason, text)
    assert md.messages("W", req_id) == []


def test_a_duplicate_subscription_id_is_rejected_and_the_first_subscription_stays(md):
    md.subscribe("dup", ["STILL.L"])
    md.wait_message("W", "dup")
    md.subscribe("dup", ["STILL.L"])
    assert md.wait_message("Y", "dup").field(281) == "1"
    assert len(md.messages("W", "dup")) == 1
    md.unsubscribe("dup", ["STILL.L"])


def test_a_reconnecting_client_subscribes_again_and_gets_a_fresh_snapshot(market_host, venues, md):
    md.subscribe("again", ["STEP.L"])
    before = midpoint_of(md.wait_message("W", "again"))
    md.session().logout()
    eventually(lambda: not md.logged_on)
    moved = [fill(venues, "MKB", f"away-{i}", "STEP.L") for i in range(3)]  # the market moves meanwhile
    logged_out_at = time.monotonic()
    md.session().logon()
    eventually(lambda: md.logged_on, timeout=10)
    time.sleep(0.1)
    assert md.messages(after=logged_out_at) == []  # the subscription ended with the session
    md.subscribe("again", ["STEP.L"])  # the same MDReqID is free again
    fresh = md.wait_message("W", "again", after=logged_out_at)
    assert midpoint_of(fresh) == pytest.approx(moved[-1]) == pytest.approx(market_host.midpoint("STEP.L"))
    assert moved[-1] != pytest.approx(before)  # three one-tick steps never end where they began
    md.unsubscribe("again", ["STEP.L"])


def test_the_share_of_informed_fills_at_a_toxic_venue_matches_its_profile(market_host, venues):
    n = 1000
    ids = [f"frac-{i}" for i in range(n)]
    for i, cl_ord_id in enumerate(ids):
        venues.send_order("MKTOX", cl_ord_id, side="1" if i % 2 == 0 else "2", quantity=500, symbol="FRAC.L")
    venues.wait_all_final(ids, timeout=20)
    records = truth(market_host, ids)
    assert all(r["filled"] == 500 for r in records.values())
    share = sum(r["informed"] for r in records.values()) / n
    p = TOXICITY.probability
    assert abs(share - p) <= STANDARD_ERRORS * math.sqrt(p * (1 - p) / n), share


def test_after_an_informed_fill_the_midpoint_moves_against_us_by_move_bps_at_the_horizon_everywhere(market_host,
                                                                                                 venues, md):
    # Four still symbols at once (informed moves of one symbol never touch another): 10 rounds of a
    # toxic fill each, one horizon's wait, then a fill at a plain venue reads the midpoint there.
    md.subscribe("inf", ["INF0.L"])
    md.wait_message("W", "inf")
    moves, flags, paths = [], [], []
    for round_ in range(10):
        side = "1" if round_ % 2 == 0 else "2"
        at_fill = {s: fill(venues, "MKTOX", f"inf-{s}-{round_}", s, side) for s in INFORMED_SYMBOLS}
        filled_at = time.monotonic()
        time.sleep(TOXICITY.horizon_seconds + 3 * STEP_SECONDS)
        for s in INFORMED_SYMBOLS:
            at_horizon = fill(venues, "MKA", f"look-{s}-{round_}", s)  # another venue sees the moved price
            moves.append((at_fill[s] - at_horizon if side == "1" else at_horizon - at_fill[s]) / at_fill[s] * 1e4)
        paths.append([midpoint_of(m) for m in md.messages("X", "inf", after=filled_at)])
    ids = [f"{kind}-{s}-{r}" for r in range(10) for kind in ("inf", "look") for s in INFORMED_SYMBOLS]
    records = truth(market_host, ids)
    flags = [records[f"inf-{s}-{r}"]["informed"] for r in range(10) for s in INFORMED_SYMBOLS]
    assert not any(records[f"look-{s}-{r}"]["informed"] for r in range(10) for s in INFORMED_SYMBOLS)
    for adverse, informed in zip(moves, flags):
        expected = TOXICITY.move_bps if informed else 0.0
        assert adverse == pytest.approx(expected, abs=ROUNDING_BPS), (moves, flags)
    n = len(moves)
    assert n == 40 and 0 < sum(flags) < n
    p, move = TOXICITY.probability, TOXICITY.move_bps
    assert abs(sum(moves) / n - TOXICITY.expected_move_bps(TOXICITY.horizon_seconds)) <= (
        STANDARD_ERRORS * move * math.sqrt(p * (1 - p) / n) + ROUNDING_BPS)
    # INF0.L's informed moves are spread over the horizon (about 10 steps of 10 ms), not one jump.
    informed_paths = [path for path, informed in zip(paths, flags[::len(INFORMED_SYMBOLS)]) if informed]
    assert informed_paths
    for path in informed_paths:
        assert len(path) >= 3, path
        steps = [b - a for a, b in zip(path, path[1:])]
        assert all(step > 0 for step in steps) or all(step < 0 for step in steps), path
    md.unsubscribe("inf", ["INF0.L"])
