"""FIX logon secrets: traders' hashed passwords and the credentials we send to venues.

They live outside the repository's config, in one YAML file only its owner may read (the engine
config names it) and in ``DARKAGG_TRADER_<COMPID>`` / ``DARKAGG_VENUE_<NAME>`` environment
variables. A trader's password is kept only as a salted scrypt hash: a stolen file must not log
anyone on. A venue's password is kept as it is, because we must send it on our Logon.

Nothing here ever puts a secret into a message, a ``repr`` or an exception: files get leaked into
logs and tickets far more often than they get stolen.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_DKLEN, SALT_BYTES = 2**14, 8, 1, 32, 16
# An attacker who can edit the file must not be able to weaken a hash (downgrade) or make each
# logon cost gigabytes (upgrade): both ends are bounded.
_MAX_N, _MAX_R, _MAX_P = 2**20, 32, 16
MIN_PASSWORD_CHARS = 12
TRADER_PREFIX, VENUE_PREFIX = "DARKAGG_TRADER_", "DARKAGG_VENUE_"
HEADER = "# written by `dark-agg secrets`; never commit this file (keep it mode 0600)\n"
# Header fields and the tags `username`/`password` fill: a logon_tags entry must not set them.
_RESERVED_TAGS = {8: "BeginString", 9: "BodyLength", 10: "CheckSum", 34: "MsgSeqNum", 35: "MsgType",
                  49: "SenderCompID", 52: "SendingTime", 56: "TargetCompID", 553: "Username", 554: "Password"}


# All a refused counterparty hears, whatever was wrong (QuickFIX's Logout says "Rejected Logon
# Attempt: " before it): the engine's trader port, the sim venues and `dark-agg order` share it.
REFUSED_LOGON_TEXT = "logon refused"


class SecretsError(Exception):
    """A secrets file or variable is missing, unsafe or malformed: the message says which and how to
    fix it, and never contains a secret."""


@dataclass(frozen=True)
class TraderCredential:
    comp_id: str
    username: str
    password_hash: str = field(repr=False)


@dataclass(frozen=True)
class VenueCredential:
    venue: str
    username: str | None
    password: str | None = field(repr=False)
    logon_tags: dict[int, str] = field(default_factory=dict, repr=False)  # RawData (96) is often a secret


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$<salt>$<hash>`` (standard base64) with a fresh random salt."""
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_DKLEN)
    return "$".join(["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P),
                     base64.b64encode(salt).decode(), base64.b64encode(digest).decode()])


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` hashes to ``encoded``; SecretsError if ``encoded`` is malformed or weak."""
    n, r, p, salt, expected = _parse_hash(encoded)
    return hmac.compare_digest(_scrypt(password, salt, n, r, p, len(expected)), expected)


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    # hashlib.scrypt's default maxmem (32 MiB) refuses n=2**15, r=8: allow what the bounds allow
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=dklen,
                          maxmem=130 * r * (n + p) + 2**20)


def _parse_hash(encoded: Any) -> tuple[int, int, int, bytes, bytes]:
    parts = encoded.split("$") if isinstance(encoded, str) else []
    if len(parts) != 6 or parts[0] != "scrypt" or not all(part.isdigit() for part in parts[1:4]):
        raise SecretsError("not a password hash of the form scrypt$N$r$p$<salt>$<hash>; "
                           "write it with `dark-agg secrets add-trader`")
    n, r, p = (int(part) for part in parts[1:4])
    if not (SCRYPT_N <= n <= _MAX_N and n & (n - 1) == 0 and SCRYPT_R <= r <= _MAX_R and SCRYPT_P <= p <= _MAX_P):
        raise SecretsError(f"password hash parameters N={n} r={r} p={p} are refused (need N a power of two in "
                           f"{SCRYPT_N}..{_MAX_N}, r in {SCRYPT_R}..{_MAX_R}, p in {SCRYPT_P}..{_MAX_P}); "
                           "set the password again with `dark-agg secrets add-trader`")
    try:
        salt, digest = (base64.b64decode(part, validate=True) for part in parts[4:6])
    except (binascii.Error, ValueError):
        raise SecretsError("password hash salt or digest is not base64; "
                           "set the password again with `dark-agg secrets add-trader`") from None
    if len(salt) < SALT_BYTES or len(digest) != SCRYPT_DKLEN:
        raise SecretsError(f"password hash needs a salt of >= {SALT_BYTES} bytes and a {SCRYPT_DKLEN}-byte digest; "
                           "set the password again with `dark-agg secrets add-trader`")
    return n, r, p, salt, digest


# Compared against when there is no entry or the username is wrong, so every refusal costs one
# scrypt like a success does and timing tells nothing; no password hashes to this digest.
_DUMMY_HASH = "$".join(["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P),
                        base64.b64encode(b"dark-agg-dummy!!").decode(), base64.b64encode(bytes(32)).decode()])


class SecretStore:
    """The traders' and venues' credentials of one engine, read once at start."""

    def __init__(self, traders: Mapping[str, TraderCredential] | None = None,
                 venues: Mapping[str, VenueCredential] | None = None, source: str = "environment") -> None:
        self._traders = dict(traders or {})
        self._venues = dict(venues or {})
        self.source = source

    @classmethod
    def load(cls, path: Path | None, environ: Mapping[str, str] = os.environ) -> SecretStore:
        """The file at ``path`` (None: no file), then the environment's entries over it."""
        traders: dict[str, TraderCredential] = {}
        venues: dict[str, VenueCredential] = {}
        if path is not None:
            try:
                document = _read_secrets_file(Path(path))
            except FileNotFoundError:
                raise SecretsError(f"{path}: no such secrets file; create it with "
                                   f"`dark-agg secrets add-trader COMPID --secrets-file {path}`") from None
            traders, venues = _parse_document(document, str(path))
        for name in sorted(environ):
            if name.startswith(TRADER_PREFIX):
                comp_id, username, password_hash = _env_entry(name, environ[name], TRADER_PREFIX)
                try:
                    _parse_hash(password_hash)
                except SecretsError as error:
                    raise SecretsError(f"environment variable {name}: {error}") from None
                traders[comp_id] = TraderCredential(comp_id, username, password_hash)
            elif name.startswith(VENUE_PREFIX):
                venue, username, password = _env_entry(name, environ[name], VENUE_PREFIX)
                tags = venues[venue].logon_tags if venue in venues else {}  # the file's extra tags stay
                venues[venue] = VenueCredential(venue, username, password, tags)
        source = f"{path} and environment" if path is not None else "environment"
        return cls(traders, venues, source)

    def verify_trader(self, comp_id: str, username: str | None, password: str | None) -> bool:
        """Whether this logon's Username (553) and Password (554) are this CompID's.

        Exactly one scrypt runs whatever is wrong, and the checks are combined with ``&``, not
        ``and``, so the time taken does not tell an unknown CompID from a wrong username or password.
        """
        entry = self._traders.get(comp_id)
        expected_username = entry.username if entry is not None else ""
        username_ok = hmac.compare_digest((username or "").encode("utf-8"), expected_username.encode("utf-8"))
        target = entry.password_hash if entry is not None and username_ok else _DUMMY_HASH
        password_ok = verify_password(password or "", target)
        return bool((entry is not None) & (username is not None) & (password is not None)
                    & username_ok & password_ok)

    def has_trader(self, comp_id: str) -> bool:
        return comp_id in self._traders

    def trader_ids(self) -> frozenset[str]:
        return frozenset(self._traders)

    def venue(self, name: str) -> VenueCredential | None:
        return self._venues.get(name)

    def venue_names(self) -> frozenset[str]:
        return frozenset(self._venues)

    def __repr__(self) -> str:
        return (f"SecretStore(source={self.source!r}, traders={sorted(self._traders)}, "
                f"venues={sorted(self._venues)})")


def write_trader(path: Path, comp_id: str, username: str, password: str) -> bool:
    """Add or replace ``comp_id``'s entry in the file at ``path``, keeping every other entry; the file
    is created 0600 if missing and replaced atomically. True when an entry was replaced."""
    _check_id(comp_id, "CompID")
    _check_username(username)
    if len(password) < MIN_PASSWORD_CHARS:
        raise SecretsError(f"the password must have at least {MIN_PASSWORD_CHARS} characters")
    return _write_entry(path, "traders", comp_id, lambda old: {"username": username,
                                                                "password_hash": hash_password(password)})


def write_venue(path: Path, venue: str, username: str, password: str) -> bool:
    """Add or replace the Username/Password we send venue ``venue`` (kept as given: we must send it),
    keeping the entry's extra logon_tags and every other entry. True when an entry was replaced."""
    _check_id(venue, "venue name")
    _check_username(username)
    if not password:
        raise SecretsError("the venue's password must not be empty")
    return _write_entry(path, "venues", venue, lambda old: {**(old or {}), "username": username,
                                                             "password": password})


def _check_username(username: str) -> None:
    if not username or any(char.isspace() or not char.isprintable() for char in username):
        raise SecretsError("the username must be non-empty, with no spaces or control characters")


def _write_entry(path: Path, section: str, key: str, entry) -> bool:
    """Replace ``section[key]`` with ``entry(old entry or None)`` in the file, atomically, 0600."""
    path = Path(os.path.realpath(path))  # a symlinked secrets file stays a symlink: its target is replaced
    try:
        document = _read_secrets_file(path) or {}
    except FileNotFoundError:
        document = {}
    _parse_document(document, str(path))  # never rewrite a file we could not load
    document = {name: dict(document.get(name) or {}) for name in ("traders", "venues")}
    replaced = key in document[section]
    document[section][key] = entry(document[section].get(key))
    document = {name: entries for name, entries in document.items() if entries}
    _write_atomically(path, HEADER + yaml.safe_dump(document, sort_keys=False, default_flow_style=False))
    return replaced


def _read_secrets_file(path: Path) -> Any:
    """The parsed YAML of a safe file; FileNotFoundError when there is none (load refuses, write creates)."""
    try:
        # O_NONBLOCK: a FIFO put at the path must not hang us; fstat on the open file checks what we read
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except PermissionError:
        raise SecretsError(f"{path}: cannot be read by this user; run as the engine's user") from None
    try:
        _check_mode(path, os.fstat(descriptor))
        with os.fdopen(descriptor, "rb", closefd=False) as file:
            raw = file.read()
    finally:
        os.close(descriptor)
    try:
        return yaml.safe_load(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise SecretsError(f"{path}: not UTF-8 text; it should be the YAML `dark-agg secrets` writes") from None
    except yaml.YAMLError as error:
        # the problem and its position only: yaml's own message quotes the line, which may hold a secret
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise SecretsError(f"{path}: not valid YAML{where} ({getattr(error, 'problem', None) or 'syntax error'}); "
                           "fix it or write it again with `dark-agg secrets add-trader`") from None


def _check_mode(path: Path, status: os.stat_result) -> None:
    if not stat.S_ISREG(status.st_mode):
        raise SecretsError(f"{path}: not a regular file; point the secrets file setting at a file")
    mode = stat.S_IMODE(status.st_mode)
    if mode & 0o077:
        what = "readable by others" if mode & 0o044 else "writable or executable by group or others"
        raise SecretsError(f"{path} is {what} (mode {mode:04o}): chmod 600 {path}")


def _parse_document(document: Any, where: str) -> tuple[dict[str, TraderCredential], dict[str, VenueCredential]]:
    """Every entry checked: unknown keys and wrong types are errors naming the entry and the key."""
    document = {} if document is None else document
    _expect_keys(document, {"traders", "venues"}, set(), f"{where}: top level")
    traders, venues = {}, {}
    for comp_id, entry in _mapping(document.get("traders"), f"{where}: traders").items():
        place = f"{where}: traders.{comp_id}"
        _check_id(comp_id, f"{where}: traders entry")
        _expect_keys(entry, {"username", "password_hash"}, {"username", "password_hash"}, place)
        username, password_hash = (_string(entry[key], f"{place}.{key}") for key in ("username", "password_hash"))
        try:
            _parse_hash(password_hash)
        except SecretsError as error:
            raise SecretsError(f"{place}.password_hash: {error}") from None
        traders[comp_id] = TraderCredential(comp_id, username, password_hash)
    for venue, entry in _mapping(document.get("venues"), f"{where}: venues").items():
        place = f"{where}: venues.{venue}"
        _check_id(venue, f"{where}: venues entry")
        _expect_keys(entry, {"username", "password", "logon_tags"}, set(), place)
        username, password = (None if entry.get(key) is None else _string(entry[key], f"{place}.{key}")
                              for key in ("username", "password"))
        venues[venue] = VenueCredential(venue, username, password, _logon_tags(entry.get("logon_tags"), place))
    return traders, venues


def _logon_tags(value: Any, place: str) -> dict[int, str]:
    tags: dict[int, str] = {}
    for tag, text in _mapping(value, f"{place}.logon_tags", keys=int).items():
        if isinstance(tag, bool) or tag <= 0 or tag in _RESERVED_TAGS:
            reason = f"is {_RESERVED_TAGS[tag]}" if tag in _RESERVED_TAGS else "is not a tag number"
            raise SecretsError(f"{place}.logon_tags: tag {tag} {reason}; use username/password for 553/554 "
                               "and leave header fields to the FIX engine")
        if isinstance(text, bool) or not isinstance(text, (str, int)):
            raise SecretsError(f"{place}.logon_tags.{tag} must be a string or a whole number "
                               f"(got {type(text).__name__})")
        tags[tag] = str(text)
    return tags


def _mapping(value: Any, place: str, keys: type = str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise SecretsError(f"{place} must be a mapping (got {type(value).__name__})")
    for key in value:
        if not isinstance(key, keys) or isinstance(key, bool):
            raise SecretsError(f"{place}: key {key!r} must be a {'whole number' if keys is int else 'string'}")
    return value


def _expect_keys(entry: Any, allowed: set[str], required: set[str], place: str) -> None:
    _mapping(entry, place)
    if unknown := sorted(set(entry) - allowed):
        raise SecretsError(f"{place}: unknown key {unknown[0]!r}; expected one of {sorted(allowed)}")
    if missing := sorted(required - set(entry)):
        raise SecretsError(f"{place}: missing key {missing[0]!r}")


def _string(value: Any, place: str) -> str:
    if not isinstance(value, str) or not value:  # the type only: the value may be a secret
        raise SecretsError(f"{place} must be a non-empty string (got {type(value).__name__}; "
                           "quote a value that looks like a number)")
    return value


def _check_id(identifier: Any, what: str) -> None:
    if not isinstance(identifier, str) or not identifier or any(c.isspace() or c == "|" for c in identifier):
        raise SecretsError(f"{what} {identifier!r}: must be non-empty, with no whitespace or '|'")


def _env_entry(name: str, value: str, prefix: str) -> tuple[str, str, str]:
    """``(id, username, secret)`` of a variable; its value is never quoted in an error."""
    identifier = name[len(prefix):]
    _check_id(identifier or "", f"environment variable {name}: the name after {prefix}")
    username, colon, secret = value.partition(":")
    if not colon or not username or not secret:
        raise SecretsError(f"environment variable {name}: expected USERNAME:SECRET (a non-empty username, "
                           "a colon, then the secret); fix or unset it")
    return identifier, username, secret


def _write_atomically(path: Path, text: str) -> None:
    """Write a 0600 temp file beside ``path``, fsync it, rename it over ``path``: a reader sees the
    old file or the new one, never half of one, and the secret is never readable by others."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            os.fchmod(file.fileno(), 0o600)  # whatever the umask
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a crash
    finally:
        os.close(directory)
