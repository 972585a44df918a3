"""``dark-agg secrets add-trader`` and ``check``: the file they write verifies, and they never print
a password or a hash."""

from __future__ import annotations

import io
import stat
import sys
from pathlib import Path

import pytest
import yaml

from engine.commands.cli import main
from engine.security import SecretStore

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "a long trader password"


def add_trader(monkeypatch, *args: str, stdin: str = PASSWORD + "\n") -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return main(["secrets", "add-trader", *args, "--password-stdin"])


def engine_config(tmp_path: Path, **fix: object) -> Path:
    """The shipped engine config, made standalone in tmp_path (its relative paths made absolute)."""
    document = yaml.safe_load((REPO / "config" / "engine.yaml").read_text())
    _absolute_inputs(document)
    document["fix"].pop("secrets_file", None)
    document["fix"].update(fix)
    path = tmp_path / "engine.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def _absolute_inputs(node: object) -> None:
    """The files the config reads (market, restricted list) stay those of the repository."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("market", "restricted_file", "data_dictionary") and isinstance(value, str):
                node[key] = str((REPO / "config" / value).resolve())
            else:
                _absolute_inputs(value)


def test_add_trader_from_stdin_writes_a_hash_that_verifies(tmp_path, monkeypatch, capsys):
    path = tmp_path / "secrets.yaml"
    assert add_trader(monkeypatch, "T9", "--secrets-file", str(path)) == 0
    out = capsys.readouterr().out
    assert out.strip() == f"added T9 to {path}"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert SecretStore.load(path, environ={}).verify_trader("T9", "t9", PASSWORD)  # username: CompID lowercased
    assert PASSWORD not in path.read_text()

    assert add_trader(monkeypatch, "T9", "--username", "desk9", "--secrets-file", str(path)) == 0
    assert capsys.readouterr().out.strip() == f"replaced T9 in {path}"
    assert SecretStore.load(path, environ={}).verify_trader("T9", "desk9", PASSWORD)


def test_check_lists_the_compids_and_no_secret(tmp_path, monkeypatch, capsys):
    path = tmp_path / "secrets.yaml"
    assert add_trader(monkeypatch, "T9", "--secrets-file", str(path)) == 0
    capsys.readouterr()
    assert main(["secrets", "check", "--secrets-file", str(path)]) == 0
    captured = capsys.readouterr()
    assert "T9" in captured.out
    assert "scrypt" not in captured.out + captured.err and PASSWORD not in captured.out + captured.err


def test_check_of_an_open_file_exits_2_with_the_fix(tmp_path, monkeypatch, capsys):
    path = tmp_path / "secrets.yaml"
    assert add_trader(monkeypatch, "T9", "--secrets-file", str(path)) == 0
    path.chmod(0o644)
    assert main(["secrets", "check", "--secrets-file", str(path)]) == 2
    assert "chmod 600" in capsys.readouterr().err


def test_add_trader_without_a_secrets_path_exits_2_saying_where_to_set_one(tmp_path, monkeypatch, capsys):
    config = engine_config(tmp_path)
    assert add_trader(monkeypatch, "T9", "--config", str(config)) == 2
    err = capsys.readouterr().err
    assert "--secrets-file" in err and "fix.secrets_file" in err
    assert list(tmp_path.iterdir()) == [config]


def test_a_short_password_or_empty_stdin_exits_2_and_writes_nothing(tmp_path, monkeypatch, capsys):
    path = tmp_path / "secrets.yaml"
    assert add_trader(monkeypatch, "T9", "--secrets-file", str(path), stdin="short\n") == 2
    assert "at least 12 characters" in capsys.readouterr().err
    assert add_trader(monkeypatch, "T9", "--secrets-file", str(path), stdin="") == 2
    assert "stdin is empty" in capsys.readouterr().err
    assert not path.exists()


def test_mismatched_terminal_passwords_exit_2(tmp_path, monkeypatch, capsys):
    answers = iter(["first password here", "second password here"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    path = tmp_path / "secrets.yaml"
    assert main(["secrets", "add-trader", "T9", "--secrets-file", str(path)]) == 2
    assert "do not match" in capsys.readouterr().err
    assert not path.exists()


def test_the_path_comes_from_the_engine_config_relative_to_it(tmp_path, monkeypatch, capsys):
    config = engine_config(tmp_path, secrets_file="private/secrets.yaml")
    assert add_trader(monkeypatch, "TRADER1", "--config", str(config)) == 0
    assert SecretStore.load(tmp_path / "private" / "secrets.yaml", environ={}).has_trader("TRADER1")


def test_check_names_the_sessions_without_a_credential(tmp_path, monkeypatch, capsys):
    config = engine_config(tmp_path, secrets_file="private/secrets.yaml")
    first, second = yaml.safe_load(config.read_text())["fix"]["trader"]["sessions"]  # the shipped two
    assert add_trader(monkeypatch, first, "--config", str(config)) == 0
    capsys.readouterr()
    assert main(["secrets", "check", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert f"traders (1): {first}" in out
    assert f"no credential for trader session(s) {second}" in out


def test_add_venue_stores_what_we_send_and_refuses_a_venue_the_config_lacks(tmp_path, monkeypatch, capsys):
    secrets = tmp_path / "secrets.yaml"
    config = engine_config(tmp_path, secrets_file=str(secrets))
    monkeypatch.setattr(sys, "stdin", io.StringIO("the venues' password\n"))
    assert main(["secrets", "add-venue", "V1", "V2", "--username", "darkagg", "--password-stdin",
                 "--config", str(config)]) == 0
    assert "the venues' password" not in capsys.readouterr().out
    store = SecretStore.load(secrets, environ={})
    assert {(store.venue(v).username, store.venue(v).password) for v in ("V1", "V2")} == {
        ("darkagg", "the venues' password")}
    before = secrets.read_text()
    monkeypatch.setattr(sys, "stdin", io.StringIO("the venues' password\n"))
    assert main(["secrets", "add-venue", "V1", "NOPE", "--username", "darkagg", "--password-stdin",
                 "--config", str(config)]) == 2
    assert "NOPE" in capsys.readouterr().err and secrets.read_text() == before


def test_make_certificates_writes_what_the_secure_configs_name_and_a_tls_handshake_accepts_it(tmp_path):
    import socket
    import ssl
    import threading

    directory = tmp_path / "tls"
    assert main(["secrets", "make-certificates", str(directory), "--days", "2"]) == 0
    secure = yaml.safe_load((REPO / "config" / "engine.secure.yaml").read_text())
    named = {Path(secure["fix"]["trader"]["tls"][key]).name for key in ("certificate", "key", "ca")}
    named |= {Path(secure["venue_defaults"]["tls"][key]).name for key in ("certificate", "key", "ca")}
    assert named <= {p.name for p in directory.iterdir()}
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in directory.glob("*.key"))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(directory / "engine.pem", directory / "engine.key")
    server.load_verify_locations(directory / "ca.pem")
    server.verify_mode = ssl.CERT_REQUIRED
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.load_verify_locations(directory / "ca.pem")
    client.load_cert_chain(directory / "trader.pem", directory / "trader.key")
    listener = socket.create_server(("127.0.0.1", 0))
    seen = []

    def serve():
        connection, _ = listener.accept()
        with server.wrap_socket(connection, server_side=True) as tls:
            seen.append(tls.getpeercert()["subject"])
            tls.sendall(b"ok")

    thread = threading.Thread(target=serve)
    thread.start()
    with client.wrap_socket(socket.create_connection(listener.getsockname()), server_hostname="127.0.0.1") as tls:
        assert tls.recv(2) == b"ok"
    thread.join(5)
    listener.close()
    assert any(("commonName", "trader") in part for part in seen[0])
