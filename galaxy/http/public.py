"""`/api/v1/public/*`: unauthenticated calls the gateway forwards (login)."""

from quart import Blueprint

blueprint = Blueprint("public", __name__, url_prefix="/api/v1/public")
