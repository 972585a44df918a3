"""The operator's channel and the metrics of a real engine: a trader client over FIX -> the engine
-> sim venues, with `dark-agg ops` commands over loopback HTTP. A bad token changes nothing; a halt
refuses the trader's new orders with OrdRejReason 2; halt --cancel ends the working parents with
Canceled reports; a restart keeps the halt; /metrics serves the documented names and they move as
orders flow; /readyz says ready once the venues are logged on."""

from __future__ import annotations

import dataclasses
import json
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from engine.config.operations import MetricsConfig, OpsConfig
from engine.fix.trader_client import TraderClient
from engine.observability.metrics import METRIC_NAMES
from engine.ops.client import OpsClient
from engine.ops.errors import OpsError
from engine.ops.token import read_token
from tests.engine.e2e_setup import SYMBOL, engine_config, start_venues
from tests.engine.engine_thread import EngineThread
from tests.sim_venues.fix_client import free_port

pytestmark = pytest.mark.slow

ENGINE_ID, TRADER = "AGGOPS", "OPSTRADER"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ops")
    venues = start_venues(folder, ENGINE_ID, "O")
    config = engine_config(folder, venues, ENGINE_ID, TRADER)
    config = dataclasses.replace(config, ops=OpsConfig(port=free_port()), metrics=MetricsConfig(port=free_port()))
    holder = {"engine": EngineThread(config).start()}
    client = TraderClient(config.fix.trader.host, config.fix.trader.port, TRADER, ENGINE_ID, config.fix.data_dictionary)
    client.start()
    assert client.wait_logged_on(10)
    yield config, holder, client
    client.stop()
    holder["engine"].stop()
    venues.stop()


def ops(config, token: str | None = None) -> OpsClient:
    return OpsClient(config.ops.host, config.ops.port, token or read_token(config.ops_token_file), operator="tester")


def scrape(config) -> dict[str, float]:
    """Every sample of /metrics as ``name{label=value,...}`` -> value."""
    with urllib.request.urlopen(f"http://127.0.0.1:{config.metrics.port}/metrics", timeout=5) as response:
        text = response.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}"] = sample.value
    return samples


def total(samples: dict[str, float], prefix: str) -> float:
    return sum(value for key, value in samples.items() if key.startswith(prefix))


def test_ready_once_the_venues_are_logged_on_and_the_metrics_serve_every_documented_name(setup):
    config, _, client = setup
    deadline = time.time() + 10
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{config.metrics.port}/readyz", timeout=5) as response:
                assert json.loads(response.read()) == {"ready": True, "reasons": []}
                break
        except urllib.error.HTTPError:
            assert time.time() < deadline, "never ready"
            time.sleep(0.2)
    client.send_order("M1", "buy", SYMBOL, 3000, tif="IOC")  # something of every kind to count
    client.wait_done("M1", timeout=10)
    assert ops(config).call("status")["started"] is True
    time.sleep(1.0)  # the next view
    names = {key.split("{")[0] for key in scrape(config)}
    exposed = {name.removesuffix("_bucket").removesuffix("_count").removesuffix("_sum") for name in names}
    missing = [n for n in METRIC_NAMES if n not in exposed and n not in (
        "darkagg_risk_refusals_total", "darkagg_risk_warnings_total", "darkagg_incidents_total",
        "darkagg_trader_logons_refused_total", "darkagg_markout_bps", "darkagg_venue_mean_markout_bps",
        "darkagg_venue_net_value_bps")]
    # the four left out have no series until something is refused or goes wrong, the markouts none
    # without a market-data feed (tests/engine/test_markouts_over_fix.py has them)
    assert missing == []


