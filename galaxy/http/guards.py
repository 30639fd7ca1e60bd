"""Per-surface guards, applied by path prefix before routing answers.

They run for every path under their prefix, matched or not, so an
unauthenticated caller cannot tell which admin routes exist.

They run on every request, so each resolves Quart's `request` and `g`
proxies once and works on the objects (a proxy lookup costs more than most
of what a guard does with it).
"""

from __future__ import annotations

import base64
import uuid

from quart import Request, current_app, g, request
from quart.ctx import _AppCtxGlobals

from galaxy.domain.admins import may_send
from galaxy.domain.errors import Forbidden, GatewayUnauthorized, InvalidInput
from galaxy.domain.strict import canonical_uuid
from galaxy.http.errors import AdminUnauthorized
from galaxy.http.security import refuse_cross_site
from galaxy.services.admin_auth import AdminAuthenticator, AdminPrincipal
from galaxy.services.container import Services

USER_PREFIX = "/api/v1/user/"
INTERNAL_PREFIX = "/api/v1/internal/"
ADMIN_PREFIX = "/api/v1/admin/"


def services() -> Services:
    found: Services = current_app.extensions["galaxy"]
    return found


def _current() -> tuple[Request, _AppCtxGlobals]:
    """The request and `g` themselves, not their proxies."""
    found: Request = request._get_current_object()  # type: ignore[attr-defined]
    globals_: _AppCtxGlobals = g._get_current_object()
    return found, globals_


async def guard_surfaces() -> None:
    req, globals_ = _current()
    path = req.path
    if path.startswith(USER_PREFIX):
        _gateway(req, globals_)
        globals_.user_id = _user_id(req)
    elif path.startswith(INTERNAL_PREFIX):
        _gateway(req, globals_)
    elif path.startswith(ADMIN_PREFIX):
        refuse_cross_site()  # before bcrypt: a forged request costs nothing
        globals_.admin = await admin_allowed(
            services().admin_auth,
            req.headers.get("Authorization"),
            req.remote_addr or "unknown",
            req.method,
        )


def _gateway(req: Request, globals_: _AppCtxGlobals) -> None:
    """The user and internal surfaces trust the caller (X-User-ID names the player): only
    the gateway may call them, proven by its token when one is configured."""
    if not _from_gateway(req, globals_):
        raise GatewayUnauthorized()


def gateway_authenticated() -> bool:
    """Whether this request comes from the gateway, as far as the configuration can tell:
    its token when tokens are configured; otherwise the listener's mutual TLS or the
    network the operator vouched for (embedded: loopback only)."""
    return _from_gateway(*_current())


def _from_gateway(req: Request, globals_: _AppCtxGlobals) -> bool:
    known = globals_.get("from_gateway")  # the guard and the geo tally ask: one check a request
    if known is None:
        credentials = services().config.gateway.credentials
        known = credentials.admits(req.headers.get("Authorization"))
        globals_.from_gateway = known
    return bool(known)


async def admin_allowed(
    admin_auth: AdminAuthenticator, authorization: str | None, peer: str, method: str
) -> AdminPrincipal:
    """The verified admin, if their role lets them send `method`; else 401 or 403.

    Attempts are budgeted per (user name, TCP peer) and per peer. The budgets
    are keyed by the TCP peer, not X-Forwarded-For, which a caller could vary
    at will (`AdminAuthenticator.verify` charges them). The role comes from
    the account cache each request, so a demotion applies from the next one
    (on other instances once invalidated); a viewer's change is refused before
    routing, the same way whatever the path.
    """
    credentials = basic_credentials(authorization)
    if credentials is None:
        raise AdminUnauthorized("valid admin credentials are required")
    principal = await admin_auth.verify(*credentials, peer)
    if principal is None:
        raise AdminUnauthorized("valid admin credentials are required")
    if not may_send(principal.role, method):
        raise Forbidden("this admin account may only read (role viewer)", code="forbidden_role")
    return principal


def source_ip() -> str | None:
    """The end user's address: the leftmost X-Forwarded-For when the gateway sent the request,
    else the peer (anyone else could name any address there, and dodge its budgets)."""
    return _source_ip(*_current())


def _source_ip(req: Request, globals_: _AppCtxGlobals) -> str | None:
    return source_ip_of(
        _from_gateway(req, globals_), req.headers.get("X-Forwarded-For"), req.remote_addr
    )


def source_ip_of(from_gateway: bool, forwarded: str | None, peer: str | None) -> str | None:
    """The rule of `source_ip`, on the request's parts (the edge lane has no Quart request)."""
    if not from_gateway:
        return peer
    first = (forwarded or "").split(",", 1)[0].strip()
    return first or peer


def count_country(status: int) -> None:
    """After a successful user-surface call: one more request from the caller's country."""
    req, globals_ = _current()
    user_id = globals_.get("user_id")
    if user_id is not None and status < 400:
        services().geo.count_request(user_id, _source_ip(req, globals_))


def _user_id(req: Request) -> uuid.UUID:
    return user_id_of(req.headers.get("X-User-ID"))


def user_id_of(raw: str | None) -> uuid.UUID:
    """The caller named by X-User-ID (`raw`), strictly: a canonical UUID, else 400."""
    if raw is None:
        raise InvalidInput("the X-User-ID header is required", code="missing_user_id")
    parsed = _USER_IDS.get(raw)
    if parsed is None:
        parsed = canonical_uuid(raw)
        if parsed is None:
            raise InvalidInput("X-User-ID must be a UUID", code="invalid_user_id")
        if len(_USER_IDS) >= _USER_IDS_KEPT:  # bounded whatever ids callers send
            _USER_IDS.clear()
        _USER_IDS[raw] = parsed
    return parsed


# X-User-ID texts already parsed: every request of a player sends the same one, and
# parsing a UUID strictly (a pattern, then `uuid.UUID`) is most of what a guard costs.
_USER_IDS: dict[str, uuid.UUID] = {}
_USER_IDS_KEPT = 10_000


def basic_credentials(authorization: str | None) -> tuple[str, str] | None:
    """(user name, password) from `Authorization: Basic`, or None for anything malformed.

    A header that is not ASCII, not base64, or not UTF-8 once decoded is no
    credential (401), never a crash.
    """
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except ValueError:  # binascii.Error, UnicodeDecodeError, and a str that is not ASCII
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None
