"""The QuickFIX settings tables of the engine, and that the shipped configs connect to each other."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from engine.config import ConfigError, load_engine_config
from engine.fix.settings import (build_session_settings, check_no_overlap, trader_settings_table,
                                 venue_settings_table)

PROJECT = Path(__file__).resolve().parents[2]
SHIPPED = load_engine_config(PROJECT / "config" / "engine.yaml")


def fix_config(trader_store: str | None = None, **changes):
    if trader_store is not None:
        changes["trader"] = dataclasses.replace(SHIPPED.fix.trader, store=trader_store)
    return dataclasses.replace(SHIPPED.fix, **changes)


def test_the_trader_acceptor_has_one_session_per_trader_on_the_trader_port():
    table = trader_settings_table(SHIPPED.fix)
    assert table.sessions == [(("FIX.4.4", "DARKAGG", "TRADER1"), {}), (("FIX.4.4", "DARKAGG", "TRADER2"), {})]
    assert table.session_keys() == ["FIX.4.4:DARKAGG->TRADER1", "FIX.4.4:DARKAGG->TRADER2"]
    assert (table.defaults["ConnectionType"], table.defaults["SocketAcceptPort"]) == ("acceptor", "9200")


@pytest.mark.parametrize("table", [trader_settings_table(SHIPPED.fix), venue_settings_table(SHIPPED.fix, SHIPPED.venues)],
                         ids=["trader", "venue"])
def test_both_sides_validate_with_an_absolute_dictionary_nodelay_and_no_latency_check(table):
    defaults = table.defaults
    assert Path(defaults["DataDictionary"]).is_absolute() and Path(defaults["DataDictionary"]).is_file()
    assert (defaults["UseDataDictionary"], defaults["SocketNodelay"], defaults["NonStopSession"],
            defaults["CheckLatency"]) == ("Y", "Y", "Y", "N")


def test_a_relative_dictionary_becomes_absolute():
    table = trader_settings_table(fix_config(data_dictionary=Path("fix_specs/FIX44.xml")))
    assert Path(table.defaults["DataDictionary"]).is_absolute()


def test_a_file_trader_store_keeps_sequence_numbers_across_logons_and_restarts():
    defaults = trader_settings_table(fix_config(trader_store="file", store_path=Path("/tmp/agg/store"))).defaults
    assert defaults["FileStorePath"] == "/tmp/agg/store/trader"
    assert (defaults["ResetOnLogon"], defaults["ResetOnLogout"], defaults["ResetOnDisconnect"]) == ("N", "N", "N")


def test_a_memory_trader_store_starts_every_logon_afresh():
    defaults = trader_settings_table(fix_config(trader_store="memory")).defaults
    assert "FileStorePath" not in defaults
    assert (defaults["ResetOnLogon"], defaults["ResetOnLogout"], defaults["ResetOnDisconnect"]) == ("Y", "Y", "Y")


def test_a_file_store_without_a_folder_is_a_config_error():
    with pytest.raises(ConfigError, match="store_path"):
        trader_settings_table(fix_config(trader_store="file", store_path=None))


def test_the_venue_initiator_has_one_session_per_enabled_venue_resetting_at_every_logon():
    table = venue_settings_table(SHIPPED.fix, SHIPPED.venues)
    assert len(table.sessions) == 12
    assert table.sessions[0] == (("FIX.4.4", "DARKAGG", "DARK01"),
                                 {"SocketConnectHost": "127.0.0.1", "SocketConnectPort": "9101"})
    defaults = table.defaults
    assert (defaults["ConnectionType"], defaults["HeartBtInt"], defaults["ReconnectInterval"]) == ("initiator", "30", "1")
    assert (defaults["ResetOnLogon"], defaults["ResetOnLogout"], defaults["ResetOnDisconnect"]) == ("Y", "Y", "Y")
    assert "FileStorePath" not in defaults
    disabled = (dataclasses.replace(SHIPPED.venues[0], enabled=False),) + SHIPPED.venues[1:]
    assert [parts[2] for parts, _ in venue_settings_table(SHIPPED.fix, disabled).sessions][0] == "DARK02"


def test_the_shipped_engine_config_reaches_every_shipped_sim_venue():
    from sim_venues.host_config import load_config

    venues = load_config(PROJECT / "config" / "sim_venues.yaml")
    listening = {(v.port, v.sender_comp_id, v.target_comp_id) for v in venues.venues}
    table = venue_settings_table(SHIPPED.fix, SHIPPED.venues)
    dialling = {(int(section["SocketConnectPort"]), target, sender) for (_, sender, target), section in table.sessions}
    assert dialling == listening


def test_a_message_log_goes_to_one_folder_per_side():
    config = fix_config(message_log=Path("/tmp/agg/log"))
    assert trader_settings_table(config).defaults["FileLogPath"] == "/tmp/agg/log/trader"
    assert venue_settings_table(config, SHIPPED.venues).defaults["FileLogPath"] == "/tmp/agg/log/venues"
    assert "FileLogPath" not in trader_settings_table(SHIPPED.fix).defaults


def test_duplicate_or_shared_sessions_are_config_errors():
    twice = SHIPPED.venues[:1] + (dataclasses.replace(SHIPPED.venues[1], target_comp_id="DARK01"),)
    with pytest.raises(ConfigError, match="DARK01"):
        venue_settings_table(SHIPPED.fix, twice)
    clash = (dataclasses.replace(SHIPPED.venues[0], target_comp_id="TRADER1"),)
    with pytest.raises(ConfigError, match="TRADER1"):
        check_no_overlap(trader_settings_table(SHIPPED.fix), venue_settings_table(SHIPPED.fix, clash))


def test_the_tables_become_quickfix_session_settings():
    import quickfix as fix

    settings = build_session_settings(venue_settings_table(SHIPPED.fix, SHIPPED.venues))
    section = settings.get(fix.SessionID("FIX.4.4", "DARKAGG", "DARK12"))
    assert section.getString("SocketConnectPort") == "9112" and section.getString("SocketNodelay") == "Y"


def _with_policies(policies: dict[int, dict]):
    """The shipped config with ``session:`` policies for some venues (index -> mapping), as YAML has them."""
    import yaml

    from engine.config import engine_config_from_dict

    document = yaml.safe_load((PROJECT / "config" / "engine.yaml").read_text())
    for index, policy in policies.items():
        document["venues"][index]["session"] = policy
    return engine_config_from_dict(document, base_dir=PROJECT / "config")


def test_venues_with_a_file_store_get_their_own_initiator_table_with_the_resets_off():
    from engine.fix.settings import venue_settings_tables

    config = _with_policies({0: {"store": "file"}, 1: {"store": "file", "reset_time": "05:30:00",
                                                       "reset_on_logon": True}})
    tables = {group.store: table for group, table in venue_settings_tables(config.fix, config.venues).items()}
    assert set(tables) == {"memory", "file"}
    assert len(tables["memory"].sessions) == 10 and len(tables["file"].sessions) == 2
    file_defaults = tables["file"].defaults
    assert (file_defaults["ResetOnLogon"], file_defaults["ResetOnLogout"], file_defaults["ResetOnDisconnect"]) == \
        ("N", "N", "N")
    assert file_defaults["FileStorePath"] == str((config.fix.store_path / "venues").resolve())
    (_, first), (_, second) = tables["file"].sessions
    assert first == {"SocketConnectHost": "127.0.0.1", "SocketConnectPort": "9101"}
    assert second["ResetOnLogon"] == "Y"  # this venue's own rule, where it differs from the store's
    assert (second["NonStopSession"], second["StartTime"], second["EndTime"]) == ("N", "05:30:00", "05:30:00")
    assert "FileStorePath" not in tables["memory"].defaults


def test_a_daily_reset_time_makes_a_session_quickfix_accepts_and_keeps_up_around_the_clock(tmp_path):
    import quickfix as fix

    from engine.fix.settings import venue_settings_tables

    config = _with_policies({0: {"store": "file", "reset_time": "05:30:00"}})
    config = config.with_changes(fix=dataclasses.replace(config.fix, store_path=tmp_path))
    from engine.fix.settings import InitiatorGroup

    table = venue_settings_tables(config.fix, config.venues)[InitiatorGroup("file")]
    settings = build_session_settings(table)
    from tests.sim_venues.fix_client import QuietApplication

    application = QuietApplication()
    initiator = fix.SocketInitiator(application, fix.FileStoreFactory(settings), settings)
    assert initiator is not None  # QuickFIX validated the schedule (a bad one raises ConfigError here)
    session_id = fix.SessionID("FIX.4.4", "DARKAGG", "DARK01")
    assert fix.Session.lookupSession(session_id).isSessionTime(fix.UtcTimeStamp())
    del initiator


@pytest.mark.parametrize("policy, where", [
    ({"store": "disk"}, "venues[0].session.store"),
    ({"reset_time": "25:00:00"}, "venues[0].session.reset_time"),
    ({"reset_time": "5:30"}, "venues[0].session.reset_time"),
    ({"reset_on_logon": "no"}, "venues[0].session.reset_on_logon"),
    ({"colour": "blue"}, "venues[0].session"),
])
def test_a_bad_session_policy_names_its_key(policy, where):
    with pytest.raises(ConfigError, match=re.escape(where)):
        _with_policies({0: policy})


def test_tls_venues_get_an_initiator_of_their_own_with_the_ssl_settings_and_tls_1_2_and_1_3_only(tmp_path):
    from engine.config.security import InitiatorTlsConfig
    from engine.fix.settings import InitiatorGroup, venue_settings_tables

    for name in ("ca.pem", "me.pem", "me.key"):
        (tmp_path / name).write_text("x")
    tls = InitiatorTlsConfig(ca=tmp_path / "ca.pem", certificate=tmp_path / "me.pem", key=tmp_path / "me.key")
    venues = tuple(dataclasses.replace(v, tls=tls) if i in (2, 5) else v for i, v in enumerate(SHIPPED.venues))
    tables = venue_settings_tables(SHIPPED.fix, venues)
    assert set(tables) == {InitiatorGroup("memory"), InitiatorGroup("memory", tls)}
    secure = tables[InitiatorGroup("memory", tls)]
    assert [parts[2] for parts, _ in secure.sessions] == [SHIPPED.venues[2].target_comp_id,
                                                          SHIPPED.venues[5].target_comp_id]
    assert secure.defaults["SSLProtocol"] == "-all +TLSv1_2 +TLSv1_3"
    assert secure.defaults["CertificationAuthoritiesFile"] == str(tmp_path / "ca.pem")
    assert secure.defaults["ClientCertificateFile"] == str(tmp_path / "me.pem")
    assert "SSLProtocol" not in tables[InitiatorGroup("memory")].defaults
    assert len(tables[InitiatorGroup("memory")].sessions) == len(SHIPPED.venues) - 2


def test_a_trader_allowlist_becomes_that_session_s_allowed_remote_addresses():
    first, second = SHIPPED.fix.trader.sessions
    trader = dataclasses.replace(SHIPPED.fix.trader, allowed_addresses={first: ("127.0.0.1", "10.0.0.7")})
    table = trader_settings_table(dataclasses.replace(SHIPPED.fix, trader=trader))
    sections = {parts[2]: section for parts, section in table.sessions}
    assert sections[first] == {"AllowedRemoteAddresses": "127.0.0.1,10.0.0.7"}
    assert "AllowedRemoteAddresses" not in sections[second] and "AllowedRemoteAddresses" not in table.defaults
