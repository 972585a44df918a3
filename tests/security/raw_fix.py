"""A FIX 4.4 client that is not QuickFIX: simplefix over a raw (optionally TLS) socket.

Session-security tests probe the engine from outside, the way an attacker or a misconfigured
counterparty would: from another source address, without a certificate, with the wrong password.
A QuickFIX initiator would hide exactly what these tests need to see (it retries, logs out politely
and never shows a refused handshake), so this client does the minimum by hand: it numbers its own
messages, fills the standard header, answers TestRequests so the peer does not drop it for
silence, and reports a peer that closes or says nothing as a value rather than an exception.

    client = RawFixClient("127.0.0.1", port, "TRADER1", "DARKAGG", tls=tls_client_context(ca))
    reply = client.logon(username="trader1", password="secret")
    assert reply.msg_type == "A"
    client.close()

Under TLS 1.3 a server that refuses the client's certificate says so only after the client's
handshake has finished, so the refusal shows up on the first read (``closed``) rather than in
``connect()``. ``logon()`` on a client not yet connected connects first and turns either form of
refusal into a ``closed`` reply, so tests need not care which TLS version was negotiated.
"""

from __future__ import annotations

import datetime
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import simplefix

BEGIN_STRING = "FIX.4.4"
RECEIVE_CHUNK_BYTES = 65536


