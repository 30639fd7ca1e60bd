"""quart-trio as the HTTP edge runs it: the same framework, less work per request.

Quart recomputes per request, often several times, what does not change
between requests; at a few hundred microseconds of framework work per
request that is a measurable share (bench/http_bench.py). Each override here
returns what Quart's own code returns:

- `ensure_async` knows a coroutine function by its code's flag: Quart asks
  `inspect` on every call of each hook and view (a walk through wrappers);
- a request's `blueprints` is computed once per matched rule: Quart derives
  it from the endpoint name three times a request (before, after, teardown);
- requests are served by `InlineHTTPConnection` (galaxy.http.connection).
"""

from __future__ import annotations

from collections.abc import Callable
from inspect import CO_COROUTINE
from typing import Any

from quart_trio import QuartTrio
from quart_trio.wrappers import TrioRequest

from galaxy.http.connection import InlineHTTPConnection


class GalaxyRequest(TrioRequest):
    _blueprints_of: tuple[object, list[str]] | None = None

    @property
    def blueprints(self) -> list[str]:
        rule = self.url_rule
        known = self._blueprints_of
        if known is not None and known[0] is rule:
            return known[1]
        found = super().blueprints
        self._blueprints_of = (rule, found)
        return found


class GalaxyQuart(QuartTrio):
    asgi_http_class = InlineHTTPConnection
    request_class = GalaxyRequest

    def ensure_async(self, func: Callable[..., Any]) -> Callable[..., Any]:
        code = getattr(func, "__code__", None)  # a function's, or a bound method's
        if code is not None and code.co_flags & CO_COROUTINE:
            return func
        return super().ensure_async(func)  # anything else as Quart decides
