"""Reading request bodies: strict JSON objects checked against the contract, clear 400/415s.

Every handler that reads a body calls `json_object`, and nothing else in
the HTTP edge reads one. The body is parsed once, strictly
(`galaxy.domain.strict`: no NaN or Infinity, no lone surrogates, bounded
nesting and numbers; 400 `invalid_json`), and checked against the route's
schema in openapi.yaml (`galaxy.http.schemas`) before the handler sees it,
so no service ever receives a value of a type its contract does not allow.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from quart import request

from galaxy.domain.errors import InvalidInput, UnsupportedMediaType
from galaxy.domain.strict import JSONRejected, loads
from galaxy.http.schemas import body_schemas

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


async def json_object(
    *, required: bool = True, allowed: Collection[str] | None = None
) -> dict[str, Any]:
    """The request body as a JSON object; {} for an absent body when not `required`.

    With `allowed`, any other member is refused: a misspelt field must not
    be silently ignored. A route whose operation declares a body in
    openapi.yaml has it checked against that schema as well.
    """
    raw = await request.get_data(cache=True, as_text=False, parse_form_data=False)
    if not raw:
        if required:
            raise InvalidInput("a JSON object body is required", code="invalid_body")
        value: Any = {}
    else:
        check_json_content_type()
        value = parse_json(raw)
    if not isinstance(value, dict):
        raise InvalidInput("the body must be a JSON object", code="invalid_body")
    if allowed is not None:
        unknown = sorted(set(value) - set(allowed))
        if unknown:
            raise InvalidInput(
                f"unknown field(s): {', '.join(unknown)}; expected {', '.join(sorted(allowed))}",
                code="unknown_field",
            )
    rule = request.url_rule.rule if request.url_rule is not None else None
    schema = body_schemas().find(request.method, rule) if rule is not None else None
    if schema is not None and raw:
        schema.check(value)
    return value


def parse_json(raw: bytes) -> Any:
    """The strict reading of a JSON body; 400 `invalid_json` for anything else."""
    try:
        return loads(raw)
    except JSONRejected as error:
        raise InvalidInput(str(error), code="invalid_json") from None


def check_json_content_type() -> None:
    if request.mimetype != "application/json":
        raise UnsupportedMediaType(
            f"expected Content-Type application/json, got {request.mimetype or 'none'}"
        )
