"""What keeps a browser holding an operator's credentials from being turned against them.

The admin surface is reached from browsers (the console), which send the
operator's Basic credentials with any request to the origin, a cross-site one
included. So a state-changing admin request is refused when the browser says
it comes from another site (`Sec-Fetch-Site`), when its `Origin` is not this
host, or when it carries a body type a cross-site form may send without a
CORS preflight (form, multipart, plain text). Tools that send none of these
headers (curl, `galaxy actors`, the gateway) are unaffected, and the console
itself sends JSON from its own origin.

Every admin answer carries headers that keep it out of frames, caches and
MIME sniffing; the console page's policy allows scripts and styles from its
own origin only, never inline.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from quart import Response, request

from galaxy.domain.errors import Forbidden, UnsupportedMediaType

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SAME_SITE_FETCHES = frozenset({"same-origin", "none"})  # none: typed in, or a bookmark
# What an HTML form or a no-preflight fetch can send cross-site.
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data", "text/plain")

JSON_POLICY = "default-src 'none'; frame-ancestors 'none'"
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def refuse_cross_site() -> None:
    """Before authentication: a state-changing admin request a browser made for another site."""
    check_cross_site(request.method, request.headers.get, request.host)


def check_cross_site(method: str, header: Callable[[str], str | None], host: str) -> None:
    """The rule of `refuse_cross_site` on a request's parts: its method, its headers (by
    name) and the host it was sent to (the forwarding hop checks it before a hop changes
    the host)."""
    if method in SAFE_METHODS:
        return
    fetch_site = header("Sec-Fetch-Site")
    if fetch_site is not None and fetch_site.lower() not in SAME_SITE_FETCHES:
        raise Forbidden("a cross-site request may not change anything", code="cross_site_request")
    origin = header("Origin")
    if origin is not None and urlsplit(origin).netloc.lower() != host.lower():
        raise Forbidden("a cross-site request may not change anything", code="cross_site_request")
    content_type = (header("Content-Type") or "").split(";", 1)[0].strip().lower()
    if content_type in FORM_TYPES:
        raise UnsupportedMediaType("admin requests send application/json (or no body)")


def secure(response: Response) -> Response:
    """Headers for every admin answer; the console's page gets its stricter policy."""
    response.headers.update(HEADERS)
    html = response.content_type is not None and response.content_type.startswith("text/html")
    response.headers["Content-Security-Policy"] = PAGE_POLICY if html else JSON_POLICY
    return response
