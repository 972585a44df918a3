"""Shared pieces of the session-security tests over FIX: a trader's secrets, and the outcomes a test
reads from outside (a logon refused, a logon answered, an order that trades)."""

from __future__ import annotations

import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from engine.security import write_trader
from tests.security.raw_fix import FixReply, RawFixClient

PASSWORDS = {"TRADER1": "first trader's password", "TRADER2": "second trader's password",
             "TRADER3": "third trader's password"}


def write_trader_secrets(path, comp_ids) -> None:
    for comp_id in comp_ids:
        write_trader(path, comp_id, comp_id.lower(), PASSWORDS[comp_id])


def refused_with_logout(reply: FixReply) -> bool:
    """A Logout saying only that the logon was refused (QuickFIX prefixes "Rejected Logon Attempt")."""
    return reply.msg_type == "5" and reply.get(58) in ("logon refused", "Rejected Logon Attempt: logon refused")


def got_nothing(client: RawFixClient, reply: FixReply) -> bool:
    """No Logon answer at all: the connection closed, or the peer stayed silent and then closes."""
    if reply.message is not None:
        return False
    return reply.closed or client.receive(3.0) is None or not client.connected


def trades(client: RawFixClient, cl_ord_id: str, symbol: str, quantity: int = 3000, timeout: float = 10) -> int:
    """Send an IOC buy and wait for its final report; the filled quantity (CumQty)."""
    client.new_order(cl_ord_id, symbol, quantity=quantity)
    final = client.wait_for(lambda r: r.msg_type == "8" and r.get(11) == cl_ord_id and r.get(39) in ("2", "4", "8"),
                            timeout)
    assert final.message is not None, f"no final report for {cl_ord_id}: {final}"
    return int(float(final.get(14) or 0))


def refusals_counted(metrics_port: int) -> dict[str, float]:
    """darkagg_trader_logons_refused_total by reason, scraped."""
    text = _scrape(metrics_port)
    counted = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "darkagg_trader_logons_refused_total":
                counted[sample.labels["reason"]] = sample.value
    return counted


def _scrape(metrics_port: int, attempts: int = 3) -> str:
    """/metrics, asked again when a scrape gets no answer in 3 s. In two of three full-suite runs one
    scrape right after a trader's logout waited past 5 s, the server's request thread still reading
    the request line (faulthandler); never in isolation, in 22 runs of this module or with a
    diagnostic timer running. The counts asserted are the same whichever scrape answers."""
    for attempt in range(attempts):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=3) as response:
                return response.read().decode()
        except TimeoutError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def wait_until(predicate, timeout: float = 5.0, step: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)
