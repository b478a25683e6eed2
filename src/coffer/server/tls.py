"""HTTPS for `coffer serve`: the server's SSL context, checked at start, reloaded on SIGHUP.

One `ssl.SSLContext` per worker serves the S3 listener and the website listener. SIGHUP calls
`load_cert_chain` again on that same live context: connections already open keep their session,
new handshakes get the new certificate, and nothing is closed or re-bound (certbot/cert-manager
renewals need no restart). A renewal that cannot be loaded (half-written file, key that does not
match) is logged and the old certificate stays in use.
"""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

log = logging.getLogger("coffer.server.tls")


class TlsError(ValueError):
    """The certificate or key cannot be used; str() says which file and why."""


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A TLS 1.2+ server context with the certificate chain loaded (TlsError when it cannot be)."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    load(ctx, cert, key)
    return ctx


def load(ctx: ssl.SSLContext, cert: Path, key: Path) -> None:
    try:
        ctx.load_cert_chain(str(cert), str(key))
    except FileNotFoundError as e:
        raise TlsError(f"TLS: no such file {e.filename or cert}") from None
    except PermissionError as e:
        raise TlsError(f"TLS: cannot read {e.filename or cert}: permission denied") from None
    except ssl.SSLError as e:
        raise TlsError(f"TLS: {cert} / {key} cannot be used ({e.reason or e}); "
                       f"give a PEM certificate chain and its matching private key") from None


def reload(ctx: ssl.SSLContext, cert: Path, key: Path) -> bool:
    """SIGHUP: load the files again into the live context; on failure keep the old pair."""
    try:
        load(ctx, cert, key)
    except TlsError as e:
        log.error("certificate reload failed, keeping the current certificate: %s", e)
        return False
    log.info("TLS certificate reloaded from %s", cert)
    return True
