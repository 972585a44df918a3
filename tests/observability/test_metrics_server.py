"""The HTTP endpoints over real loopback sockets: /metrics, /healthz, /readyz, and the port freed
on stop."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request

import pytest

from engine.manager.view import EngineView, VenueView
from engine.observability import EngineMetrics, MetricsServer

# No proxy: a proxy set in the environment must not see (or swallow) loopback requests.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get(server: MetricsServer, path: str, method: str = "GET") -> tuple[int, str, str]:
    """(status, content type, body) of a request to the server."""
    request = urllib.request.Request(f"http://{_url_host(server.host)}:{server.port}{path}", method=method)
    try:
        with _OPENER.open(request, timeout=5) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read().decode()


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def view(*venues: VenueView, age_seconds: float = 0.0, started: bool = True) -> EngineView:
    return EngineView(at=time.time() - age_seconds, started=started, venues=venues)


@pytest.fixture
def metrics() -> EngineMetrics:
    return EngineMetrics()


@pytest.fixture
def server(metrics):
    with MetricsServer("127.0.0.1", 0, metrics, stale_after_seconds=5.0) as running:
        yield running


def test_port_zero_binds_a_free_port_and_metrics_are_served(server, metrics):
    metrics.fill("V1", 200)
    metrics.publish(view(VenueView("V1", True, True)))
    assert server.port > 0
    status, content_type, body = get(server, "/metrics")
    assert status == 200
    assert content_type.startswith("text/plain")
    assert 'darkagg_filled_shares_total{venue="V1"} 200.0' in body
    assert "darkagg_ready 1.0" in body


def test_healthz_is_unavailable_until_a_view_is_published_then_ok(server, metrics):
    status, _, body = get(server, "/healthz")
    assert (status, body.strip()) == (503, "no view published yet")
    metrics.publish(view(VenueView("V1", True, True)))
    assert get(server, "/healthz")[0::2] == (200, "ok\n")


def test_healthz_is_unavailable_when_the_newest_view_is_stale(server, metrics):
    metrics.publish(view(VenueView("V1", True, True), age_seconds=12.3))
    status, _, body = get(server, "/healthz")
    assert status == 503
    assert body.startswith("engine view is 12.3 s old")
    assert "\n" not in body.strip()  # one line
    metrics.publish(view(VenueView("V1", True, True)))  # the loop came back
    assert get(server, "/healthz")[0] == 200


def test_a_small_stale_after_makes_a_view_stale_quickly(metrics):
    metrics.publish(view(VenueView("V1", True, True)))
    with MetricsServer("127.0.0.1", 0, metrics, stale_after_seconds=0.05) as server:
        time.sleep(0.1)
        assert get(server, "/healthz")[0] == 503


def test_readyz_lists_the_reasons_while_an_enabled_venue_is_not_logged_on(server, metrics):
    metrics.publish(view(VenueView("V1", True, True), VenueView("V2", True, False)))
    status, content_type, body = get(server, "/readyz")
    assert status == 503
    assert content_type.startswith("application/json")
    assert json.loads(body) == {"ready": False, "reasons": ["venue V2 is not logged on"]}
    metrics.publish(view(VenueView("V1", True, True), VenueView("V2", True, True)))
    status, _, body = get(server, "/readyz")
    assert (status, json.loads(body)) == (200, {"ready": True, "reasons": []})


def test_readyz_is_unavailable_before_a_view_and_when_the_view_is_stale(server, metrics):
    status, _, body = get(server, "/readyz")
    assert (status, json.loads(body)) == (503, {"ready": False, "reasons": ["no view published yet"]})
    metrics.publish(view(VenueView("V1", True, True), age_seconds=30))  # said ready, but long ago
    status, _, body = get(server, "/readyz")
    assert status == 503
    answer = json.loads(body)
    assert answer["ready"] is False
    assert answer["reasons"][0].startswith("engine view is 30.0 s old")


def test_other_paths_are_not_found_and_other_methods_not_allowed(server, metrics):
    metrics.publish(view(VenueView("V1", True, True)))
    assert get(server, "/")[0] == 404
    assert get(server, "/metrics/extra")[0] == 404
    assert get(server, "/healthz/")[0] == 404
    assert get(server, "/healthz", method="POST")[0] == 405
    assert get(server, "/metrics", method="POST")[0] == 405


def test_stop_frees_the_port_and_a_second_stop_does_nothing(metrics):
    server = MetricsServer("127.0.0.1", 0, metrics)
    server.start()
    port = server.port
    assert get(server, "/healthz")[0] == 503
    server.stop()
    server.stop()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))  # would raise EADDRINUSE while the server still listened
        probe.listen()


def test_a_server_can_start_again_after_stop_and_not_twice_at_once(metrics):
    server = MetricsServer("127.0.0.1", 0, metrics)
    with pytest.raises(RuntimeError, match="not been started"):
        _ = server.port
    server.start()
    try:
        with pytest.raises(RuntimeError, match="already running"):
            server.start()
    finally:
        server.stop()
    server.start()
    try:
        assert get(server, "/metrics")[0] == 200
    finally:
        server.stop()


def test_it_serves_on_the_ipv6_loopback_when_the_machine_has_one(metrics):
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    metrics.publish(view(VenueView("V1", True, True)))
    with MetricsServer("::1", 0, metrics) as server:
        assert get(server, "/healthz")[0] == 200
