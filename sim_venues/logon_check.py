"""Whether a client's Logon may open a venue session: the fault that refuses every logon, and the
Username (553) / Password (554) check of venues with ``require_credentials``.

The credentials are the client's as a real venue would hold them: one salted scrypt hash per client
CompID (the engine's SenderCompID, our ``target_comp_id``) in the host's ``secrets_file`` or a
``DARKAGG_TRADER_<COMPID>`` variable, read once when the host starts (``engine.security``, the same
store and checks the engine uses for its traders). A refusal never says what was wrong, and neither
the username nor the password is ever logged or put in the ground-truth log.

The scrypt check (about 50 ms) runs on the QuickFIX thread: with the single-threaded acceptor every
other venue waits that long per logon, which a simulator can afford and which only logons pay.
"""

from __future__ import annotations

from typing import Mapping

from engine.fix.translate import fields_of
from engine.security.secrets import REFUSED_LOGON_TEXT, SecretsError, SecretStore
from sim_venues.host_config import HostConfig

LOGON_REFUSED = REFUSED_LOGON_TEXT  # the engine's own refusal text: nothing a guesser can learn from
FAULT_REFUSED = "logon refused (fault injection)"


class VenueSecurityError(Exception):
    """The host cannot check the credentials its config asks for (a missing, unsafe or incomplete
    secrets store); raised before any port is bound, naming what to fix and never a secret."""


def load_client_secrets(config: HostConfig, environ: Mapping[str, str]) -> SecretStore | None:
    """The store of the clients' credentials when a venue requires them (else None), with an entry
    for every client CompID that must log on with credentials."""
    if not config.credentials_required:
        return None
    try:
        store = SecretStore.load(config.secrets_file, environ)
    except SecretsError as error:
        raise VenueSecurityError(f"secrets_file: {error}") from None
    # (name, client CompID) of every session that checks credentials, the market-data one included
    required = [(venue.name, venue.target_comp_id) for venue in config.venues if venue.require_credentials]
    if config.market_data is not None and config.market_data.require_credentials:
        required.append(("market_data", config.market_data.target_comp_id))
    missing = sorted({client for _, client in required if not store.has_trader(client)})
    if missing:
        venues = ", ".join(name for name, client in required if client in missing)
        file = config.secrets_file or "PATH"
        raise VenueSecurityError(
            f"venues {venues} require credentials, but {store.source} holds none for client CompID(s) "
            f"{', '.join(missing)}: add them with `dark-agg secrets add-trader {missing[0]} --secrets-file {file}`"
            f" (secrets_file in the venue config) or set DARKAGG_TRADER_{missing[0]}=username:<scrypt hash>")
    return store


class LogonCheck:
    """Decides one Logon: None to accept it, else the text of the refusal (QuickFIX's Logout)."""

    def __init__(self) -> None:
        self._store: SecretStore | None = None

    def use_secrets(self, store: SecretStore | None) -> None:
        self._store = store

    def refusal(self, refuse_by_fault: bool, require_credentials: bool, client_comp_id: str,
                logon_text: str) -> str | None:
        if refuse_by_fault:
            return FAULT_REFUSED
        if not require_credentials:
            return None
        if self._store is None:  # the host did not load its secrets: nobody can be checked, so nobody passes
            return LOGON_REFUSED
        fields = fields_of(logon_text)  # holds the password: never logged, never kept
        if not self._store.verify_trader(client_comp_id, fields.get("553"), fields.get("554")):
            return LOGON_REFUSED
        return None
