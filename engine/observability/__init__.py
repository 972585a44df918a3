"""Observability: the Prometheus metrics the order manager moves (the ``Metrics`` port), the state
gauges drawn from the engine's published view, and the HTTP server for /metrics, /healthz and
/readyz. The Grafana dashboard over these metrics is ``dashboards/grafana/dark-aggregator.json``.

May import prometheus_client and the manager's ports and view; runs on its own threads, never on
the engine's event loop."""

from __future__ import annotations

from engine.observability.metrics import LATENCY_BUCKETS_SECONDS, METRIC_NAMES, EngineMetrics
from engine.observability.server import MetricsServer

__all__ = ["LATENCY_BUCKETS_SECONDS", "METRIC_NAMES", "EngineMetrics", "MetricsServer"]
