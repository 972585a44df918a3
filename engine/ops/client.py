"""The operator's side of the channel: one HTTP request per command, an :class:`OpsError` for anything
that is not a success, worded for the person at the terminal.

Proxies from the environment are ignored on purpose: the engine is on this host's loopback, and an
``http_proxy`` variable would otherwise carry the bearer token to a proxy.
"""

from __future__ import annotations

import getpass
import json
import socket
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from engine.ops.errors import OpsError

API_PREFIX = "/v1/"


def current_user() -> str:
    """Who is at the terminal, for the origin the engine journals ("unknown" if the system cannot say)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER (containers)
        return "unknown"


class OpsClient:
    """Calls the engine's operator channel at ``host:port`` with ``token``."""

    def __init__(self, host: str, port: int, token: str, operator: str | None = None, timeout: float = 15,
                 token_path: str | Path | None = None) -> None:
        self.host = host
        self.port = port
        self.operator = operator or current_user()
        self.timeout = timeout
        self.token_path = token_path  # only to say which file to check when the token is refused
        self._token = token
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def call(self, command: str, args: dict | None = None) -> Any:
        """Run ``command`` with ``args`` in the engine; its result, or OpsError saying why not."""
        request = urllib.request.Request(
            f"http://{self.address}{API_PREFIX}{command}", data=json.dumps(args or {}).encode(), method="POST",
            headers={"Authorization": f"Bearer {self._token}", "Content-Type": "application/json",
                     "X-Operator": self.operator})
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                payload = _json(response.read())
        except urllib.error.HTTPError as error:
            try:
                payload = _json(error.read())
            finally:
                error.close()
            raise self._refusal(command, error.code, payload) from None
        except urllib.error.URLError as error:
            raise self._unreachable(error.reason) from None
        except (TimeoutError, socket.timeout):
            raise OpsError(f"no answer from the engine at {self.address} within {self.timeout:g} s") from None
        except (ConnectionError, OSError) as error:  # reset or refused after the connection was made
            raise self._unreachable(error) from None
        if not isinstance(payload, dict) or payload.get("ok") is not True:
            raise OpsError(f"{self.address} answered {command} with something that is not the engine's reply")
        return payload.get("result")

    def _refusal(self, command: str, status: int, payload: Any) -> OpsError:
        message = payload.get("error") if isinstance(payload, dict) else None
        if status == 401:
            where = f" ({self.token_path})" if self.token_path else ""
            return OpsError(f"unauthorized: the token does not match the engine's{where}")
        if status in (400, 413):
            return OpsError(message or f"the engine refused {command}", refused=True)
        if status == 404:
            return OpsError(f"the engine at {self.address} does not know the command {command!r} "
                            "(is it an older version?)")
        if status == 503:
            return OpsError(message or "the engine cannot answer now")
        if status == 500:
            return OpsError(f"the engine failed while running {command}: {message or 'internal error'} "
                            "(its log has the details)")
        return OpsError(f"{self.address} answered HTTP {status}: {message or 'no explanation'}")

    def _unreachable(self, reason: object) -> OpsError:
        if isinstance(reason, ConnectionRefusedError):
            return OpsError(f"no engine is listening on {self.address} (is `dark-agg run` running with ops.port set?)")
        if isinstance(reason, (TimeoutError, socket.timeout)):
            return OpsError(f"no answer from the engine at {self.address} within {self.timeout:g} s")
        return OpsError(f"cannot reach the engine at {self.address}: {reason}")


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None
