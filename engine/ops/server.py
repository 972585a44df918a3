"""The operator channel's HTTP edge: loopback only, a bearer token, one JSON object per command.

    POST /v1/<command>   body: a JSON object (empty body = {})    GET /v1/status
    200 {"ok": true, "result": {...}}   400/401/404/413/500/503 {"error": "..."}

The server runs on its own daemon thread (stdlib ``ThreadingHTTPServer``); it never touches the
engine's state itself. Each command is handed to the engine's asyncio loop with
``run_coroutine_threadsafe`` and runs there, between two of the manager's steps, exactly like a FIX
message would; the request thread only waits for the answer (at most ``timeout_seconds``).

Authentication comes before anything else, so a caller without the token learns nothing, not even
which commands exist, and the handler is never called for it. Nothing a client sends can crash the
server: every failure becomes a status code and a log line.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hmac
import inspect
import json
import re
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import structlog

from engine.ops.errors import OpsRefused

log = structlog.get_logger("engine.ops")

COMMANDS = ("status", "halt", "resume", "venue", "limits_show", "limits_set", "cancel_all", "restricted_reload")
API_PREFIX = "/v1/"
MAX_BODY_BYTES = 64 * 1024          # a command is a few fields; anything bigger is not one
SOCKET_TIMEOUT_SECONDS = 30.0       # a client that stops sending mid-request frees its thread
SHUTDOWN_POLL_SECONDS = 0.05     # how soon stop() is noticed; a select() wake-up this often costs nothing
OPERATOR_PATTERN = re.compile(r"[^A-Za-z0-9._-]")
OPERATOR_MAX_CHARS = 32

Handle = Callable[[str, dict, str], Any]           # (command, args, origin) -> dict, on the loop
RequestHook = Callable[[str, str], None]           # (command, result): ok, refused, error, unauthorized


def operator_name(header: str | None) -> str:
    """The X-Operator header as it may appear in an origin: safe characters only, bounded length."""
    cleaned = OPERATOR_PATTERN.sub("", header or "")[:OPERATOR_MAX_CHARS]
    return cleaned or "unknown"


class OpsServer:
    """Serve ``handle`` to authenticated loopback clients until :meth:`stop`."""

    def __init__(self, host: str, port: int, token: str, handle: Handle, loop: asyncio.AbstractEventLoop,
                 on_request: RequestHook | None = None, timeout_seconds: float = 10.0) -> None:
        if not token:
            raise ValueError("an empty token would let anyone in")
        self.host = host
        self.handle = handle
        self.loop = loop
        self.on_request = on_request
        self.timeout_seconds = timeout_seconds
        self._expected_authorization = f"Bearer {token}".encode()
        self._httpd = _HttpServer((host, port), _RequestHandler, self)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port (the free one the system chose when asked for port 0)."""
        return self._httpd.server_address[1]

    def start(self) -> None:
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="ops-server", daemon=True,
                                        kwargs={"poll_interval": SHUTDOWN_POLL_SECONDS})
        self._thread.start()
        log.info("operator channel listening", host=self.host, port=self.port)

    def stop(self) -> None:
        """Stop serving and free the port (requests in progress finish on their daemon threads)."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    # -- called on request threads -------------------------------------------------------------

    def authorized(self, authorization: str | None) -> bool:
        # compare_digest: the time taken says nothing about how much of the token was right
        return hmac.compare_digest((authorization or "").encode(), self._expected_authorization)

    def run_on_loop(self, command: str, args: dict, origin: str) -> Any:
        """``handle(command, args, origin)`` on the engine's loop; its result or its exception."""

        async def on_loop() -> Any:
            result = self.handle(command, args, origin)
            return await result if inspect.isawaitable(result) else result

        future = asyncio.run_coroutine_threadsafe(on_loop(), self.loop)
        try:
            return future.result(timeout=self.timeout_seconds)
        except concurrent.futures.TimeoutError:
            future.cancel()  # if it has not started yet, it never will: the operator was told it failed
            raise

    def report(self, command: str, result: str) -> None:
        if self.on_request is None:
            return
        try:
            self.on_request(command, result)
        except Exception:  # the metrics must never break the channel
            log.exception("ops request hook failed", command=command, result=result)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True  # a stuck client never holds up the engine's exit

    def __init__(self, address: tuple[str, int], handler: type, ops: OpsServer) -> None:
        self.ops = ops
        if ":" in address[0]:  # an IPv6 loopback (::1)
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)


