"""The Grafana dashboard refers only to metrics the engine exposes, and shows every one of them."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.observability import METRIC_NAMES

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboards" / "grafana" / "dark-aggregator.json"
LATENCY_HISTOGRAMS = {"darkagg_sweep_latency_seconds", "darkagg_child_ack_latency_seconds"}
HISTOGRAMS = LATENCY_HISTOGRAMS | {"darkagg_markout_bps"}
_METRIC_NAME = re.compile(r"darkagg_[a-z_]+")
_HISTOGRAM_SERIES = re.compile(r"_(bucket|sum|count)$")


def referenced_metric_names(expr: str) -> set[str]:
    """The metric families an expression reads (a histogram's _bucket/_sum/_count is the histogram)."""
    names = set()
    for name in _METRIC_NAME.findall(expr):
        family = _HISTOGRAM_SERIES.sub("", name)
        names.add(family if family in HISTOGRAMS else name)
    return names


def all_panels(panels: list[dict]) -> Iterator[dict]:
    """Every panel, including those inside (collapsed) rows."""
    for panel in panels:
        yield panel
        yield from all_panels(panel.get("panels", []))


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


@pytest.fixture(scope="module")
def names_by_panel(dashboard) -> dict[str, set[str]]:
    return {panel["title"]: set().union(*(referenced_metric_names(t["expr"]) for t in panel["targets"]))
            for panel in all_panels(dashboard["panels"]) if panel.get("targets")}


def test_the_name_extraction_sees_histogram_series_as_their_histogram():
    expr = ("histogram_quantile(0.99, sum by (venue, le) (rate(darkagg_child_ack_latency_seconds_bucket[5m])))"
            " / darkagg_fills_total")
    assert referenced_metric_names(expr) == {"darkagg_child_ack_latency_seconds", "darkagg_fills_total"}
    assert referenced_metric_names("rate(darkagg_parents_count[5m])") == {"darkagg_parents_count"}


def test_every_metric_a_panel_reads_is_one_the_engine_exposes(names_by_panel):
    unknown = {title: names - set(METRIC_NAMES) for title, names in names_by_panel.items()
               if names - set(METRIC_NAMES)}
    assert unknown == {}
    assert all(names for names in names_by_panel.values())  # no panel queries nothing of ours


def test_every_exposed_metric_is_shown_by_at_least_one_panel(names_by_panel):
    shown = set().union(*names_by_panel.values())
    assert set(METRIC_NAMES) - shown == set()


def test_latency_panels_read_quantiles_from_the_histogram_buckets(dashboard):
    exprs = [t["expr"] for p in all_panels(dashboard["panels"]) for t in p.get("targets", [])]
    for histogram in LATENCY_HISTOGRAMS:
        assert any("histogram_quantile(0.99, " in e and f"{histogram}_bucket[" in e for e in exprs), histogram


def test_every_query_uses_the_datasource_chosen_in_the_template_variable(dashboard):
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for panel in all_panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            assert target["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]


def test_the_dashboard_is_a_well_formed_grafana_dashboard(dashboard):
    assert 36 <= dashboard["schemaVersion"] <= 41
    assert dashboard["uid"] and dashboard["title"]
    panels = list(all_panels(dashboard["panels"]))
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        position = panel["gridPos"]
        assert position["x"] + position["w"] <= 24, panel["title"]
        assert position["h"] > 0 and position["w"] > 0
        refs = [target["refId"] for target in panel.get("targets", [])]
        assert len(refs) == len(set(refs)), panel["title"]
