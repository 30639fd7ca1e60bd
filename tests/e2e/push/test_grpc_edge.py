"""The gRPC listener: it serves, and open streams end when the service stops.

The client is a real grpclib client on a plain asyncio loop in a thread of
its own, as a gateway would be: nothing is shared with the service's loop.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import trio
from grpclib.client import Channel
from grpclib.health.v1.health_grpc import HealthStub
from grpclib.health.v1.health_pb2 import HealthCheckRequest, HealthCheckResponse

from galaxy.push.client import run_client
from tests.support.service import Running


def grpc_port(running: Running) -> int:
    return int(running.endpoints.grpc.rsplit(":", 1)[1])


async def test_health_check_answers_serving(running: Running) -> None:
    port = grpc_port(running)

    async def check() -> Any:
        channel = Channel("127.0.0.1", port)
        try:
            return await HealthStub(channel).Check(HealthCheckRequest())
        finally:
            channel.close()

    reply = await trio.to_thread.run_sync(run_client, check())
    assert reply.status == HealthCheckResponse.SERVING


async def test_an_open_stream_ends_when_the_service_stops(running: Running) -> None:
    port = grpc_port(running)
    watching = threading.Event()
    outcome: dict[str, Any] = {}

    async def watch() -> None:
        channel = Channel("127.0.0.1", port)
        try:
            async with HealthStub(channel).Watch.open() as stream:
                await stream.send_message(HealthCheckRequest(), end=True)
                first = await stream.recv_message()
                assert first is not None
                outcome["first"] = first.status
                watching.set()
                try:
                    while await stream.recv_message() is not None:
                        pass
                    outcome["end"] = "end of stream"
                except Exception as error:  # the server went away mid-stream
                    outcome["end"] = type(error).__name__
        finally:
            channel.close()

    def client() -> None:
        # A hang here would fail the test through the timeout, not hang CI.
        run_client(asyncio.wait_for(watch(), 30))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio.to_thread.run_sync, client)
        await trio.to_thread.run_sync(watching.wait)
        running.service.stop()
    assert outcome["first"] == HealthCheckResponse.SERVING
    assert "end" in outcome  # the client saw the stream close instead of hanging
    await running.service.stopped.wait()
    assert running.service.system.root is not None
    assert running.service.system.root.status.value == "stopped"


async def test_readiness_follows_the_grpc_listener(running: Running) -> None:
    assert running.service.readiness.grpc_bound
    running.service.stop()
    await running.service.stopped.wait()
    assert not running.service.readiness.grpc_bound
