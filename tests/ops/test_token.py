from __future__ import annotations

import os
import stat

import pytest

from engine.ops.errors import TokenFileError
from engine.ops.token import load_or_create_token, read_token


def mode_of(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_missing_token_file_is_created_private_and_non_empty_with_its_directory(tmp_path):
    path = tmp_path / "state" / "ops.token"
    token = load_or_create_token(path)
    assert mode_of(path) == 0o600
    assert len(token) >= 40
    assert path.read_text().strip() == token


def test_the_file_is_private_even_under_a_permissive_umask(tmp_path):
    previous = os.umask(0)
    try:
        load_or_create_token(tmp_path / "ops.token")
    finally:
        os.umask(previous)
    assert mode_of(tmp_path / "ops.token") == 0o600


def test_an_existing_token_is_reused_by_the_engine_and_read_by_the_client(tmp_path):
    path = tmp_path / "ops.token"
    first = load_or_create_token(path)
    assert load_or_create_token(path) == first
    assert read_token(path) == first


def test_two_tokens_created_apart_differ(tmp_path):
    assert load_or_create_token(tmp_path / "a") != load_or_create_token(tmp_path / "b")


@pytest.mark.parametrize("loose_mode", [0o644, 0o640, 0o604, 0o620])
@pytest.mark.parametrize("reader", [load_or_create_token, read_token])
def test_a_token_others_can_access_is_refused_with_the_chmod_that_fixes_it(tmp_path, loose_mode, reader):
    path = tmp_path / "ops.token"
    path.write_text("secret\n")
    path.chmod(loose_mode)
    with pytest.raises(TokenFileError) as refused:
        reader(path)
    assert f"chmod 600 {path}" in str(refused.value)
    assert path.read_text() == "secret\n"  # the engine does not replace an operator's file behind their back


@pytest.mark.parametrize("reader", [load_or_create_token, read_token])
def test_an_empty_token_file_is_refused(tmp_path, reader):
    path = tmp_path / "ops.token"
    path.write_text("  \n")
    path.chmod(0o600)
    with pytest.raises(TokenFileError, match="empty"):
        reader(path)


def test_the_client_names_the_missing_file_and_what_creates_it(tmp_path):
    path = tmp_path / "ops.token"
    with pytest.raises(TokenFileError) as missing:
        read_token(path)
    assert str(path) in str(missing.value) and "ops.port" in str(missing.value)
    assert not path.exists()  # the client never creates a token


def test_a_directory_in_place_of_the_token_is_refused(tmp_path):
    (tmp_path / "ops.token").mkdir()
    with pytest.raises(TokenFileError, match="not a regular file"):
        load_or_create_token(tmp_path / "ops.token")
