"""`/api/v1/internal/*`: the gateway's own calls (session lookups, revocations)."""

from quart import Blueprint

blueprint = Blueprint("internal", __name__, url_prefix="/api/v1/internal")
