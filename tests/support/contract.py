"""Validate real HTTP exchanges against openapi.yaml, and record what was exercised."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

HTTP_METHODS = ("get", "post", "put", "patch", "delete")


class Spec:
    """One OpenAPI document: the backend's, or the engine's."""

    def __init__(self, package: str, filename: str) -> None:
        text = resources.files(package).joinpath(filename).read_text("utf-8")
        self.document: dict[str, Any] = yaml.safe_load(text)
        self.openapi = OpenAPI.from_dict(self.document)
        self._patterns: list[tuple[re.Pattern[str], str, str]] | None = None

    def operations(self) -> dict[str, tuple[str, str]]:
        """operationId → (METHOD, path template), for every operation in the contract."""
        found: dict[str, tuple[str, str]] = {}
        for path, item in self.document["paths"].items():
            for method in HTTP_METHODS:
                if method in item:
                    found[item[method]["operationId"]] = (method.upper(), path)
        return found

    def match(self, method: str, path: str) -> str | None:
        if self._patterns is None:
            # Literal paths first, as the router does: /notifications/dead-letters
            # is not /notifications/{notification_id}.
            ordered = sorted(self.operations().items(), key=lambda item: item[1][1].count("{"))
            self._patterns = []
            for operation_id, (op_method, template) in ordered:
                regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
                self._patterns.append((re.compile(f"^{regex}$"), op_method, operation_id))
        for pattern, op_method, operation_id in self._patterns:
            if op_method == method and pattern.match(path):
                return operation_id
        return None


@cache
def backend_spec() -> Spec:
    return Spec("galaxy.http", "openapi.yaml")


@cache
def engine_spec() -> Spec:
    return Spec("galaxy.engine", "engine-openapi.yaml")


def operations() -> dict[str, tuple[str, str]]:
    return backend_spec().operations()


def match_operation(method: str, path: str) -> str | None:
    return backend_spec().match(method, path)


class _Request:
    def __init__(self, request: httpx.Request) -> None:
        url = urlsplit(str(request.url))
        self.host_url = f"{url.scheme}://{url.netloc}"
        self.path = url.path
        self.method = request.method.lower()
        self.body = request.content or None
        self.content_type = request.headers.get("content-type", "")
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(httpx.QueryParams(url.query).multi_items()),
            header=Headers(list(request.headers.items())),
            cookie=ImmutableMultiDict(),
        )


class _Response:
    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.content_type = response.headers.get("content-type", "")
        self.headers = Headers(list(response.headers.items()))
        self.data = response.content


@dataclass
class ContractClient:
    """An httpx client whose every exchange on a declared route must match the contract."""

    client: httpx.AsyncClient
    exercised: set[str] = field(default_factory=set)
    spec: Spec = field(default_factory=backend_spec)

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = await self.client.request(method, url, **kwargs)
        self.check(response)
        return response

    def check(self, response: httpx.Response) -> None:
        """Validate the response of a declared operation, and its request when it succeeded.

        A request the contract forbids must not succeed; one that was refused
        (4xx) is a negative test and only its error response is checked.
        """
        request = _Request(response.request)
        operation = self.spec.match(request.method.upper(), request.path)
        if operation is None:
            return
        if 200 <= response.status_code < 300:
            self.spec.openapi.validate_request(request)
        self.spec.openapi.validate_response(request, _Response(response))
        self.exercised.add(operation)

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", url, **kwargs)

    async def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PATCH", url, **kwargs)

    async def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("PUT", url, **kwargs)


def assert_error_body(response: httpx.Response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message"}
    assert body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
