"""The session-security test tools checked on their own, without QuickFIX.

If the throwaway CA or the raw client were wrong, every engine security test built on them would
be wrong in ways that look like engine bugs (or worse, pass). So: the certificates are checked by
a real TLS handshake in Python's ``ssl`` (the same OpenSSL the engine links), and the client against
a small fake FIX acceptor written here that answers just enough of FIX 4.4.
"""

from __future__ import annotations

import socket
import ssl
import stat
import threading
import time
from typing import Callable

import pytest
import simplefix

from tests.security.certs import TlsMaterial, tls_material
from tests.security.raw_fix import RawFixClient, fix_utc_timestamp, tls_client_context

TRADER_COMP_ID = "TRADER1"
ACCEPTOR_COMP_ID = "DARKAGG"
TLS_VERSIONS = [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3]


@pytest.fixture(scope="module")
def material(tmp_path_factory) -> TlsMaterial:
    return tls_material(tmp_path_factory.mktemp("tls"))


def eventually(predicate: Callable[[], object], timeout: float = 3.0) -> object:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(0.01)
    return value


def server_context(material: TlsMaterial, version: ssl.TLSVersion) -> ssl.SSLContext:
    """The engine's side: its server certificate, and client certificates from the good CA only."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = context.maximum_version = version
    context.load_cert_chain(material.engine.cert_path, material.engine.key_path)
    context.load_verify_locations(material.good.cert_path)
    context.verify_mode = ssl.CERT_REQUIRED
    return context


class LoopbackServer:
    """A thread accepting on 127.0.0.1 (port 0), one connection at a time, until stopped.

    ``outcomes`` gets one entry per connection: "ok", or why the TLS handshake failed.
    """

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.tls = tls
        self.outcomes: list[str] = []
        self.peer_addresses: list[str] = []
        self._stopping = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, name=type(self).__name__, daemon=True)

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self._listener.close()
        assert not self._thread.is_alive(), "server thread did not stop"

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, (peer_host, _) = self._listener.accept()
            except TimeoutError:
                continue
            self.peer_addresses.append(peer_host)
            connection.settimeout(2.0)
            try:
                if self.tls is not None:
                    connection = self.tls.wrap_socket(connection, server_side=True)
            except (ssl.SSLError, OSError) as refused:
                self.outcomes.append(f"handshake failed: {refused}")
                connection.close()
                continue
            self.outcomes.append("ok")
            with connection:
                connection.settimeout(0.05)
                self.handle(connection)

    def read_chunks(self, connection: socket.socket):
        """Yield what the peer sends until it closes or the server is stopped."""
        while not self._stopping.is_set():
            try:
                chunk = connection.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            if not chunk:
                return
            yield chunk

    def handle(self, connection: socket.socket) -> None:
        raise NotImplementedError


class TlsEchoServer(LoopbackServer):
    def handle(self, connection: socket.socket) -> None:
        for chunk in self.read_chunks(connection):
            connection.sendall(chunk)


class FakeFixAcceptor(LoopbackServer):
    """Answers a Logon with a Logon and a NewOrderSingle with a New ExecutionReport; nothing else.

    ``close_on_logon`` makes it hang up instead of answering, as an acceptor refusing a logon does;
    ``test_request_id`` makes it send a TestRequest right after its Logon.
    """

    def __init__(self, tls=None, *, close_on_logon: bool = False, test_request_id: str | None = None):
        super().__init__(tls)
        self.close_on_logon = close_on_logon
        self.test_request_id = test_request_id
        self.received: list[simplefix.FixMessage] = []
        self._seq_num = 1

    def handle(self, connection: socket.socket) -> None:
        parser = simplefix.FixParser()
        for chunk in self.read_chunks(connection):
            parser.append_buffer(chunk)
            while (message := parser.get_message()) is not None:
                self.received.append(message)
                if not self.answer(connection, message):
                    return

    def answer(self, connection: socket.socket, message: simplefix.FixMessage) -> bool:
        """Reply to one message; False to hang up."""
        msg_type = message.get(35)
        if msg_type == b"A":
            if self.close_on_logon:
                return False
            self.send(connection, message, "A", [(98, "0"), (108, message.get(108).decode())])
            if self.test_request_id is not None:
                self.send(connection, message, "1", [(112, self.test_request_id)])
        elif msg_type == b"D":
            order_id = f"O{self._seq_num}"
            self.send(connection, message, "8", [
                (37, order_id), (17, f"E{order_id}"), (11, message.get(11).decode()),
                (150, "0"), (39, "0"), (55, message.get(55).decode()), (54, message.get(54).decode()),
                (151, message.get(38).decode()), (14, "0"), (6, "0"),
            ])
        return True

    def send(self, connection, incoming: simplefix.FixMessage, msg_type: str, body) -> None:
        reply = simplefix.FixMessage()
        reply.append_pair(8, "FIX.4.4", header=True)
        reply.append_pair(35, msg_type, header=True)
        reply.append_pair(49, incoming.get(56), header=True)  # comp ids swapped: we are its target
        reply.append_pair(56, incoming.get(49), header=True)
        reply.append_pair(34, self._seq_num, header=True)
        reply.append_pair(52, fix_utc_timestamp(), header=True)
        for tag, value in body:
            reply.append_pair(tag, value)
        connection.sendall(reply.encode())
        self._seq_num += 1


def exchange(port: int, context: ssl.SSLContext, payload: bytes = b"ping") -> bytes | str:
    """What a TLS client gets back for ``payload``: the echo, or the error that stopped it."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as raw:
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                tls.sendall(payload)
                return tls.recv(1024)
    except (ssl.SSLError, OSError) as refused:
        return f"{type(refused).__name__}: {refused}"


