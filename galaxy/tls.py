"""The listeners' TLS (`BACKEND_TLS_*`): the server certificate, and mutual TLS when a
client CA is configured, so only a gateway holding a certificate that CA signed gets in.

One builder for both listeners (hypercorn's and grpclib's) and for the check at start,
so they cannot drift apart in versions or settings."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TLSConfig:
    """The listeners' TLS: a server certificate, and with `client_ca`, mutual TLS (the
    gateway must present a certificate that CA signed)."""

    cert_file: Path
    key_file: Path
    client_ca_file: Path | None = None


def server_context(tls: TLSConfig, *, alpn: list[str]) -> ssl.SSLContext:
    """A server-side context; `alpn` names the protocols the listener speaks (gRPC: h2)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2  # HTTP/2 requires it (RFC 7540 9.2)
    context.options |= ssl.OP_NO_COMPRESSION  # so does HTTP/2 (RFC 7540 9.2.1)
    context.load_cert_chain(tls.cert_file, tls.key_file)
    if tls.client_ca_file is not None:
        context.load_verify_locations(tls.client_ca_file)
        context.verify_mode = ssl.CERT_REQUIRED
    context.set_alpn_protocols(alpn)
    return context
