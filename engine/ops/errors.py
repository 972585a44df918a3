"""The operator channel's exceptions, one per side of the wire.

:class:`OpsRefused` is raised on the engine's side when a command cannot be carried out as asked
(an unknown venue, a limit that does not parse): the server answers 400 with its message.
:class:`OpsError` is raised on the client's side for anything that kept a command from succeeding;
``refused`` tells the engine's "no" (exit 2) from "could not get an answer" (exit 3).
:class:`TokenFileError` is a token file that is missing, empty or readable by others.
"""

from __future__ import annotations


class OpsRefused(Exception):
    """The engine refuses the command; the message says why, in words for the operator."""


class OpsError(Exception):
    """A command did not succeed, seen from the client; the message is ready to print."""

    def __init__(self, message: str, *, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused  # True: the engine answered and said no (bad input); False: no usable answer


class TokenFileError(OSError):
    """The bearer token file cannot be used; the message names the file and the fix. An OSError, so
    an engine start that cannot use its token fails like one that cannot bind its ports."""
