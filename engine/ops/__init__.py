"""The operator's channel: `dark-agg ops` talking to the running engine.

Loopback HTTP with a bearer token from a file only its owner can read (:mod:`engine.ops.token`).
The server (:mod:`engine.ops.server`) authenticates, parses and hands each command to the engine's
loop, where the desk (:mod:`engine.ops.desk`) carries it out; the client (:mod:`engine.ops.client`)
and the renderers (:mod:`engine.ops.render`) are what the command line uses.
"""

from __future__ import annotations

from engine.ops.client import OpsClient
from engine.ops.errors import OpsError, OpsRefused, TokenFileError
from engine.ops.server import COMMANDS, OpsServer
from engine.ops.token import load_or_create_token, read_token

__all__ = ["COMMANDS", "OpsClient", "OpsError", "OpsRefused", "OpsServer", "TokenFileError",
           "load_or_create_token", "read_token"]
