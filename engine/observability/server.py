"""The engine's HTTP endpoints for Prometheus and for whatever watches the process (an orchestrator,
a load balancer, an operator with curl):

* ``GET /metrics``: the Prometheus exposition of the engine's registry;
* ``GET /healthz``: is the engine alive? 200 ``ok`` while the newest published view is younger than
  ``stale_after_seconds`` (the loop publishes one every 0.5 s, so an old view means the loop is
  stuck or gone), else 503 with a one-line reason;
* ``GET /readyz``: may it be sent orders? 200 ``{"ready": true, "reasons": []}`` when the newest
  view says ready (started, journal writable, every enabled venue logged on), else 503 with the
  reasons. A stale view is never ready: what it says may no longer be true;
* anything else: 404.

It runs stdlib ``wsgiref`` with a thread per request on a daemon thread of its own, so a slow
scrape never holds up another and nothing here runs on the engine's event loop: the handlers only
read :attr:`EngineMetrics.latest_view`, a frozen snapshot.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterable
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app

from engine.manager.view import EngineView
from engine.observability.metrics import EngineMetrics

# How often the serving thread looks at the shutdown flag: stop() waits up to this long.
_SHUTDOWN_POLL_SECONDS = 0.1

StartResponse = Callable[[str, list[tuple[str, str]]], object]


class MetricsServer:
    """Serves /metrics, /healthz and /readyz for one :class:`EngineMetrics` on ``host:port``
    (port 0: any free port, read :attr:`port` after :meth:`start`). Binds only to ``host``; the
    engine's configuration allows only loopback addresses."""

    def __init__(self, host: str, port: int, metrics: EngineMetrics, stale_after_seconds: float = 5.0) -> None:
        self.host = host
        self._requested_port = port
        self._metrics = metrics
        self.stale_after_seconds = stale_after_seconds
        self._metrics_app = make_wsgi_app(metrics.registry)
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._bound_port: int | None = None

    @property
    def port(self) -> int:
        """The port bound by :meth:`start` (kept after :meth:`stop`, for the logs)."""
        if self._bound_port is None:
            raise RuntimeError("the metrics server has not been started: its port is not bound yet")
        return self._bound_port

    def start(self) -> None:
        """Bind and serve on a daemon thread; returns once the socket listens (so a scrape right
        after cannot be refused). Raises OSError if the address cannot be bound."""
        if self._server is not None:
            raise RuntimeError("the metrics server is already running")
        server_class = _server_class_for(self.host, self._requested_port)
        self._server = make_server(self.host, self._requested_port, self._route,
                                   server_class=server_class, handler_class=_QuietHandler)
        self._bound_port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(_SHUTDOWN_POLL_SECONDS,),
                                        name=f"metrics-server:{self._bound_port}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket, freeing the port. Safe to call twice, or unstarted."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()       # waits for serve_forever to return
        server.server_close()   # closes the listening socket
        if thread is not None:
            thread.join()

    def __enter__(self) -> MetricsServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- the WSGI application (the request threads) ---

    def _route(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return self._metrics_app(environ, start_response)
        handler = {"/healthz": self._healthz, "/readyz": self._readyz}.get(path)
        if handler is None:
            return _respond(start_response, "404 Not Found", "text/plain",
                            f"not found: {path} (try /metrics, /healthz or /readyz)\n")
        if environ.get("REQUEST_METHOD") != "GET":
            return _respond(start_response, "405 Method Not Allowed", "text/plain", "use GET\n",
                            extra_headers=[("Allow", "GET")])
        return handler(start_response)

    def _healthz(self, start_response: StartResponse) -> Iterable[bytes]:
        problem = self._staleness(self._metrics.latest_view)
        if problem is not None:
            return _respond(start_response, "503 Service Unavailable", "text/plain", problem + "\n")
        return _respond(start_response, "200 OK", "text/plain", "ok\n")

    def _readyz(self, start_response: StartResponse) -> Iterable[bytes]:
        view = self._metrics.latest_view  # read once: staleness and readiness judge the same view
        problem = self._staleness(view)
        if problem is not None:
            ready, reasons = False, [problem]
        else:
            ready, reasons = view.ready
        status = "200 OK" if ready else "503 Service Unavailable"
        return _respond(start_response, status, "application/json",
                        json.dumps({"ready": ready, "reasons": reasons}) + "\n")

    def _staleness(self, view: EngineView | None) -> str | None:
        """Why the view cannot be trusted to describe the engine now, or None if it can."""
        if view is None:
            return "no view published yet"
        age = time.time() - view.at
        if age >= self.stale_after_seconds:
            return f"engine view is {age:.1f} s old: the event loop is not responding"
        return None


def _respond(start_response: StartResponse, status: str, content_type: str, body: str,
             extra_headers: list[tuple[str, str]] | None = None) -> list[bytes]:
    payload = body.encode("utf-8")
    headers = [("Content-Type", f"{content_type}; charset=utf-8"), ("Content-Length", str(len(payload))),
               ("Cache-Control", "no-store"), *(extra_headers or [])]
    start_response(status, headers)
    return [payload]


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    """A thread per request, daemon threads so a hung client cannot keep the process alive."""

    daemon_threads = True

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host up with socket.getfqdn(), a reverse DNS query that
        # can take seconds on a machine without a resolver. The name is only used for the WSGI
        # SERVER_NAME, which nothing here reads, so use the host as given.
        socketserver.TCPServer.server_bind(self)
        self.server_name = str(self.server_address[0])
        self.server_port = self.server_address[1]
        self.setup_environ()


def _server_class_for(host: str, port: int) -> type[_ThreadingWSGIServer]:
    """The server class with the address family ``host`` needs (``::1`` is IPv6; the stdlib
    server assumes IPv4)."""
    family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]
    if family == _ThreadingWSGIServer.address_family:
        return _ThreadingWSGIServer
    return type("_ThreadingWSGIServerV6", (_ThreadingWSGIServer,), {"address_family": family})


class _QuietHandler(WSGIRequestHandler):
    """No access log on stderr: Prometheus scrapes every few seconds and the engine logs through
    structlog, not the stdlib handler."""

    def log_message(self, format: str, *args: object) -> None:
        pass
