"""QuickFIX session settings for the engine, generated from the engine config (no .cfg file).

:func:`trader_settings_table` and :func:`venue_settings_table` are pure (plain dicts of strings,
testable without quickfix); :func:`build_session_settings` turns a table into
``quickfix.SessionSettings``. Choices made on purpose (see FIX_NOTES.md):

- DataDictionary is an absolute path: QuickFIX resolves relative ones from the working directory.
- SocketNodelay=Y: otherwise a message sent right after another waits for Nagle (~44 ms).
- NonStopSession=Y: no trading hours here, so no StartTime/EndTime.
- CheckLatency=N: a peer on a simulated clock would have every message rejected; the manager keeps
  its own deadlines.
- Trader acceptor, ``trader_store: file``: FileStore with ResetOnLogon/Logout/Disconnect=N, so the
  sequence numbers and the reports sent while a trader was away survive a disconnect or a restart
  and are recovered by the trader's ResendRequest. A trader that logs on with ResetSeqNumFlag=Y
  resets both sides, which is its choice. ``trader_store: memory``: every logon starts at 1.
- Venue initiators, one per store kind in use (a QuickFIX initiator has one store factory), each
  venue's session by its own policy (``session:`` in the config, :class:`VenueSessionPolicy`):
  ``memory`` with every reset at Y (the default): the venue resets at each logon, and the manager
  reconciles open children with OrderStatusRequest after a reconnect. ``file`` with the resets at
  N: a FileStore under ``fix.store_path/venues`` keeps sequence numbers and sent messages, so after
  a reconnect or a restart QuickFIX's ResendRequest recovers what either side missed (PossDup); a
  ``reset_time`` makes it a 24-hour session (StartTime = EndTime) that QuickFIX resets daily.
  Disabled venues get no session at all.
- TLS: the trader acceptor's and each venue group's SSL settings (``engine.config.security``) go
  in the default section, where QuickFIX's SSL acceptor and initiator read them; venues with
  different TLS settings get initiators of their own (:class:`InitiatorGroup`).
- ``AllowedRemoteAddresses`` per trader session from ``fix.trader.allowed_addresses``. QuickFIX
  1.16 has no SocketAcceptHost: the acceptor listens on every interface (measured with ``ss``).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from engine.config import ConfigError, FixConfig, SessionRules, VenueSessionConfig
from engine.config.security import InitiatorTlsConfig

BEGIN_STRING = "FIX.4.4"

SessionParts = tuple[str, str, str]  # (BeginString, SenderCompID, TargetCompID)


class SettingsTable(NamedTuple):
    defaults: dict[str, str]
    sessions: list[tuple[SessionParts, dict[str, str]]]

    def session_keys(self) -> list[str]:
        """The sessions as QuickFIX spells a SessionID (``FIX.4.4:SENDER->TARGET``)."""
        return [session_key(*parts) for parts, _ in self.sessions]


def session_key(begin: str, sender: str, target: str) -> str:
    return f"{begin}:{sender}->{target}"


def _common(fix: FixConfig) -> dict[str, str]:
    return {
        "SocketNodelay": "Y",
        "NonStopSession": "Y",
        "UseDataDictionary": "Y",
        "DataDictionary": str(Path(fix.data_dictionary).resolve()),
        "CheckLatency": "N",
        "PersistMessages": "Y",
    }


def _resets(flag: str) -> dict[str, str]:
    return {"ResetOnLogon": flag, "ResetOnLogout": flag, "ResetOnDisconnect": flag}


def trader_settings_table(fix: FixConfig) -> SettingsTable:
    """The acceptor: one session per trader CompID on ``fix.trader.port``."""
    file_store = fix.trader.store == "file"
    defaults = {"ConnectionType": "acceptor", **_common(fix), "SocketAcceptPort": str(fix.trader.port),
                "SocketReuseAddress": "Y", **_resets("N" if file_store else "Y")}
    if file_store:
        if fix.store_path is None:
            raise ConfigError("fix.store_path = None, expected a directory for the trader file store")
        defaults["FileStorePath"] = str((Path(fix.store_path) / "trader").resolve())
    if fix.message_log is not None:
        defaults["FileLogPath"] = str((Path(fix.message_log) / "trader").resolve())
    if fix.trader.tls is not None:
        defaults.update(fix.trader.tls.settings())
    allowed = fix.trader.allowed_addresses
    sessions = [((BEGIN_STRING, fix.trader.sender_comp_id, trader),
                 {"AllowedRemoteAddresses": ",".join(allowed[trader])} if trader in allowed else {})
                for trader in fix.trader.sessions]
    table = SettingsTable(defaults, sessions)
    _check_distinct(table, "fix.trader.sessions")
    return table


class InitiatorGroup(NamedTuple):
    """What one QuickFIX initiator has in common for all its sessions: the store factory, and plain
    TCP or TLS with one set of SSL settings (QuickFIX reads those from the default section)."""

    store: str = "memory"
    tls: InitiatorTlsConfig | None = None


def venue_settings_table(fix: FixConfig, venues: tuple[VenueSessionConfig, ...], store: str = "memory",
                         tls: InitiatorTlsConfig | None = None) -> SettingsTable:
    """The initiator of the enabled venues whose session policy uses ``store`` and whose TLS
    settings are ``tls`` (None: plain TCP): one session each."""
    file_store = store == "file"
    defaults = {"ConnectionType": "initiator", **_common(fix), "HeartBtInt": str(fix.heartbeat_seconds),
                "ReconnectInterval": str(fix.reconnect_seconds), **_resets("N" if file_store else "Y")}
    if file_store:
        if fix.store_path is None:
            raise ConfigError("fix.store_path = None, expected a directory for the venue file stores")
        defaults["FileStorePath"] = str((Path(fix.store_path) / "venues").resolve())
    if fix.message_log is not None:
        defaults["FileLogPath"] = str((Path(fix.message_log) / "venues").resolve())
    if tls is not None:
        defaults.update(tls.settings())
    sessions = [((BEGIN_STRING, venue.sender_comp_id, venue.target_comp_id), _venue_section(venue, defaults))
                for venue in venues if venue.enabled and InitiatorGroup(venue.session.store, venue.tls) == (store, tls)]
    table = SettingsTable(defaults, sessions)
    _check_distinct(table, "venues")
    return table


def venue_settings_tables(fix: FixConfig, venues: tuple[VenueSessionConfig, ...]) -> dict[InitiatorGroup, SettingsTable]:
    """initiator group -> the initiator table of its venues (only groups some enabled venue is in)."""
    groups = dict.fromkeys(InitiatorGroup(venue.session.store, venue.tls) for venue in venues if venue.enabled)
    tables = {group: venue_settings_table(fix, venues, *group) for group in groups}
    keys = [key for table in tables.values() for key in table.session_keys()]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise ConfigError(f"venues: sessions {duplicates} appear more than once; expected distinct "
                          "(SenderCompID, TargetCompID) pairs")
    return {store: table for store, table in tables.items() if table.sessions}


def _venue_section(venue: VenueSessionConfig, defaults: dict[str, str]) -> dict[str, str]:
    """A venue's session section: where to connect, and its policy where it differs from the store's."""
    return {"SocketConnectHost": venue.host, "SocketConnectPort": str(venue.port),
            **policy_settings(venue.session, defaults)}


def policy_settings(policy: SessionRules, defaults: dict[str, str]) -> dict[str, str]:
    """A session policy as QuickFIX settings, where it differs from ``defaults`` (the engine's venue
    initiators and the sim venues' acceptor alike)."""
    section: dict[str, str] = {}
    for key, value in (("ResetOnLogon", policy.reset_on_logon), ("ResetOnLogout", policy.reset_on_logout),
                       ("ResetOnDisconnect", policy.reset_on_disconnect)):
        flag = "Y" if value else "N"
        if value is not None and defaults[key] != flag:  # None: the store's default
            section[key] = flag
    if policy.reset_time is not None:  # a 24-hour session, reset by QuickFIX at that time every day
        section.update({"NonStopSession": "N", "StartTime": policy.reset_time, "EndTime": policy.reset_time})
    return section


def check_no_overlap(trader: SettingsTable, venue: SettingsTable) -> None:
    """QuickFIX keeps one process-wide registry of sessions: a trader session and a venue session
    with the same CompIDs would collide."""
    shared = sorted(set(trader.session_keys()) & set(venue.session_keys()))
    if shared:
        raise ConfigError(f"sessions {shared} are both a trader session and a venue session; "
                          "expected distinct CompID pairs")


def _check_distinct(table: SettingsTable, where: str) -> None:
    keys = table.session_keys()
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise ConfigError(f"{where}: sessions {duplicates} appear more than once; expected distinct "
                          "(SenderCompID, TargetCompID) pairs")


def build_session_settings(table: SettingsTable):
    """``quickfix.SessionSettings`` for a table (imports quickfix)."""
    import quickfix as fix

    from engine.fix import restore_sigint

    restore_sigint()
    settings = fix.SessionSettings()
    settings.set(_dictionary(fix, table.defaults))
    for (begin, sender, target), section in table.sessions:
        settings.set(fix.SessionID(begin, sender, target), _dictionary(fix, section))
    return settings


def _dictionary(fix, values: dict[str, str]):
    dictionary = fix.Dictionary()
    for key, value in values.items():
        dictionary.setString(key, value)
    return dictionary
