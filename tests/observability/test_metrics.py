"""The exporter: the Metrics port's calls and the published view, as Prometheus scrapes them.

Every assertion reads the text exposition (what a Prometheus server would receive), parsed with
prometheus_client's own parser, so a name or label that is wrong on the wire fails here."""

from __future__ import annotations

import inspect
import time

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from engine.manager.ports import Metrics
from engine.manager.view import EngineView, HaltView, SessionView, VenueView
from engine.observability import METRIC_NAMES, EngineMetrics

STATE_GAUGES = ("darkagg_session_logged_on", "darkagg_venue_enabled", "darkagg_venue_recent_fill_rate",
                "darkagg_halts", "darkagg_trading_halted", "darkagg_working_parents",
                "darkagg_journal_lag_seconds", "darkagg_journal_writable", "darkagg_ready")


def scrape(metrics: EngineMetrics) -> dict[tuple[str, frozenset], float]:
    """Every sample exposed, keyed by (sample name, labels)."""
    text = generate_latest(metrics.registry).decode()
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def exposed_family_names(metrics: EngineMetrics) -> set[str]:
    """Family names as scraped (the parser drops a counter's _total from the family name)."""
    text = generate_latest(metrics.registry).decode()
    return {family.name + "_total" if family.type == "counter" else family.name
            for family in text_string_to_metric_families(text)}


def value(metrics: EngineMetrics, name: str, **labels: str) -> float | None:
    return scrape(metrics).get((name, frozenset(labels.items())))


def names_with_samples(metrics: EngineMetrics) -> set[str]:
    return {name for name, _ in scrape(metrics)}


def venue(name: str, enabled: bool = True, logged_on: bool = True, fill_rate: float | None = None) -> VenueView:
    return VenueView(name=name, enabled=enabled, logged_on=logged_on, recent_fill_rate=fill_rate)


def halt(scope: str, key: str | None = None) -> HaltView:
    return HaltView(scope=scope, key=key, reason="test", origin="ops@127.0.0.1", at=0.0, automatic=False)


def view(**fields) -> EngineView:
    fields.setdefault("venues", (venue("V1"),))
    return EngineView(at=time.time(), started=True, **fields)


def call_every_port_method(metrics: EngineMetrics) -> None:
    metrics.parent_ended("filled")
    metrics.child_ended("V1", "partially_filled")
    metrics.fill("V1", 100)
    metrics.sweep_latency(0.004)
    metrics.child_ack_latency("V1", 0.0012)
    metrics.risk_refusal("max_order_notional")
    metrics.risk_warning("max_open_notional")
    metrics.incident("venue anomaly")
    metrics.ops_command("halt", "ok")
    metrics.logon_refused("bad credentials")
    metrics.markout("V1", 10.0, -4.0, -3.5)
    metrics.net_value("V1", 6.5)


def test_every_metric_name_is_exposed_once_every_port_method_is_called_and_a_view_published():
    metrics = EngineMetrics()
    call_every_port_method(metrics)
    metrics.publish(view(sessions=(SessionView("TRADER1", "trader", True),), venues=(venue("V1", fill_rate=0.4),)))
    assert exposed_family_names(metrics) == set(METRIC_NAMES)
    sampled = {name.removesuffix("_bucket").removesuffix("_count").removesuffix("_sum")
               for name in names_with_samples(metrics)}
    assert sampled == set(METRIC_NAMES)  # every family has a sample, not only a HELP line


def test_every_metric_has_a_help_text_and_names_are_unique():
    metrics = EngineMetrics()
    metrics.publish(view())
    text = generate_latest(metrics.registry).decode()
    helps = {family.name: family.documentation for family in text_string_to_metric_families(text)}
    assert len(METRIC_NAMES) == len(set(METRIC_NAMES))
    assert all(len(help_text.split()) >= 3 for help_text in helps.values()), helps


def test_engine_metrics_implements_every_method_of_the_metrics_port_with_its_signature():
    port_methods = [name for name, member in vars(Metrics).items()
                    if callable(member) and not name.startswith("_")]
    assert len(port_methods) == 11
    for name in port_methods:
        assert inspect.signature(getattr(EngineMetrics, name)) == inspect.signature(getattr(Metrics, name)), name


