"""QuickFIX session settings generated from the venue config (no hand-written .cfg file).

:func:`settings_table` is pure (plain dicts, testable without quickfix); :func:`build_session_settings`
turns it into ``quickfix.SessionSettings``. Choices made on purpose (see FIX_NOTES.md):

- DataDictionary is an absolute path: QuickFIX resolves relative ones from the working directory.
- SocketNodelay=Y: without it a report sent right after another waits for Nagle (~44 ms).
- NonStopSession=Y: a simulator has no trading hours, and StartTime/EndTime are then not needed.
- CheckLatency=N by default: a client running on a simulated clock would otherwise have every
  message rejected for SendingTime; the engine keeps its own deadlines. ``check_latency: true``
  turns it back on with ``max_latency_seconds``.
- Memory store: ResetOnLogon/Logout/Disconnect=Y, a throwaway simulator starts every connection at
  sequence 1. File store: all N, so sequence numbers and sent messages survive a restart and a
  reconnecting client can resend/recover (what recovery tests need). A venue's ``session:``
  (the same keys as the engine's venue session policy, but the store, which is the host's) changes
  its resets and gives it a daily ``reset_time``.
- The market-data session always resets its sequence numbers (ResetOnLogon/Logout/Disconnect=Y)
  and keeps no sent messages (PersistMessages=N), whatever the store: market data is never resent,
  a client that reconnects subscribes again and gets a fresh snapshot.
- TLS: the SSL acceptor reads its certificate, key, CA and protocols from the default section; the
  config guarantees no AllowedRemoteAddresses then (the SSL acceptor would ignore them).
"""

from __future__ import annotations

from engine.fix.settings import policy_settings
from sim_venues.host_config import HostConfig

BEGIN_STRING = "FIX.4.4"


def settings_table(config: HostConfig) -> tuple[dict[str, str], list[tuple[tuple[str, str, str], dict[str, str]]]]:
    """(default section, [(session id parts, session section)]) as plain strings."""
    file_store = config.store == "file"
    reset = "N" if file_store else "Y"
    defaults = {
        "ConnectionType": "acceptor",
        "SocketNodelay": "Y",
        "SocketReuseAddress": "Y",
        "NonStopSession": "Y",
        "UseDataDictionary": "Y",
        "DataDictionary": str(config.data_dictionary.resolve()),
        "CheckLatency": "Y" if config.check_latency else "N",
        "MaxLatency": str(config.max_latency_seconds),
        "ResetOnLogon": reset,
        "ResetOnLogout": reset,
        "ResetOnDisconnect": reset,
        "PersistMessages": "Y",
    }
    if config.tls is not None:
        defaults.update(config.tls.settings())
    if config.allowed_remote_addresses:
        defaults["AllowedRemoteAddresses"] = ",".join(config.allowed_remote_addresses)
    if file_store:
        defaults["FileStorePath"] = str(config.store_path.resolve())
    if config.log_fix_messages is not None:
        defaults["FileLogPath"] = str(config.log_fix_messages.resolve())
    sessions = []
    for venue in config.venues:
        session = (BEGIN_STRING, venue.sender_comp_id, venue.target_comp_id)
        sessions.append((session, {"SocketAcceptPort": str(venue.port), **policy_settings(venue.session, defaults)}))
    md = config.market_data
    if md is not None:
        sessions.append(((BEGIN_STRING, md.sender_comp_id, md.target_comp_id),
                         {"SocketAcceptPort": str(md.port), "ResetOnLogon": "Y", "ResetOnLogout": "Y",
                          "ResetOnDisconnect": "Y", "PersistMessages": "N"}))
    return defaults, sessions


def build_session_settings(config: HostConfig):
    from engine.fix.settings import SettingsTable
    from engine.fix.settings import build_session_settings as build

    defaults, sessions = settings_table(config)
    return build(SettingsTable(defaults, sessions))
