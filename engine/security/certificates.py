"""Throwaway certificate authorities and certificates, made with ``cryptography``: for the tests,
the benchmark, and ``dark-agg secrets make-certificates`` (trying config/engine.secure.yaml on one
machine). Never a production PKI: real sessions use certificates from the desk's own CA.

Nothing secret is committed to the repository: each run makes its own CAs and leaf certificates,
valid from an hour ago (clock skew between us and OpenSSL's check) for ``days`` (default 1). Keys are
RSA 2048, which every TLS stack QuickFIX may be linked with accepts, written unencrypted as PKCS#8
PEM (``BEGIN PRIVATE KEY``, what OpenSSL 3 writes by default) with mode 0600.

The extensions are the ones OpenSSL's strict verification (``X509_V_FLAG_X509_STRICT``, on by
default from Python 3.13) insists on: a critical BasicConstraints and KeyUsage on the CA, subject and
authority key identifiers on the leaves, and an ExtendedKeyUsage saying whether a leaf may serve or
only connect, so a client certificate cannot be reused as a server one.

    ca = make_ca(directory, "good")
    engine = ca.issue("engine", server=True)          # engine.pem, engine.key
    trader = ca.issue("trader", server=False)         # a client certificate
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

KEY_SIZE_BITS = 2048
ORGANISATION = "dark-aggregator (throwaway, not for production)"
DEFAULT_HOSTS = ("127.0.0.1", "localhost")
SECRET_FILE_MODE = 0o600


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE_BITS)


def _distinguished_name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _validity(days: float) -> tuple[datetime.datetime, datetime.datetime]:
    now = datetime.datetime.now(datetime.timezone.utc)
    return now - datetime.timedelta(hours=1), now + datetime.timedelta(days=days)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )


def _cert_pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _write_public(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def _write_secret(path: Path, content: bytes) -> Path:
    """Write a file holding a private key, readable by its owner only.

    The mode is given at creation (so the key is never briefly world-readable) and set again with
    fchmod, because the umask can only take bits away and an existing file keeps its old mode.
    """
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, SECRET_FILE_MODE)
    try:
        os.fchmod(descriptor, SECRET_FILE_MODE)
        os.write(descriptor, content)
    finally:
        os.close(descriptor)
    return path


def _subject_alternative_names(hosts: Iterable[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def _builder(subject: x509.Name, issuer: x509.Name, key: rsa.RSAPrivateKey, not_before, not_after, *,
             is_ca: bool) -> x509.CertificateBuilder:
    """A certificate's common part: names, key, validity, and the critical BasicConstraints and
    KeyUsage of a CA (signs certificates and CRLs) or of a leaf (signs and enciphers for TLS)."""
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=0 if is_ca else None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not is_ca, key_encipherment=not is_ca, content_commitment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=is_ca,
                crl_sign=is_ca, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
    )


@dataclass(frozen=True)
class IssuedCert:
    """A leaf certificate and its key on disk; ``ca_path`` is the CA that signed it."""

    name: str
    cert_path: Path
    key_path: Path
    combined_path: Path  # certificate then key in one PEM file, for settings that take one file
    ca_path: Path
    certificate: x509.Certificate


@dataclass(frozen=True)
class CertificateAuthority:
    """A self-signed CA that issues leaves into the directory it lives in."""

    name: str
    directory: Path
    cert_path: Path
    key_path: Path
    certificate: x509.Certificate
    private_key: rsa.RSAPrivateKey
    days: float = 1.0
    """how long the leaves it issues are valid"""

    def issue(self, name: str, *, server: bool, hosts: Iterable[str] = DEFAULT_HOSTS) -> IssuedCert:
        """Sign a leaf named ``name``: a server certificate (serverAuth) or a client one (clientAuth).

        The hosts go into the SubjectAlternativeName (IPs as IP entries, the rest as DNS names):
        hostname checking reads only the SAN, never the common name. A client certificate gets
        them too; it does no harm and lets a peer log who connected. Pass ``hosts=()`` for none.
        """
        key = _new_key()
        not_before, not_after = _validity(self.days)
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            _builder(_distinguished_name(name), self.certificate.subject, key, not_before, not_after, is_ca=False)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.private_key.public_key()),
                critical=False,
            )
        )
        alternative_names = _subject_alternative_names(hosts)
        if alternative_names:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(alternative_names), critical=False
            )
        certificate = builder.sign(self.private_key, hashes.SHA256())
        cert_pem, key_pem = _cert_pem(certificate), _key_pem(key)
        return IssuedCert(
            name=name,
            cert_path=_write_public(self.directory / f"{name}.pem", cert_pem),
            key_path=_write_secret(self.directory / f"{name}.key", key_pem),
            combined_path=_write_secret(self.directory / f"{name}-combined.pem", cert_pem + key_pem),
            ca_path=self.cert_path,
            certificate=certificate,
        )


def make_ca(directory: Path, name: str, *, file_stem: str | None = None, days: float = 1.0) -> CertificateAuthority:
    """Make a self-signed CA ``<file_stem>.pem`` / ``<file_stem>.key`` in ``directory`` (default stem
    ``<name>-ca``), valid for ``days``, as are the leaves it issues.

    path_length=0: it signs leaves only, so a leaf it issues can never act as a CA itself.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stem = file_stem or f"{name}-ca"
    key = _new_key()
    subject = _distinguished_name(f"{name} test CA")
    not_before, not_after = _validity(days)
    certificate = (
        _builder(subject, subject, key, not_before, not_after, is_ca=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertificateAuthority(
        name=name,
        directory=directory,
        cert_path=_write_public(directory / f"{stem}.pem", _cert_pem(certificate)),
        key_path=_write_secret(directory / f"{stem}.key", _key_pem(key)),
        certificate=certificate,
        private_key=key,
        days=days,
    )




# What config/engine.secure.yaml and config/sim_venues.secure.yaml name: (file stem, serves?).
TRIAL_LEAVES = (("engine", True), ("engine-client", False), ("venue", True), ("trader", False))


def write_trial_certificates(directory: Path, *, days: float = 30.0) -> dict[str, Path]:
    """A CA (``ca.pem``) and the engine's, the venues' and a trader's certificates in ``directory``,
    named as the secure configs expect; {file name: path} of what was written."""
    ca = make_ca(directory, "dark-aggregator trial", file_stem="ca", days=days)
    written = {ca.cert_path.name: ca.cert_path, ca.key_path.name: ca.key_path}
    for stem, server in TRIAL_LEAVES:
        leaf = ca.issue(stem, server=server)
        leaf.combined_path.unlink()  # only the tests' tools want the combined file
        written.update({leaf.cert_path.name: leaf.cert_path, leaf.key_path.name: leaf.key_path})
    return written
