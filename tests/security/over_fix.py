"""Shared pieces of the session-security tests over FIX: a trader's secrets, and the outcomes a test
reads from outside (a logon refused, a logon answered, an order that trades)."""

from __future__ import annotations

import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from engine.security import REFUSED_LOGON_TEXT, write_trader
from tests.security.raw_fix import FixReply, RawFixClient

TRADERS = ("TRADER1", "TRADER2", "TRADER3")
LOCK_SECONDS = 1.5  # short, so a test sees a lockout expire
PASSWORDS = {"TRADER1": "first trader's password", "TRADER2": "second trader's password",
             "TRADER3": "third trader's password"}


def write_trader_secrets(path, comp_ids) -> None:
    for comp_id in comp_ids:
        write_trader(path, comp_id, comp_id.lower(), PASSWORDS[comp_id])


def refused_with_logout(reply: FixReply) -> bool:
    """A Logout saying only that the logon was refused (QuickFIX prefixes "Rejected Logon Attempt")."""
    return reply.msg_type == "5" and reply.get(58) in (REFUSED_LOGON_TEXT, f"Rejected Logon Attempt: {REFUSED_LOGON_TEXT}")


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


def refusals_since(metrics_port: int, before: dict[str, float]) -> dict[str, float]:
    """How many more refusals of each reason than ``before`` (an earlier refusals_counted)."""
    now = refusals_counted(metrics_port)
    return {reason: now[reason] - before.get(reason, 0) for reason in now if now[reason] != before.get(reason, 0)}


def trades_once_the_lock_expires(locked_at: float, owner: RawFixClient, cl_ord_id: str, symbol: str) -> int:
    """Wait out LOCK_SECONDS from ``locked_at``; then TRADER3 logs on with its password and trades."""
    time.sleep(max(0.0, LOCK_SECONDS - (time.monotonic() - locked_at)) + 0.2)
    with owner:
        assert owner.logon("trader3", PASSWORDS["TRADER3"]).msg_type == "A"
        return trades(owner, cl_ord_id, symbol)


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


def start_secured_engine(folder, engine_id: str, venue_prefix: str, traders, lock_seconds: float, **trader_changes):
    """(config, venues, running engine): sim venues and an in-process engine whose trader sessions
    ``traders`` log on with the PASSWORDS (3 refusals in 30 s lock for ``lock_seconds``), its
    metrics on a free port; ``trader_changes`` go into fix.trader (an allowlist, tls)."""
    import dataclasses

    from engine.config.operations import MetricsConfig
    from engine.config.security import LockoutConfig
    from tests.engine.e2e_setup import engine_config, start_venues
    from tests.engine.engine_thread import EngineThread
    from tests.sim_venues.fix_client import free_port

    secrets = folder / "secrets.yaml"
    write_trader_secrets(secrets, traders)
    venues = start_venues(folder, engine_id, venue_prefix)
    config = engine_config(folder, venues, engine_id, traders[0])
    trader = dataclasses.replace(config.fix.trader, sessions=tuple(traders), credentials=True,
                                 lockout=LockoutConfig(failures=3, window_seconds=30, seconds=lock_seconds),
                                 **trader_changes)
    config = dataclasses.replace(config, fix=dataclasses.replace(config.fix, trader=trader, secrets_file=secrets),
                                 metrics=MetricsConfig(port=free_port()))
    return config, venues, EngineThread(config).start()
