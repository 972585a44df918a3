"""Session security of a real engine over plain TCP, probed from outside with a FIX client that is not
QuickFIX (simplefix on a raw socket): credentials, allowlists, lockout and its expiry, and the
engine still serving its other sessions after every refusal. Outcomes only: what the client gets,
what the engine's metrics count, and orders that trade."""

from __future__ import annotations

import time

import pytest

from tests.engine.e2e_setup import SYMBOL
from tests.security.over_fix import (LOCK_SECONDS, PASSWORDS, TRADERS, got_nothing, refusals_counted,
                                     refusals_since, refused_with_logout, start_secured_engine, trades,
                                     trades_once_the_lock_expires, wait_until)
from tests.security.raw_fix import RawFixClient

pytestmark = pytest.mark.slow

ENGINE_ID = "AGGSEC"


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    config, venues, running = start_secured_engine(tmp_path_factory.mktemp("logon"), ENGINE_ID, "S", TRADERS,
                                                   LOCK_SECONDS, allowed_addresses={"TRADER1": ("127.0.0.1",)})
    trader = config.fix.trader
    # TRADER2 stays logged on through every refusal below and must still trade at the end
    bystander = RawFixClient("127.0.0.1", trader.port, "TRADER2", ENGINE_ID, source_address="127.0.0.5")
    assert bystander.logon("trader2", PASSWORDS["TRADER2"]).msg_type == "A"
    yield config, bystander
    bystander.close()
    running.stop()
    venues.stop()


def client(config, comp_id: str, source: str = "127.0.0.1") -> RawFixClient:
    return RawFixClient("127.0.0.1", config.fix.trader.port, comp_id, ENGINE_ID, source_address=source)


def test_a_good_logon_trades(engine):
    config, _ = engine
    with client(config, "TRADER1") as trader:
        assert trader.logon("trader1", PASSWORDS["TRADER1"]).msg_type == "A"
        assert trades(trader, "GOOD1", SYMBOL) > 0
        assert trader.logout().msg_type == "5"


@pytest.mark.parametrize("username, password", [("trader1", "not the password at all"),
                                                ("someone", PASSWORDS["TRADER1"]), (None, None),
                                                ("trader1", None)])
def test_wrong_or_missing_credentials_get_only_logon_refused(engine, username, password):
    config, _ = engine
    with client(config, "TRADER1") as trader:
        reply = trader.logon(username, password)
        assert refused_with_logout(reply), str(reply)
        assert not any(r.msg_type == "A" for r in trader.received)


def test_an_unknown_comp_id_gets_nothing_and_is_counted(engine):
    config, _ = engine
    before = refusals_counted(config.metrics.port).get("unknown CompID", 0)
    with client(config, "NOBODY") as stranger:
        assert got_nothing(stranger, stranger.logon("nobody", "whatever password"))
    assert wait_until(lambda: refusals_counted(config.metrics.port).get("unknown CompID", 0) == before + 1)


def test_the_right_comp_id_and_password_from_a_disallowed_address_gets_nothing(engine):
    config, _ = engine
    before = refusals_counted(config.metrics.port).get("address not allowed", 0)
    with client(config, "TRADER1", source="127.0.0.2") as intruder:
        assert got_nothing(intruder, intruder.logon("trader1", PASSWORDS["TRADER1"]))
    assert wait_until(lambda: refusals_counted(config.metrics.port).get("address not allowed", 0) == before + 1)
    with client(config, "TRADER3", source="127.0.0.2") as elsewhere:  # TRADER3 has no allowlist
        assert elsewhere.logon("trader3", PASSWORDS["TRADER3"]).msg_type == "A"
        assert elsewhere.logout().msg_type == "5"


def test_repeated_failures_lock_the_comp_id_and_address_out_until_the_lock_expires(engine):
    config, _ = engine
    counted = refusals_counted(config.metrics.port)
    for attempt in range(3):
        with client(config, "TRADER3") as guesser:
            assert refused_with_logout(guesser.logon("trader3", f"guess number {attempt}"))
    locked_at = time.monotonic()
    with client(config, "TRADER3") as owner:  # even the right password, while locked
        assert refused_with_logout(owner.logon("trader3", PASSWORDS["TRADER3"]))
    with client(config, "TRADER3", source="127.0.0.3") as other_address:  # the lock is per address
        assert other_address.logon("trader3", PASSWORDS["TRADER3"]).msg_type == "A"
        assert other_address.logout().msg_type == "5"
    assert refusals_since(config.metrics.port, counted) == {"bad credentials": 3, "locked out": 1}
    assert trades_once_the_lock_expires(locked_at, client(config, "TRADER3"), "AFTERLOCK", SYMBOL) > 0


def test_the_session_logged_on_throughout_still_trades(engine):
    """Runs last in this module: every refusal above happened while TRADER2 was logged on."""
    _, bystander = engine
    assert bystander.connected and not any(r.msg_type == "5" for r in bystander.received)
    assert trades(bystander, "STILL1", SYMBOL) > 0
