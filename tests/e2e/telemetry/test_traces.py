"""A request's trace follows it from the HTTP edge into a game actor, the engine and the store."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.e2e.runtime.test_lifecycle import started_game
from tests.support.contract import ContractClient
from tests.support.mail import eventually
from tests.support.service import Running, admin_auth


async def test_a_forced_turn_is_one_trace_tied_to_its_request_id(
    running: Running, http: ContractClient
) -> None:
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    spans = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    _, _, gid = await started_game(running, http)
    spans.clear()
    response = await http.post(
        f"/api/v1/admin/runtimes/{gid}/force-next-turn",
        auth=admin_auth(),
        headers={"X-Request-ID": "trace-me-1"},
    )
    assert response.status_code == 200

    async def ended() -> bool:  # the server span ends just after the response is sent
        return any(
            (s.attributes or {}).get("request_id") == "trace-me-1"
            for s in spans.get_finished_spans()
        )

    await eventually(ended)
    finished = spans.get_finished_spans()
    (server,) = [s for s in finished if (s.attributes or {}).get("request_id") == "trace-me-1"]
    same_trace = [s for s in finished if s.context.trace_id == server.context.trace_id]
    names = {s.name for s in same_trace}
    assert {"POST admin", "runtime.force-next-turn", "engine PUT /api/v1/admin/turn"} <= names
    assert any(name.startswith("runtime.") and name != "runtime.force-next-turn" for name in names)
    by_id = {s.context.span_id: s for s in same_trace}
    engine = next(s for s in same_trace if s.name == "engine PUT /api/v1/admin/turn")
    # The engine call's ancestry leads back to the HTTP request.
    ancestor = engine
    while ancestor.parent is not None and ancestor.parent.span_id in by_id:
        ancestor = by_id[ancestor.parent.span_id]
    assert ancestor is server


async def test_a_request_carrying_a_callers_span_is_in_the_callers_trace(
    running: Running, http: ContractClient
) -> None:
    """The forwarding hop sends its span as W3C `traceparent`: the owner's server span is
    its child, so a forwarded call is one trace (services/forwarding.py)."""
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    spans = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(spans))
    caller_trace, caller_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    response = await http.get(
        "/api/v1/admin/runtimes/00000000-0000-4000-8000-000000000001",
        auth=admin_auth(),
        headers={
            "X-Request-ID": "trace-me-2",
            "traceparent": f"00-{caller_trace}-{caller_span}-01",
        },
    )
    assert response.status_code == 404

    async def ended() -> bool:
        return any(
            (s.attributes or {}).get("request_id") == "trace-me-2"
            for s in spans.get_finished_spans()
        )

    await eventually(ended)
    finished = spans.get_finished_spans()
    (server,) = [s for s in finished if (s.attributes or {}).get("request_id") == "trace-me-2"]
    assert format(server.context.trace_id, "032x") == caller_trace
    assert server.parent is not None and format(server.parent.span_id, "016x") == caller_span
