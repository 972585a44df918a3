"""Session security in the config files: logon credentials, address allowlists, lockout and TLS.

    fix:
      secrets_file: /etc/dark-agg/secrets.yaml     # hashed trader passwords, venue credentials (0600)
      trader:
        credentials: true                          # every trader logs on with 553/554
        allowed_addresses: {DESK1: [10.1.2.3]}     # per session (the plain-TCP acceptor enforces it)
        lockout: {failures: 5, window_seconds: 60, seconds: 300}
        tls: {certificate: engine.pem, key: engine.key, ca: clients-ca.pem}
    venues:
      - {name: V1, ..., credentials: true, tls: {ca: venues-ca.pem}}

Secrets never live here: the file names where they are (``engine.security``). What QuickFIX 1.16
cannot do is refused here rather than silently not done: its SSL acceptor ignores
AllowedRemoteAddresses, so an allowlist on a TLS trader port is a config error (leave addresses to
the firewall there). Paths are resolved against the config file's directory.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

from pydantic import AfterValidator, model_validator

from engine.config.fields import Count, FilePath, Flag, Positive, Text, config_dataclass, expected, problems

# OpenSSL's protocol string as QuickFIX's SSLProtocol setting takes it: TLS 1.2 and 1.3 only.
TLS_PROTOCOLS = "-all +TLSv1_2 +TLSv1_3"


def _ip_address(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise expected("an IP address such as 127.0.0.1 (QuickFIX compares the peer's address as text)") from None


IpAddress = Annotated[Text, AfterValidator(_ip_address)]


@config_dataclass
class LockoutConfig:
    """Refused logons of one CompID from one address: this many within the window lock both out."""

    failures: Count = 5
    window_seconds: Positive = 60.0
    seconds: Positive = 300.0
    """how long a locked CompID and address are refused, whatever they send"""


@config_dataclass
class AcceptorTlsConfig:
    """TLS on an acceptor (the engine's trader port, the sim venues): TLS 1.2 and 1.3 only."""

    certificate: FilePath
    """our server certificate (PEM)"""
    key: FilePath
    """its private key (PEM)"""
    ca: FilePath
    """the CA certificates a client certificate must chain to (PEM)"""
    require_client_certificate: Flag = True
    """refuse a client without a certificate from ``ca`` (mutual TLS)"""

    @model_validator(mode="after")
    def _files_exist(self) -> "AcceptorTlsConfig":
        problems(_missing_files(self, ("certificate", "key", "ca")))
        return self

    def settings(self) -> dict[str, str]:
        """The QuickFIX settings of an SSLSocketAcceptor (CertificateVerifyLevel 1: the client must
        present a certificate, 2: it may, and one it presents is checked)."""
        return {"ServerCertificateFile": str(self.certificate), "ServerCertificateKeyFile": str(self.key),
                "CertificationAuthoritiesFile": str(self.ca), "SSLProtocol": TLS_PROTOCOLS,
                "CertificateVerifyLevel": "1" if self.require_client_certificate else "2"}


@config_dataclass
class InitiatorTlsConfig:
    """TLS towards a venue (or the engine, for `dark-agg order`): the server's certificate must chain
    to ``ca``; ``certificate`` and ``key`` are ours, for servers that ask for one."""

    ca: FilePath
    certificate: FilePath | None = None
    key: FilePath | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "InitiatorTlsConfig":
        found = _missing_files(self, ("ca", "certificate", "key"))
        if (self.certificate is None) != (self.key is None):
            found.append((("key",), self.key, "a key exactly when a certificate is given"))
        problems(found)
        return self

    def settings(self) -> dict[str, str]:
        """The QuickFIX settings of an SSLSocketInitiator."""
        values = {"CertificationAuthoritiesFile": str(self.ca), "SSLProtocol": TLS_PROTOCOLS,
                  "CertificateVerifyLevel": "1"}
        if self.certificate is not None:
            values.update({"ClientCertificateFile": str(self.certificate),
                           "ClientCertificateKeyFile": str(self.key)})
        return values

    @property
    def key_tuple(self) -> tuple[str, ...]:
        """Identifies the settings (one QuickFIX initiator serves every venue with the same ones)."""
        return tuple(self.settings().items())


def _missing_files(section, keys: tuple[str, ...]) -> list:
    return [((key,), str(getattr(section, key)), "an existing file")
            for key in keys if getattr(section, key) is not None and not getattr(section, key).is_file()]