class _RequestHandler(BaseHTTPRequestHandler):
    server: _HttpServer
    timeout = SOCKET_TIMEOUT_SECONDS
    server_version = "dark-agg-ops"
    sys_version = ""

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's naming)
        self._serve(body_allowed=False)

    def do_POST(self) -> None:  # noqa: N802
        self._serve(body_allowed=True)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the stdlib's signature)
        log.debug("ops http", client=self.client_address[0], line=format % args)

    # -- one request -------------------------------------------------------------------------

    def _serve(self, *, body_allowed: bool) -> None:
        ops = self.server.ops
        command = self._command()
        label = command or "unknown"  # metrics labels stay a fixed set, whatever path was asked for
        # Read the body first, whatever the answer will be: closing a socket with unread bytes resets
        # the connection, and the client would see "connection reset" instead of our 401 or 404.
        try:
            raw, unreadable = self._body(), None
        except _BadRequest as bad:
            raw, unreadable = b"", bad
        if not ops.authorized(self.headers.get("Authorization")):
            ops.report(label, "unauthorized")
            self._reply(HTTPStatus.UNAUTHORIZED, {"error": "unauthorized"}, {"WWW-Authenticate": "Bearer"})
            return
        if command is None or (not body_allowed and command != "status"):
            ops.report(label, "refused")
            self._reply(HTTPStatus.NOT_FOUND, {"error": f"no such command: {self.command} {self.path}",
                                               "commands": list(COMMANDS)})
            return
        try:
            if unreadable is not None:
                raise unreadable
            args = _parse_args(raw)
        except _BadRequest as bad:
            ops.report(command, "refused")
            self._reply(bad.status, {"error": str(bad)})
            return
        origin = f"ops:{operator_name(self.headers.get('X-Operator'))}@{self.client_address[0]}"
        self._run(ops, command, args, origin)

    def _run(self, ops: OpsServer, command: str, args: dict, origin: str) -> None:
        try:
            result = ops.run_on_loop(command, args, origin)
            body = json.dumps({"ok": True, "result": result}).encode()  # here: an unserialisable result is a 500
        except OpsRefused as refused:
            log.info("ops command refused", command=command, origin=origin, reason=str(refused))
            ops.report(command, "refused")
            self._reply(HTTPStatus.BAD_REQUEST, {"error": str(refused)})
            return
        except concurrent.futures.TimeoutError:
            log.warning("ops command timed out", command=command, origin=origin, seconds=ops.timeout_seconds)
            ops.report(command, "error")
            self._reply(HTTPStatus.SERVICE_UNAVAILABLE,
                        {"error": f"the engine did not answer within {ops.timeout_seconds:g} s (its loop is busy "
                                  "or stuck); the command was withdrawn"})
            return
        except RuntimeError as error:
            if ops.loop.is_closed():  # the engine is stopping: not a fault of the command
                ops.report(command, "error")
                self._reply(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "the engine is stopping"})
                return
            self._internal_error(ops, command, origin, error)
            return
        except Exception as error:
            self._internal_error(ops, command, origin, error)
            return
        log.info("ops command", command=command, origin=origin)
        ops.report(command, "ok")
        self._send(HTTPStatus.OK, body, {})

    def _internal_error(self, ops: OpsServer, command: str, origin: str, error: BaseException) -> None:
        log.exception("ops command failed", command=command, origin=origin, error=repr(error))
        ops.report(command, "error")
        self._reply(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "internal error"})

    def _command(self) -> str | None:
        path = self.path.split("?", 1)[0]
        if not path.startswith(API_PREFIX):
            return None
        name = path[len(API_PREFIX):]
        return name if name in COMMANDS else None

    def _body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise _BadRequest("Content-Length is not a number") from None
        if length < 0:
            raise _BadRequest("Content-Length is negative")
        if length > MAX_BODY_BYTES:
            raise _BadRequest(f"body over {MAX_BODY_BYTES} bytes", HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        return self.rfile.read(length) if length else b""

    def _reply(self, status: HTTPStatus, payload: dict, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), headers or {})

    def _send(self, status: HTTPStatus, body: bytes, headers: dict[str, str]) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the client went away; nothing to tell it
            log.debug("ops client disconnected before the reply", client=self.client_address[0])


def _parse_args(raw: bytes) -> dict:
    """A command's arguments: the body's JSON object ({} for an empty body)."""
    if not raw.strip():
        return {}
    try:
        args = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _BadRequest(f"the body is not JSON ({error})") from None
    if not isinstance(args, dict):
        raise _BadRequest(f"the body must be a JSON object, not {type(args).__name__}")
    return args


class _BadRequest(Exception):
    def __init__(self, message: str, status: HTTPStatus = HTTPStatus.BAD_REQUEST) -> None:
        super().__init__(message)
        self.status = status
