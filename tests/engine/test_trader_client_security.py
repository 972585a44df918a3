"""The trader side of a secured engine, from the trader's end: TraderClient and `dark-agg order`
against a real engine whose trader port is TLS with client certificates and wants a Username and
Password. Outcomes only: a logon or none, what the engine's Logout said, orders that fill, and
`dark-agg order`'s exit status and its own message.

Each test logs on as a CompID of its own, so the refusals of one never count towards the engine's
lockout of another (and the lockout is set far off, whatever QuickFIX's reconnects add).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from engine.commands import order as order_command
from engine.config.security import AcceptorTlsConfig, InitiatorTlsConfig, LockoutConfig
from engine.fix.trader_client import TraderClient
from engine.security import write_trader
from tests.engine.e2e_setup import SYMBOL, engine_config, start_venues
from tests.engine.engine_thread import EngineThread
from tests.security.certs import tls_material

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parents[2]
ENGINE_ID = "AGGTLSCLI"  # and venue prefix "TC": QuickFIX's session registry is process-wide
TRADERS = ("TLSGOOD", "TLSBAD", "TLSROGUE", "TLSNOCERT", "CLIGOOD", "CLIBAD")
PASSWORDS = {comp_id: f"{comp_id.lower()} pass phrase with spaces" for comp_id in TRADERS}
NO_LOGON_WAIT_SECONDS = 4.0  # a TLS handshake that fails gives no answer to wait for


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trader_tls")
    material = tls_material(folder / "tls")
    secrets = folder / "secrets.yaml"
    for comp_id in TRADERS:
        write_trader(secrets, comp_id, comp_id.lower(), PASSWORDS[comp_id])
    venues = start_venues(folder, ENGINE_ID, "TC")
    config = engine_config(folder, venues, ENGINE_ID, TRADERS[0])
    engine_tls = AcceptorTlsConfig(certificate=material.engine.cert_path, key=material.engine.key_path,
                                   ca=material.good.cert_path)
    trader = dataclasses.replace(config.fix.trader, sessions=TRADERS, credentials=True, tls=engine_tls,
                                 allowed_addresses={}, lockout=LockoutConfig(failures=1000))
    config = dataclasses.replace(config, fix=dataclasses.replace(config.fix, trader=trader, secrets_file=secrets))
    running = EngineThread(config).start()
    yield SimpleNamespace(material=material, port=trader.port, config_path=_order_config(folder, trader.port, material))
    running.stop()
    venues.stop()


def _order_config(folder: Path, port: int, material) -> Path:
    """The engine config as `dark-agg order` reads it on the trader's side (JSON is YAML)."""
    path = folder / "engine.yaml"
    path.write_text(json.dumps({
        "market": str(folder / "market.yaml"), "symbols": [SYMBOL], "journal": "journal.sqlite",
        "fix": {"trader": {"port": port, "sender_comp_id": ENGINE_ID, "sessions": list(TRADERS), "credentials": True,
                           "store": "memory", "tls": {"certificate": str(material.engine.cert_path), "key": str(material.engine.key_path),
                                   "ca": str(material.good.cert_path)}}},
        "venues": [{"name": "DEEP", "port": 9, "sender_comp_id": ENGINE_ID, "target_comp_id": "TCNONE"}]}))
    return path


def _client(secured, comp_id: str, *, certificate=None, password: str | None = None) -> TraderClient:
    """A trader over TLS trusting the good CA, presenting ``certificate`` (an IssuedCert, or None)."""
    tls = InitiatorTlsConfig(ca=secured.material.good.cert_path,
                             certificate=None if certificate is None else certificate.cert_path,
                             key=None if certificate is None else certificate.key_path)
    return TraderClient("127.0.0.1", secured.port, comp_id, ENGINE_ID, tls=tls, username=comp_id.lower(),
                        password=PASSWORDS[comp_id] if password is None else password)


def test_a_good_certificate_and_password_log_on_and_an_order_fills(secured):
    with _client(secured, "TLSGOOD", certificate=secured.material.trader) as trader:
        assert trader.wait_logged_on(10)
        assert trader.send_order("TLS1", "buy", SYMBOL, 3000, tif="IOC")
        final = trader.wait_done("TLS1", timeout=15)
    assert final.ord_status in ("2", "4") and final.cum_qty > 0
    assert [r for r in trader.reports_for("TLS1") if r.exec_type == "F"]


