"""Whether the installed quickfix can speak TLS, checked by what it does rather than what it exports.

quickfix's sdist builds without OpenSSL unless compiled with ``-DHAVE_SSL=1`` (the Makefile does
that): such a build still has ``SSLSocketAcceptor``, which fails only when used, with "HAVE_SSL not
enabled". So the check starts an SSL acceptor on a settings table with a session but no certificate:
a TLS build refuses it for the missing ``ServerCertificateFile`` before binding anything; any other
outcome means no TLS. The engine and the sim venues check before they build a TLS session, so a
config asking for TLS on the wrong build fails at start with a message saying how to fix it.

    python -m engine.fix.tls_support     # exit 0 and "TLS available", or 1 and why not
"""

from __future__ import annotations

import functools
import sys

import quickfix as fix

from engine.fix import restore_sigint
from engine.fix.quiet_application import QuietApplication

restore_sigint()

REBUILD_HINT = ("rebuild it with OpenSSL: `rm -rf .venv ~/.cache/dark-aggregator && make install` "
                "(README: Session security)")


@functools.cache
def tls_unavailable_reason() -> str | None:
    """None when quickfix was built with TLS; otherwise what it said (cached: the build cannot change)."""
    section = fix.Dictionary()
    for key, value in {"ConnectionType": "acceptor", "SocketAcceptPort": "0", "NonStopSession": "Y",
                       "UseDataDictionary": "N"}.items():
        section.setString(key, value)
    settings = fix.SessionSettings()
    settings.set(section)
    settings.set(fix.SessionID("FIX.4.4", "TLS-CHECK", "TLS-PROBE"), section)
    application, store = QuietApplication(), fix.MemoryStoreFactory()
    try:
        acceptor = fix.SSLSocketAcceptor(application, store, settings)
        acceptor.start()
    except Exception as error:  # noqa: BLE001 - every failure but the expected one means no TLS
        if "ServerCertificateFile" in str(error):
            return None
        return f"quickfix cannot use TLS ({error})"
    acceptor.stop()  # unreachable on a TLS build (no certificate); stop whatever did start
    return "quickfix started an SSL acceptor without a certificate: it is not a TLS build"


def require_tls(what: str) -> None:
    """Raise RuntimeError naming ``what`` needs TLS when this quickfix has none."""
    reason = tls_unavailable_reason()
    if reason is not None:
        raise RuntimeError(f"{what} is configured with tls, but {reason}; {REBUILD_HINT}")


def main() -> int:
    reason = tls_unavailable_reason()
    if reason is None:
        print(f"TLS available: quickfix {getattr(fix, '__version__', '')} built with OpenSSL".replace("  ", " "))
        return 0
    print(f"{reason}; {REBUILD_HINT}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