def fix_utc_timestamp(moment: datetime.datetime | None = None) -> str:
    """UTCTimestamp with milliseconds, ``YYYYMMDD-HH:MM:SS.sss``, the form QuickFIX accepts by default."""
    moment = moment or datetime.datetime.now(datetime.timezone.utc)
    return moment.strftime("%Y%m%d-%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


@dataclass(frozen=True)
class FixReply:
    """One thing the peer did: a message, or closing the connection, or staying silent.

    ``detail`` says why a connection ended when it was not a clean close (a TLS alert, a reset).
    """

    message: simplefix.FixMessage | None = None
    closed: bool = False
    timed_out: bool = False
    detail: str = ""

    @property
    def msg_type(self) -> str | None:
        return self.get(35)

    def get(self, tag: int) -> str | None:
        if self.message is None:
            return None
        value = self.message.get(tag)
        return None if value is None else value.decode()

    def __str__(self) -> str:
        if self.message is not None:
            return self.message.to_string("|")
        state = "closed" if self.closed else "timeout" if self.timed_out else "empty"
        return f"<{state}{': ' + self.detail if self.detail else ''}>"


def tls_client_context(
    ca_file: Path | str, cert: Path | str | None = None, key: Path | str | None = None
) -> ssl.SSLContext:
    """A client context that trusts only ``ca_file`` and checks the server's name (127.0.0.1 in its SAN).

    TLS 1.2 is the floor the engine is configured with; the client's certificate is loaded only
    when given, so the same helper makes the "no client certificate" probe.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cafile=str(ca_file))
    if cert is not None:
        context.load_cert_chain(certfile=str(cert), keyfile=None if key is None else str(key))
    return context


class RawFixClient:
    """One FIX 4.4 connection, driven step by step by a test (not thread-safe; one test, one client)."""

    def __init__(
        self,
        host: str,
        port: int,
        sender_comp_id: str,
        target_comp_id: str,
        *,
        source_address: str | None = None,
        tls: ssl.SSLContext | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.host = host
        self.port = port
        self.sender_comp_id = sender_comp_id
        self.target_comp_id = target_comp_id
        self.source_address = source_address
        self.tls = tls
        self.timeout = timeout
        self.next_outgoing_seq_num = 1
        self.received: list[FixReply] = []  # every message read, in order, for assertions afterwards
        self._socket: socket.socket | None = None
        self._parser = simplefix.FixParser()
        self._peer_closed: FixReply | None = None

    # -- connection -------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._socket is not None

    def connect(self) -> None:
        """Open the TCP connection (from ``source_address`` when given) and the TLS handshake if any.

        Raises ``OSError`` (``ssl.SSLError`` included) when the peer refuses either.
        """
        self._parser = simplefix.FixParser()  # nothing from an earlier connection carries over
        self._peer_closed = None
        source = None if self.source_address is None else (self.source_address, 0)
        raw = socket.create_connection((self.host, self.port), timeout=self.timeout, source_address=source)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls is None:
            self._socket = raw
            return
        try:
            self._socket = self.tls.wrap_socket(
                raw, server_hostname=self.host if self.tls.check_hostname else None
            )
        except BaseException:
            raw.close()
            raise

    def close(self) -> None:
        if self._socket is None:
            return
        try:
            self._socket.close()
        finally:
            self._socket = None

    def __enter__(self) -> RawFixClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- sending ----------------------------------------------------------------------------------

    def send(self, msg_type: str, fields: list[tuple[int, str]]) -> None:
        """Send one message: the standard header (8, 35, 49, 56, 34, 52) is ours, the body the caller's."""
        if self._socket is None:
            raise RuntimeError("not connected: call connect() or logon() first")
        message = simplefix.FixMessage()
        message.append_pair(8, BEGIN_STRING, header=True)
        message.append_pair(35, msg_type, header=True)
        message.append_pair(49, self.sender_comp_id, header=True)
        message.append_pair(56, self.target_comp_id, header=True)
        message.append_pair(34, self.next_outgoing_seq_num, header=True)
        message.append_pair(52, fix_utc_timestamp(), header=True)
        for tag, value in fields:
            message.append_pair(tag, value)
        self._socket.sendall(message.encode())
        self.next_outgoing_seq_num += 1

    def logon(
        self,
        username: str | None = None,
        password: str | None = None,
        heartbeat: int = 30,
        reset: bool = True,
    ) -> FixReply:
        """Send a Logon and return the peer's first answer (a Logon, a Logout, or closed / timeout).

        Connects first when needed; a refused connection or handshake is then a ``closed`` reply.
        """
        if self._socket is None:
            try:
                self.connect()
            except OSError as refused:
                return FixReply(closed=True, detail=f"connect: {refused!r}")
        if reset:
            self.next_outgoing_seq_num = 1
        fields: list[tuple[int, str]] = [(98, "0"), (108, str(heartbeat))]
        if reset:
            fields.append((141, "Y"))
        if username is not None:
            fields.append((553, username))
        if password is not None:
            fields.append((554, password))
        try:
            self.send("A", fields)
        except OSError as refused:  # e.g. a TLS 1.3 alert already waiting when we write
            return FixReply(closed=True, detail=f"send: {refused!r}")
        return self.receive(self.timeout) or FixReply(timed_out=True)

    def new_order(
        self,
        cl_ord_id: str,
        symbol: str,
        side: str = "1",
        quantity: int = 100,
        ord_type: str = "1",
        tif: str = "3",
    ) -> None:
        """Send a NewOrderSingle (35=D); defaults: buy 100 at market, IOC, automated handling."""
        self.send("D", [
            (11, cl_ord_id),
            (21, "1"),
            (55, symbol),
            (54, side),
            (60, fix_utc_timestamp()),
            (38, str(quantity)),
            (40, ord_type),
            (59, tif),
        ])

    def logout(self, text: str | None = None) -> FixReply:
        """Send a Logout and return the peer's answer (normally a Logout, then it closes)."""
        self.send("5", [] if text is None else [(58, text)])
        return self.wait_for(lambda reply: reply.msg_type == "5", self.timeout)

    # -- receiving --------------------------------------------------------------------------------

    def receive(self, timeout: float | None = None) -> FixReply | None:
        """The next message, a ``closed`` reply once the peer has gone, or None after ``timeout`` of silence.

        A TestRequest is answered with a Heartbeat echoing its TestReqID before it is returned.
        """
        if self._socket is None:
            return self._peer_closed or FixReply(closed=True, detail="not connected")
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            message = self._parser.get_message()
            if message is not None:
                reply = FixReply(message=message)
                self.received.append(reply)
                if reply.msg_type == "1":
                    self.send("0", [(112, reply.get(112) or "")])
                return reply
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self._socket.settimeout(remaining)
            try:
                chunk = self._socket.recv(RECEIVE_CHUNK_BYTES)
            except (socket.timeout, TimeoutError):
                return None
            except OSError as ended:  # reset, or a TLS alert such as "certificate required"
                return self._mark_closed(f"recv: {ended!r}")
            if not chunk:
                return self._mark_closed("peer closed the connection")
            self._parser.append_buffer(chunk)

    def wait_for(self, predicate: Callable[[FixReply], bool], timeout: float | None = None) -> FixReply:
        """Read until a message satisfies ``predicate``; else the ``closed`` or ``timed_out`` reply.

        Every message read on the way is kept in ``received``.
        """
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            reply = self.receive(max(0.0, deadline - time.monotonic()))
            if reply is None:
                return FixReply(timed_out=True)
            if reply.closed or predicate(reply):
                return reply

    def _mark_closed(self, detail: str) -> FixReply:
        self.close()
        self._peer_closed = FixReply(closed=True, detail=detail)
        return self._peer_closed
