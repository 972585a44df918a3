"""The secrets store: scrypt hashes that cannot be downgraded, an owner-only file, environment
overrides, logon checks that cost one scrypt whatever is wrong, and no secret in any repr."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path

import pytest
import yaml

from engine.security import (SecretsError, SecretStore, TraderCredential, hash_password, verify_password,
                             write_trader, write_venue)
from engine.security import secrets as secrets_module

PASSWORD = "correct horse battery"
VENUE_PASSWORD = "venue-s3cret-value"


@pytest.fixture(scope="module")
def password_hash() -> str:
    return hash_password(PASSWORD)  # one scrypt for the whole module


def write_file(path: Path, document: object, mode: int = 0o600) -> Path:
    path.write_text(document if isinstance(document, str) else yaml.safe_dump(document))
    os.chmod(path, mode)
    return path


@pytest.fixture
def secrets_file(tmp_path: Path, password_hash: str) -> Path:
    return write_file(tmp_path / "secrets.yaml", {
        "traders": {"TRADER1": {"username": "trader1", "password_hash": password_hash}},
        "venues": {"V1": {"username": "ourfirm", "password": VENUE_PASSWORD, "logon_tags": {1408: "FIX.5.0SP2"}}},
    })


@pytest.fixture
def store(secrets_file: Path) -> SecretStore:
    return SecretStore.load(secrets_file, environ={})


# hashing

def test_a_password_verifies_against_its_hash_and_a_wrong_one_does_not(password_hash):
    assert password_hash.startswith("scrypt$16384$8$1$")
    assert verify_password(PASSWORD, password_hash)
    assert not verify_password(PASSWORD + "!", password_hash)


def test_two_hashes_of_one_password_differ_by_their_salt(password_hash):
    assert hash_password(PASSWORD) != password_hash


def test_a_downgraded_hash_is_refused_rather_than_checked(password_hash):
    downgraded = password_hash.replace("scrypt$16384$", "scrypt$1024$", 1)
    with pytest.raises(SecretsError, match="refused"):
        verify_password(PASSWORD, downgraded)
    with pytest.raises(SecretsError):
        verify_password(PASSWORD, password_hash.replace("$8$1$", "$1$1$", 1))  # weaker r


@pytest.mark.parametrize("tampered", [
    "scrypt$16384$8$1$not base64!$AAAA",
    "bcrypt$16384$8$1$AAAA$AAAA",
    "scrypt$16384$8$AAAA$AAAA",
    "scrypt$16385$8$1$" + base64.b64encode(bytes(16)).decode() + "$" + base64.b64encode(bytes(32)).decode(),
    "scrypt$16384$8$1$" + base64.b64encode(bytes(4)).decode() + "$" + base64.b64encode(bytes(32)).decode(),
    "",
])
def test_a_malformed_hash_is_refused(tampered):
    with pytest.raises(SecretsError):
        verify_password(PASSWORD, tampered)


# loading

def test_an_owner_only_file_loads_traders_and_venues(store):
    assert store.trader_ids() == frozenset({"TRADER1"})
    assert store.has_trader("TRADER1") and not store.has_trader("TRADER2")
    venue = store.venue("V1")
    assert (venue.username, venue.password, venue.logon_tags) == ("ourfirm", VENUE_PASSWORD, {1408: "FIX.5.0SP2"})
    assert store.venue("V2") is None


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o601])
def test_a_file_the_group_or_others_can_access_is_refused_with_the_fix(secrets_file, mode):
    os.chmod(secrets_file, mode)
    with pytest.raises(SecretsError, match="chmod 600") as error:
        SecretStore.load(secrets_file, environ={})
    assert str(secrets_file) in str(error.value)


def test_a_missing_file_is_refused_with_how_to_create_it(tmp_path):
    with pytest.raises(SecretsError, match="no such secrets file.*add-trader"):
        SecretStore.load(tmp_path / "absent.yaml", environ={})


def test_a_directory_is_refused(tmp_path):
    (tmp_path / "dir").mkdir(mode=0o700)
    with pytest.raises(SecretsError, match="not a regular file"):
        SecretStore.load(tmp_path / "dir", environ={})


def test_bad_yaml_is_refused_without_quoting_the_file(tmp_path):
    path = write_file(tmp_path / "s.yaml", "traders:\n  T1: {username: u, password_hash: 'hunter2hunter2\n")
    with pytest.raises(SecretsError, match="not valid YAML") as error:
        SecretStore.load(path, environ={})
    assert "hunter2" not in str(error.value)


@pytest.mark.parametrize("document, named", [
    ({"traders": {"T1": {"username": "u", "password": "x"}}}, "traders.T1: unknown key 'password'"),
    ({"traders": {}, "users": {}}, "top level: unknown key 'users'"),
    ({"venues": {"V1": {"user": "u"}}}, "venues.V1: unknown key 'user'"),
    ({"traders": {"T1": {"username": "u"}}}, "traders.T1: missing key 'password_hash'"),
    ({"traders": {"T1": {"username": 7, "password_hash": "x"}}}, "traders.T1.username must be a non-empty string"),
    ({"venues": {"V1": {"password": 1234567}}}, "venues.V1.password must be a non-empty string (got int; quote"),
    ({"venues": {"V1": {"logon_tags": {554: "x"}}}}, "tag 554 is Password"),
    ({"venues": {"V1": {"logon_tags": {"abc": "x"}}}}, "logon_tags: key 'abc' must be a whole number"),
    ({"traders": ["T1"]}, "traders must be a mapping"),
])
def test_unknown_keys_and_wrong_types_name_the_entry_and_key(tmp_path, password_hash, document, named):
    for entry in document.get("traders", {}).values() if isinstance(document.get("traders"), dict) else ():
        if entry.get("password_hash") == "x":
            entry["password_hash"] = password_hash
    with pytest.raises(SecretsError) as error:
        SecretStore.load(write_file(tmp_path / "s.yaml", document), environ={})
    assert named in str(error.value)
    assert "1234567" not in str(error.value) and password_hash not in str(error.value)


def test_a_tampered_hash_in_the_file_is_refused_at_load(tmp_path, password_hash):
    path = write_file(tmp_path / "s.yaml", {"traders": {"T1": {
        "username": "u", "password_hash": password_hash.replace("$16384$", "$1024$")}}})
    with pytest.raises(SecretsError, match="traders.T1.password_hash"):
        SecretStore.load(path, environ={})


def test_environment_variables_override_and_add_entries(secrets_file, password_hash):
    environ = {"DARKAGG_TRADER_TRADER1": f"other:{password_hash}", "DARKAGG_TRADER_TRADER2": f"t2:{password_hash}",
               "DARKAGG_VENUE_V1": "envfirm:pa:ss", "DARKAGG_VENUE_V9": "v9user:v9pass", "HOME": "/root"}
    store = SecretStore.load(secrets_file, environ=environ)
    assert store.trader_ids() == frozenset({"TRADER1", "TRADER2"})
    assert store.verify_trader("TRADER1", "other", PASSWORD)
    v1 = store.venue("V1")
    assert (v1.username, v1.password, v1.logon_tags) == ("envfirm", "pa:ss", {1408: "FIX.5.0SP2"})  # first colon
    assert store.venue("V9").password == "v9pass"
    assert SecretStore.load(None, environ=environ).trader_ids() == frozenset({"TRADER1", "TRADER2"})


@pytest.mark.parametrize("name, value", [
    ("DARKAGG_VENUE_V1", "no-colon-secret-value"),
    ("DARKAGG_VENUE_V1", ":only-a-secret-value"),
    ("DARKAGG_TRADER_T1", "user:not-a-hash-secret-value"),
])
def test_a_malformed_variable_is_named_and_its_value_never_shown(name, value):
    with pytest.raises(SecretsError) as error:
        SecretStore.load(None, environ={name: value})
    assert name in str(error.value)
    assert "secret-value" not in str(error.value)


# verifying a logon

def test_the_right_username_and_password_log_on(store):
    assert store.verify_trader("TRADER1", "trader1", PASSWORD) is True


@pytest.mark.parametrize("comp_id, username, password", [
    ("TRADER1", "trader1", "wrong password!"),
    ("TRADER1", "trader2", PASSWORD),
    ("NOBODY", "trader1", PASSWORD),
    ("TRADER1", None, PASSWORD),
    ("TRADER1", "trader1", None),
])
def test_anything_wrong_refuses_the_logon_after_exactly_one_scrypt(store, monkeypatch, comp_id, username, password):
    """Unknown CompID or wrong username still pays one scrypt, so timing does not tell them apart."""
    real_scrypt, calls = hashlib.scrypt, []

    def counting_scrypt(*args, **kwargs):
        calls.append(kwargs.get("n"))
        return real_scrypt(*args, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counting_scrypt)
    assert store.verify_trader(comp_id, username, password) is False
    assert calls == [secrets_module.SCRYPT_N]


def test_no_repr_or_str_shows_a_password_or_hash(store, password_hash):
    venue, trader = store.venue("V1"), TraderCredential("TRADER1", "trader1", password_hash)
    for text in (repr(store), str(store), repr(venue), str(venue), repr(trader), str(trader)):
        assert VENUE_PASSWORD not in text and password_hash not in text and "scrypt" not in text
    assert "TRADER1" in repr(store) and "V1" in repr(store)


# writing

def test_write_trader_creates_an_owner_only_file_that_loads(tmp_path):
    path = tmp_path / "new" / "secrets.yaml"
    assert write_trader(path, "T9", "t9", PASSWORD) is False
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().startswith("# written by `dark-agg secrets`")
    assert SecretStore.load(path, environ={}).verify_trader("T9", "t9", PASSWORD)
    assert [p.name for p in path.parent.iterdir()] == ["secrets.yaml"]  # no temp file left behind


def test_a_second_write_replaces_the_entry_and_keeps_the_others(secrets_file):
    assert write_trader(secrets_file, "TRADER1", "trader1", "a brand new password") is True
    store = SecretStore.load(secrets_file, environ={})
    assert store.verify_trader("TRADER1", "trader1", "a brand new password")
    assert not store.verify_trader("TRADER1", "trader1", PASSWORD)
    assert store.venue("V1").logon_tags == {1408: "FIX.5.0SP2"} and store.venue("V1").password == VENUE_PASSWORD
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600


def test_write_venue_sets_our_credentials_and_keeps_its_logon_tags_and_the_traders(secrets_file):
    assert write_venue(secrets_file, "V1", "darkagg-v1", "the venue's new password") is True
    assert write_venue(secrets_file, "V7", "darkagg-v7", "another venue password") is False
    store = SecretStore.load(secrets_file, environ={})
    first, added = store.venue("V1"), store.venue("V7")
    assert (first.username, first.password, first.logon_tags) == ("darkagg-v1", "the venue's new password",
                                                                  {1408: "FIX.5.0SP2"})
    assert (added.username, added.password, added.logon_tags) == ("darkagg-v7", "another venue password", {})
    assert store.verify_trader("TRADER1", "trader1", PASSWORD)
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
    with pytest.raises(SecretsError):
        write_venue(secrets_file, "V 8", "u", "p")


def test_write_trader_refuses_an_open_file_and_leaves_it_alone(secrets_file):
    os.chmod(secrets_file, 0o644)
    before = secrets_file.read_text()
    with pytest.raises(SecretsError, match="chmod 600"):
        write_trader(secrets_file, "T2", "t2", PASSWORD)
    assert secrets_file.read_text() == before


@pytest.mark.parametrize("comp_id, password, problem", [
    ("T9", "short pass", "at least 12 characters"),
    ("", PASSWORD, "non-empty"),
    ("T 9", PASSWORD, "no whitespace"),
    ("T|9", PASSWORD, "'|'"),
])
def test_write_trader_refuses_a_bad_compid_or_short_password(tmp_path, comp_id, password, problem):
    with pytest.raises(SecretsError, match=problem.replace("|", r"\|")):
        write_trader(tmp_path / "s.yaml", comp_id, "user", password)
    assert not (tmp_path / "s.yaml").exists()
