"""Who may log on: FIX session credentials kept outside the repository's config.

Traders log on with Username (553) and Password (554), checked against salted scrypt hashes; venues
that want credentials get ours on our Logon. Both come from one owner-only secrets file that the
engine config names (``fix.secrets_file``) and from ``DARKAGG_TRADER_*`` / ``DARKAGG_VENUE_*``
environment variables. Only the standard library and yaml: the FIX edge and the commands use it,
it uses nothing of theirs.
"""

from __future__ import annotations

from engine.security.secrets import (
    REFUSED_LOGON_TEXT,
    SecretsError,
    SecretStore,
    TraderCredential,
    VenueCredential,
    hash_password,
    verify_password,
    write_trader,
    write_venue,
)

__all__ = [
    "REFUSED_LOGON_TEXT",
    "SecretStore",
    "SecretsError",
    "TraderCredential",
    "VenueCredential",
    "hash_password",
    "verify_password",
    "write_trader",
    "write_venue",
]
