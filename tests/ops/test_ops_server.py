"""The operator channel over real loopback HTTP: authentication, routing, errors, the loop hand-over."""

from __future__ import annotations

import json
import socket
import threading
import urllib.error
import urllib.request

import pytest

from engine.ops.client import OpsClient
from engine.ops.errors import OpsError, OpsRefused
from engine.ops.server import COMMANDS, OpsServer, operator_name

TOKEN = "test-token-0123456789"
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class FakeDesk:
    """Records each call and the thread it ran on; answers what the test queued for the command."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict, str]] = []
        self.threads: list[int] = []
        self.answers: dict[str, object] = {}

    def handle(self, command: str, args: dict, origin: str) -> dict:
        self.calls.append((command, args, origin))
        self.threads.append(threading.get_ident())
        answer = self.answers.get(command, {"message": f"{command} done", "args": args})
        if isinstance(answer, BaseException):
            raise answer
        return answer


class Requests:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def __call__(self, command: str, result: str) -> None:
        with self.lock:
            self.seen.append((command, result))


@pytest.fixture
def desk():
    return FakeDesk()


@pytest.fixture
def requests_seen():
    return Requests()


@pytest.fixture
def server(engine_loop, desk, requests_seen):
    ops = OpsServer("127.0.0.1", 0, TOKEN, desk.handle, engine_loop.loop, on_request=requests_seen,
                    timeout_seconds=5.0)
    ops.start()
    yield ops
    ops.stop()


def send(server: OpsServer, path: str, body: bytes | None = b"{}", *, method: str = "POST",
         authorization: str | None = f"Bearer {TOKEN}", headers: dict | None = None) -> tuple[int, dict, dict]:
    """(status, JSON body, headers) of one raw request."""
    all_headers = dict(headers or {})
    if authorization is not None:
        all_headers["Authorization"] = authorization
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}{path}", data=body, method=method,
                                     headers=all_headers)
    try:
        with NO_PROXY.open(request, timeout=5) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read()), dict(error.headers)


def test_an_authorized_command_runs_on_the_engine_loop_and_its_result_comes_back(server, desk, engine_loop):
    status, body, _ = send(server, "/v1/halt", json.dumps({"scope": "global", "cancel": True}).encode())
    assert status == 200
    assert body == {"ok": True, "result": {"message": "halt done", "args": {"scope": "global", "cancel": True}}}
    assert [call[:2] for call in desk.calls] == [("halt", {"scope": "global", "cancel": True})]
    assert desk.threads == [engine_loop.ident]


def test_status_answers_a_get_and_an_empty_post_body_means_no_arguments(server, desk):
    assert send(server, "/v1/status", None, method="GET")[0] == 200
    assert send(server, "/v1/cancel_all", b"")[0] == 200
    assert [call[:2] for call in desk.calls] == [("status", {}), ("cancel_all", {})]


@pytest.mark.parametrize("authorization", [None, f"Bearer {TOKEN}x", "Bearer ", f"Basic {TOKEN}", f"bearer{TOKEN}",
                                           TOKEN])
def test_a_request_without_the_right_bearer_token_is_unauthorized_and_never_reaches_the_engine(
        server, desk, requests_seen, authorization):
    status, body, headers = send(server, "/v1/halt", authorization=authorization)
    assert (status, body) == (401, {"error": "unauthorized"})
    assert headers["WWW-Authenticate"] == "Bearer"
    assert desk.calls == []
    assert requests_seen.seen == [("halt", "unauthorized")]


def test_an_unauthorized_caller_cannot_even_learn_which_commands_exist(server, desk):
    assert send(server, "/v1/no_such_command", authorization=None)[0] == 401
    assert desk.calls == []


@pytest.mark.parametrize("path,method", [("/v1/shutdown", "POST"), ("/v2/halt", "POST"), ("/", "GET"),
                                         ("/v1/halt", "GET"), ("/v1/", "POST")])
def test_an_unknown_command_or_path_is_not_found_and_never_reaches_the_engine(server, desk, requests_seen,
                                                                             path, method):
    status, body, _ = send(server, path, None if method == "GET" else b"{}", method=method)
    assert status == 404
    assert "status" in body["commands"]
    assert desk.calls == []
    assert requests_seen.seen[-1][1] == "refused"


def test_the_server_accepts_exactly_the_documented_commands(server, desk):
    for command in COMMANDS:
        assert send(server, f"/v1/{command}")[0] == 200
    assert [call[0] for call in desk.calls] == list(COMMANDS)


def test_a_refusal_is_a_bad_request_with_the_engines_reason(server, desk, requests_seen):
    desk.answers["venue"] = OpsRefused("no venue V99: the venues are V1..V12")
    status, body, _ = send(server, "/v1/venue", json.dumps({"action": "disable", "venue": "V99"}).encode())
    assert (status, body) == (400, {"error": "no venue V99: the venues are V1..V12"})
    assert requests_seen.seen == [("venue", "refused")]


def test_a_failing_handler_is_an_internal_error_and_the_server_keeps_serving(server, desk, requests_seen):
    desk.answers["halt"] = RuntimeError("bug in the desk")
    status, body, _ = send(server, "/v1/halt")
    assert (status, body) == (500, {"error": "internal error"})  # no internals leak to the client
    desk.answers["halt"] = {"message": "halted"}
    assert send(server, "/v1/halt")[:2] == (200, {"ok": True, "result": {"message": "halted"}})
    assert requests_seen.seen == [("halt", "error"), ("halt", "ok")]


def test_a_result_that_is_not_json_is_an_internal_error_not_a_crash(server, desk):
    desk.answers["status"] = {"at": object()}
    assert send(server, "/v1/status")[0] == 500
    desk.answers["status"] = {"at": 1.0}
    assert send(server, "/v1/status")[0] == 200


@pytest.mark.parametrize("body", [b"[1, 2]", b'"halt"', b"42", b"null", b"{not json", b"\xff\xfe"])
def test_a_body_that_is_not_a_json_object_is_a_bad_request_and_never_reaches_the_engine(server, desk, body):
    status, answer, _ = send(server, "/v1/halt", body)
    assert status == 400 and answer["error"]
    assert desk.calls == []


def test_a_body_over_the_limit_is_refused(server, desk):
    status, _, _ = send(server, "/v1/halt", b'{"reason": "' + b"x" * 70_000 + b'"}')
    assert status == 413
    assert desk.calls == []


def test_the_origin_names_the_operator_and_the_client_address(server, desk):
    send(server, "/v1/halt", headers={"X-Operator": "alice.smith"})
    send(server, "/v1/halt", headers={"X-Operator": "mallory; rm -rf /<script>" + "y" * 40})
    send(server, "/v1/halt")
    origins = [call[2] for call in desk.calls]
    assert origins[0] == "ops:alice.smith@127.0.0.1"
    assert origins[1] == "ops:" + operator_name("mallory; rm -rf /<script>" + "y" * 40) + "@127.0.0.1"
    assert origins[2] == "ops:unknown@127.0.0.1"


def test_an_operator_name_keeps_only_safe_characters_and_at_most_32_of_them():
    assert operator_name("mallory; rm -rf /") == "malloryrm-rf"
    assert operator_name("x" * 50) == "x" * 32
    assert operator_name("ünïcode") == "ncode"
    assert operator_name("<>") == operator_name(None) == "unknown"


def test_a_command_the_loop_does_not_answer_in_time_is_unavailable(engine_loop, desk, requests_seen):
    blocker = threading.Event()
    engine_loop.loop.call_soon_threadsafe(blocker.wait, 5)  # the loop is busy for the whole timeout
    ops = OpsServer("127.0.0.1", 0, TOKEN, desk.handle, engine_loop.loop, on_request=requests_seen,
                    timeout_seconds=0.2)
    ops.start()
    try:
        status, body, _ = send(ops, "/v1/halt")
    finally:
        blocker.set()
        ops.stop()
    assert status == 503 and "0.2 s" in body["error"]
    assert requests_seen.seen == [("halt", "error")]


def test_stop_frees_the_port(engine_loop, desk):
    ops = OpsServer("127.0.0.1", 0, TOKEN, desk.handle, engine_loop.loop)
    ops.start()
    port = ops.port
    ops.stop()
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))


def test_an_empty_token_is_never_accepted_as_the_secret(engine_loop, desk):
    with pytest.raises(ValueError):
        OpsServer("127.0.0.1", 0, "", desk.handle, engine_loop.loop)


# -- the client against the same server ------------------------------------------------------------


def test_the_client_returns_the_result_and_sends_the_operator(server, desk):
    client = OpsClient("127.0.0.1", server.port, TOKEN, operator="bob", timeout=5)
    assert client.call("resume", {"scope": "venue", "key": "V3"}) == {
        "message": "resume done", "args": {"scope": "venue", "key": "V3"}}
    assert desk.calls[0][2] == "ops:bob@127.0.0.1"


def test_the_client_reports_a_wrong_token_naming_the_token_file(server, desk):
    client = OpsClient("127.0.0.1", server.port, "not-the-token", timeout=5, token_path="/srv/ops.token")
    with pytest.raises(OpsError) as failed:
        client.call("status")
    assert str(failed.value) == "unauthorized: the token does not match the engine's (/srv/ops.token)"
    assert not failed.value.refused
    assert desk.calls == []


def test_the_client_reports_a_refusal_with_the_engines_words(server, desk):
    desk.answers["limits_set"] = OpsRefused("order.max_quantity: 'lots' is not a number or none")
    client = OpsClient("127.0.0.1", server.port, TOKEN, timeout=5)
    with pytest.raises(OpsError) as failed:
        client.call("limits_set", {"key": "order.max_quantity", "value": "lots"})
    assert str(failed.value) == "order.max_quantity: 'lots' is not a number or none"
    assert failed.value.refused


def test_the_client_reports_an_internal_error_as_a_failure_not_a_refusal(server, desk):
    desk.answers["halt"] = KeyError("oops")
    with pytest.raises(OpsError, match="failed while running halt") as failed:
        OpsClient("127.0.0.1", server.port, TOKEN, timeout=5).call("halt")
    assert not failed.value.refused


def test_the_client_says_no_engine_is_listening_when_the_port_is_closed():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    client = OpsClient("127.0.0.1", port, TOKEN, timeout=5)
    with pytest.raises(OpsError) as failed:
        client.call("status")
    assert str(failed.value) == (f"no engine is listening on 127.0.0.1:{port} "
                                 "(is `dark-agg run` running with ops.port set?)")
    assert not failed.value.refused