def test_the_metrics_move_as_orders_flow(setup):
    config, _, client = setup
    before = scrape(config)
    for number in range(5):
        client.send_order(f"F{number}", "buy", SYMBOL, 2000, tif="IOC")
    done = client.wait_all_done([f"F{n}" for n in range(5)], timeout=20)
    filled = sum(float(r.fields.get(14, 0)) for r in done)
    after = scrape(config)
    assert total(after, "darkagg_parents_total{outcome=accepted}") - total(before, "darkagg_parents_total{outcome=accepted}") == 5
    assert total(after, "darkagg_filled_shares_total") - total(before, "darkagg_filled_shares_total") == filled > 0
    assert total(after, "darkagg_sweep_latency_seconds_count") - total(before, "darkagg_sweep_latency_seconds_count") >= 5
    assert total(after, "darkagg_children_total") > total(before, "darkagg_children_total")
    assert after["darkagg_session_logged_on{kind=trader,session=FIX.4.4:AGGOPS->OPSTRADER}"] == 1


def test_a_wrong_or_missing_token_is_refused_and_changes_nothing(setup):
    config, holder, _ = setup
    with pytest.raises(OpsError, match="unauthorized"):
        ops(config, token="not-the-token").call("halt", {"scope": "global", "reason": "intruder"})
    request = urllib.request.Request(f"http://127.0.0.1:{config.ops.port}/v1/halt", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 401
    assert holder["engine"].call(lambda: holder["engine"].manager.controls.halts) == ()
    assert scrape(config)["darkagg_ops_commands_total{command=halt,result=unauthorized}"] >= 2


def test_halt_refuses_new_orders_with_reason_2_and_resume_lets_them_in(setup):
    config, _, client = setup
    result = ops(config).call("halt", {"scope": "symbol", "key": SYMBOL, "reason": "news pending", "cancel": False})
    assert "halted" in result["message"]
    status = ops(config).call("status")
    assert [(h["scope"], h["key"], h["origin"]) for h in status["halts"]] == [("symbol", SYMBOL, "ops:tester@127.0.0.1")]
    client.send_order("H1", "buy", SYMBOL, 1000, tif="IOC")
    final = client.wait_done("H1", timeout=10)
    assert (final.exec_type, final.ord_status, final.fields[103]) == ("8", "8", "2")
    assert final.fields[58] == f"trading halted (symbol {SYMBOL}): news pending"
    ops(config).call("resume", {"scope": "symbol", "key": SYMBOL})
    client.send_order("H2", "buy", SYMBOL, 1000, tif="IOC")
    assert client.wait_done("H2", timeout=10).ord_status != "8"


def test_halt_cancel_ends_every_working_parent_and_a_restart_keeps_the_halt(setup):
    config, holder, client = setup
    for number in range(3):  # below the midpoint: they rest, sweep after sweep
        client.send_order(f"W{number}", "buy", SYMBOL, 1000, limit=19.5)
    client.wait_for(lambda: all(any(r.exec_type == "0" for r in client.reports_for(f"W{n}")) for n in range(3)))
    started = time.time()
    result = ops(config).call("halt", {"scope": "global", "reason": "kill switch", "cancel": True})
    assert len(result["cancelled"]) == 3
    finals = client.wait_all_done([f"W{n}" for n in range(3)], timeout=10)
    sweep = config.sweep
    assert time.time() - started <= (sweep.deadline_ms + sweep.resolve_wait_ms) / 1000 + 1.0
    assert all(f.ord_status == "4" and "canceled by operator: kill switch" in f.fields[58] for f in finals)

    holder["engine"].stop()
    holder["engine"] = EngineThread(config).start()
    assert client.wait_logged_on(10)
    status = ops(config).call("status")
    assert [(h["scope"], h["reason"]) for h in status["halts"]] == [("global", "kill switch")]
    client.send_order("R1", "buy", SYMBOL, 1000, tif="IOC")
    assert client.wait_done("R1", timeout=10).fields[103] == "2"
    ops(config).call("resume", {"scope": "global"})
    client.send_order("R2", "buy", SYMBOL, 1000, tif="IOC")
    assert client.wait_done("R2", timeout=10).ord_status != "8"
