"""The repeating disconnect fault (``disconnect_every_orders``): its config check, its counting, and
over FIX a session dropped after every N-th order that the client logs on to again each time."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from engine.config import ConfigError
from sim_venues.host_config import FaultConfig, config_from_dict, faults_from_dict
from sim_venues.faults import FaultState
from tests.sim_venues.conftest import VENUES, host_document, market_for_tests
from tests.sim_venues.fix_client import eventually

_ids = itertools.count()


@pytest.mark.parametrize("value", [0, -2, 1.5, "often"])
def test_a_bad_disconnect_every_orders_is_an_error_naming_the_key(value):
    document = host_document({"FULL": VENUES["FULL"]}, Path("/tmp/unused.jsonl"))
    document["venues"][0]["faults"] = {"disconnect_every_orders": value}
    with pytest.raises(ConfigError, match="disconnect_every_orders"):
        config_from_dict(document, base_dir=Path("/tmp"), market=market_for_tests())


def test_it_fires_after_every_nth_order_and_beside_the_one_shot_fault():
    assert faults_from_dict({"disconnect_every_orders": 3}).disconnect_every_orders == 3
    every = FaultState(FaultConfig(disconnect_every_orders=3))
    assert [every.order_handled() for _ in range(9)] == [False, False, True] * 3
    both = FaultState(FaultConfig(disconnect_after_orders=2, disconnect_every_orders=5))
    assert [i for i in range(1, 11) if both.order_handled()] == [2, 5, 10]
    assert not any(FaultState(FaultConfig()).order_handled() for _ in range(10))


@pytest.fixture
def dropping(tmp_path):
    """A host and client of their own (threaded acceptor): the shared host's single-thread
    SocketAcceptor.stop() can crash while clients reconnect, so the churn of this test stays here."""
    from sim_venues.host import VenueHost
    from tests.sim_venues.fix_client import FixTestClient, VenueAddress

    truth_log = tmp_path / "truth.jsonl"
    document = host_document({"FAULTY": VENUES["FAULTY"]}, truth_log)
    document["acceptor"] = "thread_per_connection"
    document["venues"][0]["sender_comp_id"] = "EVERYDROP"  # QuickFIX's registry: not the shared FAULTY's
    host = VenueHost(config_from_dict(document, base_dir=tmp_path, market=market_for_tests()))
    host.start()
    addresses = [VenueAddress(v.venue, v.port, v.sender_comp_id, v.target_comp_id) for v in host.listings()]
    client = FixTestClient(addresses).start()
    try:
        yield host, client, truth_log
    finally:
        client.stop()
        host.stop()


def test_the_session_is_dropped_after_every_n_orders_and_the_client_logs_on_again(dropping):
    host, client, truth_log = dropping
    venue = "FAULTY"
    host.set_faults(venue, FaultConfig())
    eventually(lambda: client.logged_on[venue], 10)
    logons = client.logons[venue]
    try:
        host.set_faults(venue, FaultConfig(disconnect_every_orders=2))
        for cycle in (1, 2):
            first, second = (f"every-{next(_ids)}" for _ in range(2))
            client.send_order(venue, first, quantity=500)
            assert int(client.wait_final(first)[14]) == 500
            assert client.logons[venue] == logons + cycle - 1  # one order: still the same session
            client.send_order(venue, second, quantity=500)  # the second: dropped after handling it
            eventually(lambda: client.logons[venue] == logons + cycle and client.logged_on[venue], 10)
    finally:
        host.set_faults(venue, FaultConfig())
        eventually(lambda: client.logged_on[venue], 10)
    records = [json.loads(line) for line in truth_log.read_text().splitlines()]
    drops = [r for r in records if r.get("event") == "disconnect" and r.get("venue") == venue and "after_orders" in r]
    assert len(drops) >= 2
    assert drops[-1]["after_orders"] - drops[-2]["after_orders"] == 2
