"""`/api/v1/user/*`: calls made for an end user; the gateway injects `X-User-ID`."""

from quart import Blueprint

blueprint = Blueprint("user", __name__, url_prefix="/api/v1/user")
