"""Session security of a real engine over TLS, probed from outside with simplefix over Python's ``ssl``
(not QuickFIX): the engine's trader port takes TLS 1.2/1.3 with client certificates from our CA only,
and credentials and lockout work over it as over plain TCP; the engine reaches venues that are
themselves TLS and want credentials, and follows the primary's market data over TLS. Outcomes only: what a client gets, what the metrics count, and
orders that trade (checked against the venues' ground-truth log)."""

from __future__ import annotations

import json
import sqlite3
import ssl
import time
from contextlib import closing

import pytest

from engine.config import engine_config_from_dict
from engine.config.security import AcceptorTlsConfig
from tests.engine.e2e_setup import SYMBOL
from tests.engine.engine_thread import EngineThread
from tests.security.certs import tls_material
from tests.security.over_fix import (LOCK_SECONDS, PASSWORDS, TRADERS, got_nothing, refusals_counted,
                                     refusals_since, refused_with_logout, start_secured_engine, trades,
                                     trades_once_the_lock_expires, wait_until)
from tests.security.raw_fix import RawFixClient, tls_client_context
from tests.sim_venues.fix_client import free_port

pytestmark = pytest.mark.slow

ENGINE_ID = "AGGTLS"


@pytest.fixture(scope="module")
def material(tmp_path_factory):
    return tls_material(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def engine(tmp_path_factory, material):
    tls = AcceptorTlsConfig(certificate=material.engine.cert_path, key=material.engine.key_path,
                            ca=material.good.cert_path)
    config, venues, running = start_secured_engine(tmp_path_factory.mktemp("tls_engine"), ENGINE_ID, "TLS",
                                                   TRADERS, LOCK_SECONDS, tls=tls)
    bystander = good_client(config, material, "TRADER2")  # logged on through every refusal below
    assert bystander.logon("trader2", PASSWORDS["TRADER2"]).msg_type == "A"
    yield config, bystander
    bystander.close()
    running.stop()
    venues.stop()


def good_client(config, material, comp_id: str) -> RawFixClient:
    context = tls_client_context(material.good.cert_path, material.trader.cert_path, material.trader.key_path)
    return RawFixClient("127.0.0.1", config.fix.trader.port, comp_id, ENGINE_ID, tls=context)


def test_a_tls_client_with_a_good_certificate_and_password_trades(engine, material):
    config, _ = engine
    with good_client(config, material, "TRADER1") as trader:
        assert trader.logon("trader1", PASSWORDS["TRADER1"]).msg_type == "A"
        assert trader.tls is not None and trader._socket.version() in ("TLSv1.2", "TLSv1.3")
        assert trades(trader, "TLS-GOOD1", SYMBOL) > 0
        assert trader.logout().msg_type == "5"


def test_plain_tcp_on_the_tls_port_gets_nothing(engine):
    config, _ = engine
    with RawFixClient("127.0.0.1", config.fix.trader.port, "TRADER1", ENGINE_ID) as plain:
        assert got_nothing(plain, plain.logon("trader1", PASSWORDS["TRADER1"]))
        assert not any(r.msg_type == "A" for r in plain.received)


@pytest.mark.parametrize("certificate", ["intruder", None], ids=["another CA", "none"])
def test_a_client_certificate_from_another_ca_or_none_is_refused(engine, material, certificate):
    config, _ = engine
    leaf = getattr(material, certificate) if certificate else None
    context = tls_client_context(material.good.cert_path, *((leaf.cert_path, leaf.key_path) if leaf else ()))
    with RawFixClient("127.0.0.1", config.fix.trader.port, "TRADER1", ENGINE_ID, tls=context) as refused:
        assert got_nothing(refused, refused.logon("trader1", PASSWORDS["TRADER1"]))
        assert not any(r.msg_type == "A" for r in refused.received)


def test_a_server_certificate_from_another_ca_is_not_trusted_by_the_client(engine, material):
    """The other direction: a trader trusting only the rogue CA does not talk to our engine at all."""
    config, _ = engine
    context = tls_client_context(material.rogue.cert_path, material.trader.cert_path, material.trader.key_path)
    with RawFixClient("127.0.0.1", config.fix.trader.port, "TRADER1", ENGINE_ID, tls=context) as wary:
        with pytest.raises(ssl.SSLCertVerificationError):
            wary.connect()


@pytest.mark.parametrize("username, password", [("trader1", "not the password at all"), (None, None)])
def test_wrong_or_missing_credentials_over_tls_get_only_logon_refused(engine, material, username, password):
    config, _ = engine
    with good_client(config, material, "TRADER1") as trader:
        assert refused_with_logout(trader.logon(username, password))
        assert not any(r.msg_type == "A" for r in trader.received)


def test_an_unknown_comp_id_over_tls_gets_nothing_and_is_counted(engine, material):
    config, _ = engine
    before = refusals_counted(config.metrics.port).get("unknown CompID", 0)
    with good_client(config, material, "NOBODY") as stranger:
        assert got_nothing(stranger, stranger.logon("nobody", "whatever password"))
    assert wait_until(lambda: refusals_counted(config.metrics.port).get("unknown CompID", 0) == before + 1)


def test_a_lockout_over_tls_holds_until_it_expires(engine, material):
    """The SSL acceptor does not say which connection a logon came on, so over TLS the lock is the
    CompID's from every address (README: what is left to the network)."""
    config, _ = engine
    counted = refusals_counted(config.metrics.port)
    for attempt in range(3):
        with good_client(config, material, "TRADER3") as guesser:
            assert refused_with_logout(guesser.logon("trader3", f"guess number {attempt}"))
    locked_at = time.monotonic()
    with good_client(config, material, "TRADER3") as owner:
        assert refused_with_logout(owner.logon("trader3", PASSWORDS["TRADER3"]))
    assert refusals_since(config.metrics.port, counted) == {"bad credentials": 3, "locked out": 1}
    assert trades_once_the_lock_expires(locked_at, good_client(config, material, "TRADER3"), "TLS-AFTERLOCK", SYMBOL) > 0


def test_the_tls_session_logged_on_throughout_still_trades(engine):
    """Runs after the refusals above: every one happened while TRADER2 was logged on over TLS."""
    _, bystander = engine
    assert bystander.connected and not any(r.msg_type == "5" for r in bystander.received)
    assert trades(bystander, "TLS-STILL1", SYMBOL) > 0


def test_an_allowlist_on_a_tls_trader_port_is_a_config_error(tmp_path, material):
    document = {
        "market": "market.yaml", "symbols": [SYMBOL], "journal": "journal.sqlite",
        "fix": {"store_path": "fix_store", "trader": {"port": free_port(), "sender_comp_id": ENGINE_ID, "sessions": ["TRADER1"],
                           "allowed_addresses": {"TRADER1": ["127.0.0.1"]},
                           "tls": {"certificate": str(material.engine.cert_path),
                                   "key": str(material.engine.key_path), "ca": str(material.good.cert_path)}}},
        "venues": [{"name": "DEEP", "port": free_port(), "target_comp_id": "X", "sender_comp_id": ENGINE_ID}],
    }
    from tests.engine.e2e_setup import MARKET
    (tmp_path / "market.yaml").write_text(MARKET)
    with pytest.raises(Exception, match="AllowedRemoteAddresses"):
        engine_config_from_dict(document, base_dir=tmp_path)
    del document["fix"]["trader"]["allowed_addresses"]
    assert engine_config_from_dict(document, base_dir=tmp_path).fix.trader.tls is not None


# -- the engine's venue sessions over TLS, with credentials ---------------------------------------

VENUE_ENGINE_ID = "AGGTLSV"
VENUE_PASSWORD = "the password the venues gave us"


def _venue_host(folder, names, server, material, name, feed_port=None):
    from sim_venues.host import VenueHost
    from sim_venues.host_config import config_from_dict

    document = {"market": "market.yaml", "seed": 5, "ground_truth_log": str(folder / f"{name}.truth.jsonl"),
                "symbols": {SYMBOL: {"reference_price": 20.0, "tick": 0.01}},
                "tls": {"certificate": str(server.cert_path), "key": str(server.key_path),
                        "ca": str(material.good.cert_path), "require_client_certificate": True},
                "allowed_remote_addresses": [], "secrets_file": str(folder / "venue-secrets.yaml"),
                "venue_defaults": {"target_comp_id": VENUE_ENGINE_ID, "require_credentials": True},
                "venues": [{"name": venue, "port": free_port(), "sender_comp_id": f"TV{venue}"} for venue in names]}
    if feed_port is not None:  # the primary's feed: a session of the same TLS acceptor
        document["market_data"] = {"port": feed_port, "sender_comp_id": "TVMD", "target_comp_id": VENUE_ENGINE_ID}
    host = VenueHost(config_from_dict(document, base_dir=folder))
    host.start()
    return host


@pytest.fixture(scope="module")
def tls_venues(tmp_path_factory, material):
    """DEEP and THIN: TLS venues with a good certificate that our password opens; SOLO: the same
    host, but the engine holds a wrong password for it; FLAKY: a venue whose server certificate comes
    from the rogue CA, which the engine must not trust."""
    from engine.security import write_trader, write_venue
    from tests.engine.e2e_setup import MARKET

    folder = tmp_path_factory.mktemp("tls_venues")
    (folder / "market.yaml").write_text(MARKET)
    write_trader(folder / "venue-secrets.yaml", VENUE_ENGINE_ID, "aggtlsv", VENUE_PASSWORD)
    engine_secrets = folder / "engine-secrets.yaml"
    for venue in ("DEEP", "THIN", "FLAKY"):
        write_venue(engine_secrets, venue, "aggtlsv", VENUE_PASSWORD)
    write_venue(engine_secrets, "SOLO", "aggtlsv", "not what the venue holds")
    feed_port = free_port()
    good = _venue_host(folder, ("DEEP", "THIN", "SOLO"), material.venue, material, "good", feed_port)
    rogue = _venue_host(folder, ("FLAKY",), material.rogue.issue("rogue-venue", server=True), material, "rogue")
    listings = good.listings() + rogue.listings()
    document = {
        "market": "market.yaml", "symbols": [SYMBOL], "journal": "journal.sqlite",
        "sweep": {"deadline_ms": 300, "interval_ms": 5, "cancel_retry_ms": 300},
        "fix": {"store_path": "fix_store", "reconnect_seconds": 1, "secrets_file": str(engine_secrets),
                "trader": {"port": free_port(), "sender_comp_id": VENUE_ENGINE_ID, "sessions": ["TRADER1"]}},
        "venue_defaults": {"sender_comp_id": VENUE_ENGINE_ID, "credentials": True,
                           "tls": {"ca": str(material.good.cert_path),
                                   "certificate": str(material.engine_client.cert_path),
                                   "key": str(material.engine_client.key_path)}},
        "venues": [{"name": l.venue, "port": l.port, "target_comp_id": l.sender_comp_id} for l in listings],
        "market_data": {"port": feed_port, "sender_comp_id": VENUE_ENGINE_ID, "target_comp_id": "TVMD",
                        "tls": {"ca": str(material.good.cert_path), "certificate": str(material.engine_client.cert_path),
                                "key": str(material.engine_client.key_path)}},
    }
    config = engine_config_from_dict(document, base_dir=folder)
    running = EngineThread(config).start()
    yield config, good, rogue, folder, running
    running.stop()
    good.stop()
    rogue.stop()


def _truth(folder, name) -> list[dict]:
    return [json.loads(line) for line in (folder / f"{name}.truth.jsonl").read_text().splitlines()]


def test_the_engine_reaches_tls_venues_with_its_credentials_and_trades_there(tls_venues):
    config, good, _, folder, running = tls_venues
    assert good.wait_logged_on("DEEP", 10) and good.wait_logged_on("THIN", 10)
    with RawFixClient("127.0.0.1", config.fix.trader.port, "TRADER1", VENUE_ENGINE_ID) as trader:
        assert trader.logon().msg_type == "A"
        filled = trades(trader, "TLSV1", SYMBOL, quantity=6000)
    assert filled > 0
    records = _truth(folder, "good")
    at_venues = sum(r["filled"] for r in records if r["event"] == "order")
    assert at_venues == filled  # the venues' own record: every share the trader was told of, and no more
    assert {r["venue"] for r in records if r["event"] == "order"} <= {"DEEP", "THIN"}
    # the market-data feed came over TLS too: every fill is stamped with the midpoint the venue filled at
    assert SYMBOL in running.manager.markouts.live
    priced = {r["cl_ord_id"]: r["midpoint"] for r in records if r["event"] == "order" and r["filled"]}

    def stamps() -> dict:
        with closing(sqlite3.connect(config.journal)) as journal:
            return dict(journal.execute("SELECT child_id, midpoint FROM fills"))
    assert wait_until(lambda: len(stamps()) == len(priced))  # the journal's tables lag its log by ~50 ms
    assert stamps() == pytest.approx(priced)


def test_a_venue_refuses_the_engine_with_a_wrong_password_and_the_rest_trade_on(tls_venues):
    _, good, _, folder, _ = tls_venues
    assert wait_until(lambda: any(r["event"] == "logon_refused" and r["venue"] == "SOLO"
                                  for r in _truth(folder, "good")), timeout=10)
    assert not good.is_logged_on("SOLO")
    assert good.is_logged_on("DEEP") and good.is_logged_on("THIN")


def test_the_engine_does_not_log_on_to_a_venue_whose_certificate_it_cannot_trust(tls_venues):
    _, good, rogue, folder, _ = tls_venues
    assert good.wait_logged_on("DEEP", 10)
    time.sleep(2.5)  # two reconnect attempts at least (reconnect_seconds 1)
    assert not rogue.is_logged_on("FLAKY")
    assert not any(r["event"] in ("logon", "logon_refused") for r in _truth(folder, "rogue"))