# -- the certificates -----------------------------------------------------------------------------


@pytest.mark.parametrize("version", TLS_VERSIONS, ids=lambda v: v.name)
def test_a_trader_certificate_from_the_good_ca_completes_a_mutual_handshake(material, version):
    client = tls_client_context(material.good.cert_path, material.trader.cert_path, material.trader.key_path)
    with TlsEchoServer(server_context(material, version)) as server:
        assert exchange(server.port, client) == b"ping"
    assert server.outcomes == ["ok"]


@pytest.mark.parametrize("version", TLS_VERSIONS, ids=lambda v: v.name)
@pytest.mark.parametrize("certificate", ["intruder", None], ids=["rogue-ca-cert", "no-cert"])
def test_a_client_without_a_certificate_from_the_good_ca_is_refused(material, version, certificate):
    issued = getattr(material, certificate) if certificate else None
    client = tls_client_context(
        material.good.cert_path, issued and issued.cert_path, issued and issued.key_path
    )
    with TlsEchoServer(server_context(material, version)) as server:
        answer = exchange(server.port, client)
        eventually(lambda: server.outcomes)
    assert answer != b"ping"
    assert server.outcomes[0].startswith("handshake failed")


def test_the_server_certificate_is_not_trusted_by_a_client_that_trusts_only_the_rogue_ca(material):
    client = tls_client_context(material.rogue.cert_path, material.trader.cert_path, material.trader.key_path)
    with TlsEchoServer(server_context(material, ssl.TLSVersion.TLSv1_3)) as server:
        answer = exchange(server.port, client)
    assert isinstance(answer, str) and "CERTIFICATE_VERIFY_FAILED" in answer


def test_hostname_checking_refuses_a_server_certificate_without_127_0_0_1(material):
    localhost_only = material.good.issue("localhost-only", server=True, hosts=("localhost",))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(localhost_only.cert_path, localhost_only.key_path)
    with TlsEchoServer(context) as server:
        answer = exchange(server.port, tls_client_context(material.good.cert_path))
    assert isinstance(answer, str) and "IP address mismatch" in answer


def test_a_plain_tcp_client_gets_nothing_usable_from_a_tls_server(material):
    with TlsEchoServer(server_context(material, ssl.TLSVersion.TLSv1_2)) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=2) as plain:
            plain.sendall(b"8=FIX.4.4\x019=5\x0135=A\x0110=000\x01")
            try:
                answer = plain.recv(1024)
            except ConnectionResetError:
                answer = b""
        eventually(lambda: server.outcomes)
    assert b"8=FIX" not in answer and b"35=" not in answer
    assert server.outcomes[0].startswith("handshake failed")


def test_private_keys_are_readable_by_their_owner_only(material):
    secret_files = [*material.directory.glob("*.key"), *material.directory.glob("*-combined.pem")]
    assert len(secret_files) >= 8
    assert {path.name: stat.S_IMODE(path.stat().st_mode) for path in secret_files} == {
        path.name: 0o600 for path in secret_files
    }