def test_a_wrong_password_gets_no_logon_and_the_engine_says_logon_refused(secured):
    with _client(secured, "TLSBAD", certificate=secured.material.trader, password="not the password") as trader:
        assert not trader.wait_logged_on(10, stop_at_refusal=True)
        assert trader.logons == 0
        assert "logon refused" in (trader.last_logout_text or "")


def test_a_client_certificate_from_another_ca_gets_no_logon(secured):
    with _client(secured, "TLSROGUE", certificate=secured.material.intruder) as trader:
        assert not trader.wait_logged_on(NO_LOGON_WAIT_SECONDS)
        assert trader.logons == 0


def test_no_client_certificate_gets_no_logon(secured):
    with _client(secured, "TLSNOCERT") as trader:
        assert not trader.wait_logged_on(NO_LOGON_WAIT_SECONDS)
        assert trader.logons == 0


def test_the_password_is_in_no_repr():
    client = TraderClient("127.0.0.1", 9, "TLSREPR", ENGINE_ID, username="someone", password="do not show me")
    try:
        assert "do not show me" not in repr(client._credentials) + repr(vars(client))
    finally:
        client.stop()


def test_a_username_without_a_password_is_refused_at_once():
    with pytest.raises(ValueError, match="together"):
        TraderClient("127.0.0.1", 9, "TLSHALF", ENGINE_ID, username="someone")


# -- dark-agg order ---------------------------------------------------------------------------------


def _dark_agg_order(secured, comp_id: str, *extra: str, password: str | None = None, stdin: str | None = None):
    material = secured.material
    environment = {key: value for key, value in os.environ.items() if key != order_command.PASSWORD_VARIABLE}
    if password is not None:
        environment[order_command.PASSWORD_VARIABLE] = password
    command = [sys.executable, "-m", "engine.commands.cli", "order", "--config", str(secured.config_path),
               "--trader", comp_id, "--username", comp_id.lower(), "--tls-cert", str(material.trader.cert_path),
               "--tls-key", str(material.trader.key_path), "--side", "buy", "--symbol", SYMBOL, "--qty", "3000",
               "--tif", "IOC", "--timeout", "20", *extra]
    return subprocess.run(command, cwd=PROJECT, env=environment, input=stdin or "", capture_output=True, text=True,
                          timeout=60)


def test_dark_agg_order_with_good_credentials_from_the_environment_trades(secured):
    done = _dark_agg_order(secured, "CLIGOOD", password=PASSWORDS["CLIGOOD"])
    assert done.returncode == 0, done.stderr
    assert any(line.split()[1:2] == ["TRADE"] for line in done.stdout.splitlines())


def test_dark_agg_order_with_a_wrong_password_on_stdin_says_logon_refused(secured):
    done = _dark_agg_order(secured, "CLIBAD", "--password-stdin", stdin="not the password\n")
    assert done.returncode == 2
    assert "logon refused" in done.stderr


def _order_args(secured, *extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    order_command.configure(parser)
    return parser.parse_args(["--config", str(secured.config_path), "--trader", "CLIGOOD", "--side", "buy",
                              "--symbol", SYMBOL, "--qty", "1000", "--timeout", "5", *extra])


@pytest.mark.parametrize("flags, password, complaint", [
    (["--tls-cert", "{cert}", "--tls-key", "{key}"], "pw", "give --username"),
    (["--username", "cligood", "--tls-cert", "{cert}", "--tls-key", "{key}"], None, "needs a password"),
    (["--username", "cligood"], "pw", "requires a client certificate"),
    (["--username", "cligood", "--tls-cert", "{cert}"], "pw", "--tls-cert and --tls-key go together"),
    (["--username", "cligood", "--tls-cert", "{cert}", "--tls-key", "missing.key"], "pw", "missing.key: no such file"),
    (["--username", "cligood", "--tls-ca", "missing.pem", "--tls-cert", "{cert}", "--tls-key", "{key}"], "pw",
     "--tls-ca missing.pem: no such file"),
])
def test_dark_agg_order_says_what_is_missing_before_connecting(secured, monkeypatch, capsys, flags, password,
                                                               complaint):
    monkeypatch.delenv(order_command.PASSWORD_VARIABLE, raising=False)
    if password is not None:
        monkeypatch.setenv(order_command.PASSWORD_VARIABLE, password)
    paths = {"cert": str(secured.material.trader.cert_path), "key": str(secured.material.trader.key_path)}
    assert order_command.run(_order_args(secured, *(flag.format(**paths) for flag in flags))) == 2
    assert complaint in capsys.readouterr().err
