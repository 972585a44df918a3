"""The bearer token of the operator channel: one secret in a file only its owner can read.

The engine creates the file on its first start (``load_or_create_token``) and reuses it afterwards,
so an operator's shell and scripts keep working across restarts; ``dark-agg ops`` reads the same
file (``read_token``). Both refuse a file that the group or others can read or write, the way ssh
refuses a private key: a token anyone on the host can read authenticates no one.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from engine.ops.errors import TokenFileError

TOKEN_BYTES = 32  # secrets.token_urlsafe(32): 43 characters, 256 bits


def load_or_create_token(path: str | Path) -> str:
    """The engine's token: the one in ``path``, or a new one written there with mode 0600."""
    path = Path(path)
    try:
        return _checked_token(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    try:
        # O_EXCL: never write through a file (or a symlink) someone else put there first; the mode is
        # given at creation, so the secret is never readable by others, not even for an instant.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it between our read and our create
        return _checked_token(path)
    with os.fdopen(descriptor, "w") as file:
        file.write(token + "\n")
    return token


def read_token(path: str | Path) -> str:
    """The token a client presents: the engine's file, with the same checks."""
    path = Path(path)
    try:
        return _checked_token(path)
    except FileNotFoundError:
        raise TokenFileError(
            f"{path}: no token file; `dark-agg run` creates it when its config sets ops.port "
            "(ops.token_file, default: ops.token beside the journal): is this the engine's config, "
            "and has the engine started with it?") from None


def _checked_token(path: Path) -> str:
    """The token in ``path``; FileNotFoundError when there is no file, TokenFileError when it is unfit."""
    try:
        status = path.stat()
    except NotADirectoryError:
        raise FileNotFoundError(path) from None
    if not stat.S_ISREG(status.st_mode):
        raise TokenFileError(f"{path}: not a regular file; point ops.token_file at a file")
    loose_bits = stat.S_IMODE(status.st_mode) & 0o077
    if loose_bits:
        raise TokenFileError(
            f"{path}: the group or others may access it (mode {stat.S_IMODE(status.st_mode):04o}), so the "
            f"token protects nothing; run `chmod 600 {path}`")
    try:
        token = path.read_text().strip()
    except PermissionError:
        raise TokenFileError(f"{path}: cannot be read by this user; run as the engine's user") from None
    except UnicodeDecodeError:
        raise TokenFileError(f"{path}: not a text token; delete it and restart the engine to make a new one") from None
    if not token:
        raise TokenFileError(f"{path}: empty; delete it and restart the engine to make a new token")
    return token