def test_the_combined_file_serves_as_certificate_and_key_at_once(material):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(material.venue.combined_path)
    with TlsEchoServer(context) as server:
        assert exchange(server.port, tls_client_context(material.good.cert_path)) == b"ping"


# -- the raw FIX client ---------------------------------------------------------------------------


def raw_client(port: int, **options) -> RawFixClient:
    return RawFixClient("127.0.0.1", port, TRADER_COMP_ID, ACCEPTOR_COMP_ID, timeout=2.0, **options)


def test_a_logon_round_trip_returns_a_logon_with_the_comp_ids_swapped():
    with FakeFixAcceptor() as acceptor, raw_client(acceptor.port) as client:
        reply = client.logon(username="trader1", password="secret", heartbeat=15)
        assert reply.msg_type == "A"
        assert (reply.get(49), reply.get(56)) == (ACCEPTOR_COMP_ID, TRADER_COMP_ID)
        logon = eventually(lambda: acceptor.received)[0]
    assert [logon.get(tag).decode() for tag in (8, 34, 98, 108, 141, 553, 554)] == [
        "FIX.4.4", "1", "0", "15", "Y", "trader1", "secret"
    ]


def test_a_new_order_gets_an_execution_report_and_the_sequence_numbers_advance():
    with FakeFixAcceptor() as acceptor, raw_client(acceptor.port) as client:
        assert client.logon().msg_type == "A"
        client.new_order("c1", "VOD.L", quantity=500)
        report = client.wait_for(lambda reply: reply.msg_type == "8")
        order = eventually(lambda: acceptor.received[1:])[0]
    assert (report.get(150), report.get(11), report.get(151)) == ("0", "c1", "500")
    assert order.get(34) == b"2" and order.get(21) == b"1" and order.get(59) == b"3"
    assert len(order.get(60).decode()) == len("YYYYMMDD-HH:MM:SS.sss")


def test_a_test_request_is_answered_with_a_heartbeat_carrying_its_id():
    with FakeFixAcceptor(test_request_id="PING-7") as acceptor, raw_client(acceptor.port) as client:
        client.logon()
        assert client.wait_for(lambda reply: reply.msg_type == "1").get(112) == "PING-7"
        heartbeat = eventually(lambda: [m for m in acceptor.received if m.get(35) == b"0"])[0]
    assert heartbeat.get(112) == b"PING-7"


def test_an_acceptor_that_hangs_up_yields_a_closed_reply():
    with FakeFixAcceptor(close_on_logon=True) as acceptor, raw_client(acceptor.port) as client:
        reply = client.logon()
    assert reply.closed and not reply.timed_out and reply.msg_type is None


def test_an_acceptor_that_says_nothing_yields_a_timeout():
    with socket.create_server(("127.0.0.1", 0)) as silent:  # the kernel accepts; nobody answers
        client = raw_client(silent.getsockname()[1])
        client.timeout = 0.2
        with client:
            reply = client.logon()
    assert reply.timed_out and not reply.closed


def test_the_acceptor_sees_the_chosen_source_address():
    with FakeFixAcceptor() as acceptor, raw_client(acceptor.port, source_address="127.0.0.2") as client:
        assert client.logon().msg_type == "A"
    assert acceptor.peer_addresses == ["127.0.0.2"]


@pytest.mark.parametrize("version", TLS_VERSIONS, ids=lambda v: v.name)
def test_a_logon_over_tls_reaches_a_tls_acceptor(material, version):
    context = tls_client_context(material.good.cert_path, material.trader.cert_path, material.trader.key_path)
    with (
        FakeFixAcceptor(server_context(material, version)) as acceptor,
        raw_client(acceptor.port, tls=context) as client,
    ):
        assert client.logon().msg_type == "A"
        client.new_order("c1", "VOD.L")
        assert client.wait_for(lambda reply: reply.msg_type == "8").get(150) == "0"
    assert acceptor.outcomes == ["ok"]


@pytest.mark.parametrize("version", TLS_VERSIONS, ids=lambda v: v.name)
def test_a_refused_client_certificate_is_a_closed_logon_whatever_the_tls_version(material, version):
    context = tls_client_context(
        material.good.cert_path, material.intruder.cert_path, material.intruder.key_path
    )
    with (
        FakeFixAcceptor(server_context(material, version)) as acceptor,
        raw_client(acceptor.port, tls=context) as client,
    ):
        reply = client.logon()
    assert reply.closed, str(reply)
    assert acceptor.received == []
