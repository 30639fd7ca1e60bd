"""Request bodies checked against their schema in openapi.yaml before a handler uses them.

The contract's body schemas (OpenAPI 3.0) are turned into JSON Schema
(draft 4: `nullable` becomes a `null` type, `$ref`s are inlined) and
compiled once per process, keyed by the route as Quart writes it. A body
that breaks its schema is refused with a 400 whose code names the member
at fault: `invalid_<member>` unless the schema gives its own with the
`x-error-code` extension (on a member, or on the body for faults of the
body as a whole), so the codes stay those the domain's own checks use.
Messages say what is expected and never echo the value sent.

Formats (`uuid`, `date-time`, `email`) are not checked here: the
handlers' domain checks read those values and answer with their own codes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml
from jsonschema import Draft4Validator
from jsonschema.exceptions import ValidationError, best_match

from galaxy.domain.errors import InvalidInput

BODY_METHODS = ("post", "put", "patch")
# OpenAPI-only keywords with no JSON Schema meaning; `x-` extensions go too.
_DROPPED = frozenset({"nullable", "example", "description", "readOnly", "writeOnly", "deprecated"})
_TYPE_NAMES = {
    "string": "a string",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "an object",
    "null": "null",
}


@dataclass(frozen=True)
class BodySchema:
    """One operation's body: its validator and the error code of each member."""

    operation_id: str
    validator: Draft4Validator
    members: tuple[str, ...]
    codes: Mapping[str, str]
    body_code: str

    def check(self, body: dict[str, Any]) -> None:
        error = best_match(self.validator.iter_errors(body))
        if error is not None:
            raise self._refusal(error, body)

    def _refusal(self, error: ValidationError, body: dict[str, Any]) -> InvalidInput:
        path = list(error.absolute_path)
        if not path and error.validator == "additionalProperties":
            unknown = sorted(set(body) - set(self.members))
            return InvalidInput(
                f"unknown field(s): {', '.join(unknown)}; expected {', '.join(self.members)}",
                code="unknown_field",
            )
        if not path and error.validator == "required":
            wanted: Any = error.validator_value
            member = next(m for m in wanted if m not in body)
            return InvalidInput(f"{member} is required", code=self._code(member))
        if not path:
            return InvalidInput(f"the body {_expected(error)}", code=self.body_code)
        member = str(path[0])
        where = member + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path[1:])
        return InvalidInput(f"{where} {_expected(error)}", code=self._code(member))

    def _code(self, member: str) -> str:
        return self.codes.get(member, f"invalid_{member}")


def _expected(error: ValidationError) -> str:
    """What the failed keyword asks for, in words (the value sent is never repeated)."""
    rule: Any = error.validator
    want: Any = error.validator_value
    if rule == "type":
        kinds = [want] if isinstance(want, str) else list(want)
        return "must be " + " or ".join(_TYPE_NAMES.get(k, k) for k in kinds)
    if rule == "enum":
        return "must be one of " + ", ".join("null" if v is None else str(v) for v in want)
    words = {
        "minLength": f"must be at least {want} characters",
        "maxLength": f"must be at most {want} characters",
        "minimum": f"must be at least {want}",
        "maximum": f"must be at most {want}",
        "minItems": f"must hold at least {want} items",
        "maxItems": f"must hold at most {want} items",
        "minProperties": f"must hold at least {want} member(s)",
        "maxProperties": f"must hold at most {want} member(s)",
        "pattern": "is not in the expected form",
        "required": "lacks a required member",
        "additionalProperties": "holds unknown members",
    }
    return words.get(str(rule), f"does not satisfy {rule}")


class BodySchemas:
    """Every operation's body schema, by (METHOD, Quart route)."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self._components = document.get("components", {})
        self._by_route: dict[tuple[str, str], BodySchema] = {}
        for path, item in document["paths"].items():
            route = re.sub(r"\{(\w+)\}", r"<\1>", path)
            for method in BODY_METHODS:
                operation = item.get(method)
                body = (operation or {}).get("requestBody")
                if body is None:
                    continue
                raw = self._resolve(body["content"]["application/json"]["schema"])
                schema = self._convert(raw)
                Draft4Validator.check_schema(schema)
                properties = {k: self._resolve(v) for k, v in raw.get("properties", {}).items()}
                self._by_route[(method.upper(), route)] = BodySchema(
                    operation_id=operation["operationId"],
                    validator=Draft4Validator(schema),
                    members=tuple(sorted(properties)),
                    codes={
                        name: prop["x-error-code"]
                        for name, prop in properties.items()
                        if "x-error-code" in prop
                    },
                    body_code=raw.get("x-error-code", "invalid_body"),
                )

    def find(self, method: str, route: str) -> BodySchema | None:
        return self._by_route.get((method, route))

    def routes(self) -> set[tuple[str, str]]:
        return set(self._by_route)

    def _resolve(self, node: Mapping[str, Any]) -> Mapping[str, Any]:
        while "$ref" in node:
            found: Any = {"components": self._components}
            for part in node["$ref"].removeprefix("#/").split("/"):
                found = found[part]
            node = found
        return node

    def _convert(self, node: Mapping[str, Any]) -> dict[str, Any]:
        """An OpenAPI 3.0 schema as JSON Schema draft 4."""
        node = self._resolve(node)
        converted: dict[str, Any] = {}
        for key, value in node.items():
            if key in _DROPPED or key.startswith("x-"):
                continue
            if key in ("properties", "patternProperties"):
                converted[key] = {name: self._convert(sub) for name, sub in value.items()}
            elif key in ("allOf", "anyOf", "oneOf") or (key == "items" and isinstance(value, list)):
                converted[key] = [self._convert(sub) for sub in value]
            elif key in ("items", "not", "additionalProperties") and isinstance(value, Mapping):
                converted[key] = self._convert(value)
            else:
                converted[key] = value
        if node.get("nullable"):
            if "type" in converted:
                converted["type"] = [converted["type"], "null"]
            if "enum" in converted:
                converted["enum"] = [*converted["enum"], None]
        return converted


@cache
def body_schemas() -> BodySchemas:
    """The contract's body schemas, compiled once per process."""
    text = resources.files("galaxy.http").joinpath("openapi.yaml").read_text("utf-8")
    return BodySchemas(yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
