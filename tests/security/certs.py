"""The session-security tests' certificates: a good CA that signs the engine's, the venues' and the
trader's certificates, and a rogue CA whose client certificate must be refused (made at test time by
:mod:`engine.security.certificates`, nothing secret committed).

    material = tls_material(tmp_path)
    server_context.load_cert_chain(material.engine.cert_path, material.engine.key_path)
    server_context.load_verify_locations(material.good.cert_path)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.security.certificates import CertificateAuthority, IssuedCert, make_ca

__all__ = ["CertificateAuthority", "IssuedCert", "TlsMaterial", "make_ca", "tls_material"]


@dataclass(frozen=True)
class TlsMaterial:
    """Everything a session-security test needs, in one directory.

    ``good`` signs the engine's and the venues' server certificates and the trader's client
    certificate; ``engine_client`` is the engine's own client certificate for venue sessions that
    ask for one (a serverAuth-only certificate is refused as a client by OpenSSL's purpose check).
    ``rogue`` is an unrelated CA whose ``intruder`` client certificate must be refused.
    """

    directory: Path
    good: CertificateAuthority
    engine: IssuedCert
    engine_client: IssuedCert
    venue: IssuedCert
    trader: IssuedCert
    rogue: CertificateAuthority
    intruder: IssuedCert


def tls_material(directory: Path) -> TlsMaterial:
    """Make the good and rogue CAs and their certificates in ``directory`` (about a second)."""
    directory = Path(directory)
    good = make_ca(directory, "good")
    rogue = make_ca(directory, "rogue")
    return TlsMaterial(
        directory=directory,
        good=good,
        engine=good.issue("engine", server=True),
        engine_client=good.issue("engine-client", server=False),
        venue=good.issue("venue", server=True),
        trader=good.issue("trader", server=False),
        rogue=rogue,
        intruder=rogue.issue("intruder", server=False),
    )
