"""Reading request bodies: JSON objects only, with clear 400/415 answers."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from quart import request

from galaxy.domain.errors import InvalidInput, UnsupportedMediaType

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


async def json_object(
    *, required: bool = True, allowed: Collection[str] | None = None
) -> dict[str, Any]:
    """The request body as a JSON object; {} for an absent body when not `required`.

    With `allowed`, any other member is refused: a misspelt field must not
    be silently ignored.
    """
    raw = await request.get_data(cache=True)
    if not raw:
        if required:
            raise InvalidInput("a JSON object body is required", code="invalid_body")
        return {}
    check_json_content_type()
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidInput(f"malformed JSON: {error}", code="malformed_json") from None
    if not isinstance(value, dict):
        raise InvalidInput("the body must be a JSON object", code="invalid_body")
    if allowed is not None:
        unknown = sorted(set(value) - set(allowed))
        if unknown:
            raise InvalidInput(
                f"unknown field(s): {', '.join(unknown)}; expected {', '.join(sorted(allowed))}",
                code="unknown_field",
            )
    return value


def check_json_content_type() -> None:
    if request.mimetype != "application/json":
        raise UnsupportedMediaType(
            f"expected Content-Type application/json, got {request.mimetype or 'none'}"
        )