def test_fills_count_reports_and_shares_per_venue():
    metrics = EngineMetrics()
    metrics.fill("V1", 300)
    metrics.fill("V1", 300)
    metrics.fill("V2", 100)
    assert value(metrics, "darkagg_fills_total", venue="V1") == 2
    assert value(metrics, "darkagg_filled_shares_total", venue="V1") == 600
    assert value(metrics, "darkagg_fills_total", venue="V2") == 1
    assert value(metrics, "darkagg_filled_shares_total", venue="V2") == 100


def test_parent_outcomes_are_exposed_at_zero_before_the_first_and_count_each_call():
    metrics = EngineMetrics()
    for outcome in ("accepted", "rejected", "filled", "canceled", "expired"):
        assert value(metrics, "darkagg_parents_total", outcome=outcome) == 0
    metrics.parent_ended("accepted")
    metrics.parent_ended("filled")
    metrics.parent_ended("filled")
    assert value(metrics, "darkagg_parents_total", outcome="accepted") == 1
    assert value(metrics, "darkagg_parents_total", outcome="filled") == 2
    assert value(metrics, "darkagg_parents_total", outcome="expired") == 0


def test_children_are_counted_by_venue_and_outcome():
    metrics = EngineMetrics()
    metrics.child_ended("V1", "filled")
    metrics.child_ended("V1", "filled")
    metrics.child_ended("V1", "timed_out")
    metrics.child_ended("V2", "filled")
    assert value(metrics, "darkagg_children_total", venue="V1", outcome="filled") == 2
    assert value(metrics, "darkagg_children_total", venue="V1", outcome="timed_out") == 1
    assert value(metrics, "darkagg_children_total", venue="V2", outcome="filled") == 1
    assert value(metrics, "darkagg_children_total", venue="V2", outcome="timed_out") is None


def test_latencies_land_in_millisecond_buckets_in_seconds():
    metrics = EngineMetrics()
    metrics.sweep_latency(0.003)
    metrics.sweep_latency(0.3)
    metrics.child_ack_latency("V1", 0.0004)
    metrics.child_ack_latency("V2", 0.015)
    assert value(metrics, "darkagg_sweep_latency_seconds_count") == 2
    assert value(metrics, "darkagg_sweep_latency_seconds_sum") == pytest.approx(0.303)
    assert value(metrics, "darkagg_sweep_latency_seconds_bucket", le="0.002") == 0
    assert value(metrics, "darkagg_sweep_latency_seconds_bucket", le="0.005") == 1
    assert value(metrics, "darkagg_sweep_latency_seconds_bucket", le="0.5") == 2
    assert value(metrics, "darkagg_child_ack_latency_seconds_bucket", venue="V1", le="0.0005") == 1
    assert value(metrics, "darkagg_child_ack_latency_seconds_bucket", venue="V2", le="0.01") == 0
    assert value(metrics, "darkagg_child_ack_latency_seconds_count", venue="V2") == 1


def test_risk_incident_and_operator_counters_count_by_their_labels():
    metrics = EngineMetrics()
    metrics.risk_refusal("max_order_notional")
    metrics.risk_refusal("max_order_notional")
    metrics.risk_warning("max_daily_notional")
    metrics.incident("venue anomaly")
    metrics.ops_command("halt", "ok")
    metrics.ops_command("halt", "unauthorized")
    metrics.ops_command("halt", "unauthorized")
    assert value(metrics, "darkagg_risk_refusals_total", limit="max_order_notional") == 2
    assert value(metrics, "darkagg_risk_warnings_total", limit="max_daily_notional") == 1
    assert value(metrics, "darkagg_incidents_total", kind="venue anomaly") == 1
    assert value(metrics, "darkagg_ops_commands_total", command="halt", result="ok") == 1
    assert value(metrics, "darkagg_ops_commands_total", command="halt", result="unauthorized") == 2
    metrics.logon_refused("locked out")
    metrics.logon_refused("locked out")
    assert value(metrics, "darkagg_trader_logons_refused_total", reason="locked out") == 2


def test_before_a_view_is_published_the_state_says_only_not_ready():
    metrics = EngineMetrics()
    assert metrics.latest_view is None
    state = {name for name in names_with_samples(metrics) if name in STATE_GAUGES}
    assert state == {"darkagg_ready"}
    assert value(metrics, "darkagg_ready") == 0


def test_halts_are_counted_per_scope_with_every_scope_always_present():
    metrics = EngineMetrics()
    metrics.publish(view())
    for scope in ("global", "session", "symbol", "venue"):
        assert value(metrics, "darkagg_halts", scope=scope) == 0
    assert value(metrics, "darkagg_trading_halted") == 0
    metrics.publish(view(halts=(halt("symbol", "AAPL"), halt("symbol", "MSFT"), halt("venue", "V2"))))
    assert value(metrics, "darkagg_halts", scope="symbol") == 2
    assert value(metrics, "darkagg_halts", scope="venue") == 1
    assert value(metrics, "darkagg_halts", scope="global") == 0
    assert value(metrics, "darkagg_trading_halted") == 0  # only a global halt stops all trading
    metrics.publish(view(halts=(halt("global"),)))
    assert value(metrics, "darkagg_halts", scope="global") == 1
    assert value(metrics, "darkagg_trading_halted") == 1


def test_ready_follows_the_view_a_venue_down_makes_it_zero():
    metrics = EngineMetrics()
    metrics.publish(view(venues=(venue("V1"), venue("V2", logged_on=False))))
    assert value(metrics, "darkagg_ready") == 0
    metrics.publish(view(venues=(venue("V1"), venue("V2"))))
    assert value(metrics, "darkagg_ready") == 1
    metrics.publish(view(venues=(venue("V1"),), journal_writable=False))
    assert value(metrics, "darkagg_ready") == 0


def test_sessions_venues_and_the_journal_are_drawn_from_the_newest_view():
    metrics = EngineMetrics()
    metrics.publish(view(working_parents=7))
    metrics.publish(view(
        sessions=(SessionView("TRADER1", "trader", True), SessionView("V2", "venue", False)),
        venues=(venue("V1", fill_rate=0.25), venue("V2", enabled=False, logged_on=False)),
        working_parents=3, journal_lag_seconds=0.75, journal_writable=True))
    assert value(metrics, "darkagg_session_logged_on", kind="trader", session="TRADER1") == 1
    assert value(metrics, "darkagg_session_logged_on", kind="venue", session="V2") == 0
    assert value(metrics, "darkagg_venue_enabled", venue="V1") == 1
    assert value(metrics, "darkagg_venue_enabled", venue="V2") == 0
    assert value(metrics, "darkagg_venue_recent_fill_rate", venue="V1") == 0.25
    assert value(metrics, "darkagg_venue_recent_fill_rate", venue="V2") is None  # no recent children
    assert value(metrics, "darkagg_working_parents") == 3
    assert value(metrics, "darkagg_journal_lag_seconds") == 0.75
    assert value(metrics, "darkagg_journal_writable") == 1
    assert metrics.latest_view.working_parents == 3


def test_two_engines_in_one_process_do_not_share_series():
    first, second = EngineMetrics(), EngineMetrics()
    first.fill("V1", 500)
    first.publish(view(working_parents=4))
    assert value(first, "darkagg_filled_shares_total", venue="V1") == 500
    assert value(second, "darkagg_filled_shares_total", venue="V1") is None
    assert value(second, "darkagg_working_parents") is None
    assert first.registry is not second.registry


def test_a_given_registry_is_used_and_refuses_a_second_engine():
    registry = CollectorRegistry()
    metrics = EngineMetrics(registry)
    metrics.fill("V1", 1)
    assert registry.get_sample_value("darkagg_fills_total", {"venue": "V1"}) == 1
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        EngineMetrics(registry)


def test_markouts_are_exposed_per_venue_and_horizon_with_their_share_weighted_mean():
    metrics = EngineMetrics()
    metrics.markout("V2", 10.0, -20.0, -20.0)
    metrics.markout("V2", 10.0, 4.0, -8.0)
    metrics.markout("V2", 1.0, 2.0, 2.0)
    metrics.net_value("V2", -1.5)
    value = metrics.registry.get_sample_value
    assert value("darkagg_markout_bps_count", {"venue": "V2", "horizon": "10"}) == 2
    assert value("darkagg_markout_bps_bucket", {"venue": "V2", "horizon": "10", "le": "-10.0"}) == 1
    assert value("darkagg_venue_mean_markout_bps", {"venue": "V2", "horizon": "10"}) == -8.0
    assert value("darkagg_venue_mean_markout_bps", {"venue": "V2", "horizon": "1"}) == 2.0
    assert value("darkagg_venue_net_value_bps", {"venue": "V2"}) == -1.5
