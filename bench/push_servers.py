"""Servers for the push benchmark, each in a process of its own.

`floor N`: a bare grpclib server (plain asyncio) whose SubscribePush streams N
prebuilt events to the subscriber as fast as it can: the floor.
`galaxy N`: a whole service; once a gateway subscribes, N events are
published through the hub in bursts of 100.
`latency RATE SECONDS`: a whole service publishing RATE events per second,
each carrying its publish time, for SECONDS.
`produce`: a whole service that publishes bursts of 100 for as long as it
runs, holding back while its relay has more than a few bursts waiting; it
prints its database's DSN.
`consume DSN`: a whole service on that database, publishing nothing: what a
gateway subscribed to it receives was produced on the other instance.
Each prints one JSON line with its gRPC port (or DSN) once it listens.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import signal
import sys
import tempfile
import time
from typing import Any, cast

BURST = 100


def _event(n: int) -> Any:
    from galaxy.proto.push.v1 import push_pb2
    from galaxy.services.push import typed_event

    event = typed_event("game.turn.ready", {"game_id": "bench", "turn": n})
    return push_pb2.PushEvent(
        cursor=f"{n:020d}",
        client_event=push_pb2.ClientEvent(
            user_id="u", kind=event.kind, payload=event.marshal(), content_type=event.content_type
        ),
    )


def run_floor(count: int) -> None:
    from grpclib.server import Server

    from galaxy.proto.push.v1 import push_grpc

    events = [_event(n) for n in range(count)]

    class Floor(push_grpc.PushBase):
        async def SubscribePush(self, stream: Any) -> None:
            await stream.recv_message()
            for event in events:
                await stream.send_message(event)

    async def main() -> None:
        server = Server([Floor()])
        await server.start("127.0.0.1", 0)
        print(
            json.dumps({"port": cast(asyncio.Server, server._server).sockets[0].getsockname()[1]}),
            flush=True,
        )
        await server.wait_closed()

    from galaxy.push.client import run_client

    run_client(main())


def run_galaxy(mode: str, args: list[str]) -> None:
    import trio

    from galaxy.app import Service
    from galaxy.config import load_config
    from galaxy.logging import configure_logging
    from galaxy.services.push import JSONEvent, typed_event

    configure_logging("warning", "galaxy-bench")
    environ = {
        "BACKEND_DATA_DIR": tempfile.mkdtemp(prefix="galaxy-bench-"),
        "BACKEND_HTTP_LISTEN_ADDR": "127.0.0.1:0",
        "BACKEND_GRPC_PUSH_LISTEN_ADDR": "127.0.0.1:0",
        "BACKEND_LOGGING_LEVEL": "warning",
        "BACKEND_PUSH_SUBSCRIBER_QUEUE": "100000",
    }
    if mode == "consume":
        environ["BACKEND_POSTGRES_DSN"] = args[0]
    config = load_config(environ)

    async def produce(service: Any) -> None:
        relay = service.services.push_relay
        for n in itertools.count():
            while relay.details()["waiting"] > 4 * BURST:  # noqa: ASYNC110 - a counter, polled
                await trio.sleep(0.001)
            for turn in range(n * BURST, (n + 1) * BURST):
                service.push.publish_client_event(
                    "u", None, typed_event("game.turn.ready", {"game_id": "bench", "turn": turn})
                )
            await trio.lowlevel.checkpoint()

    async def publish(hub: Any) -> None:
        await hub.wait_subscribers(1)
        if mode == "galaxy":
            count = int(args[0])
            for start in range(0, count, BURST):
                for n in range(start, min(start + BURST, count)):
                    hub.publish_client_event(
                        "u",
                        None,
                        typed_event("game.turn.ready", {"game_id": "bench", "turn": n}),
                    )
                await trio.lowlevel.checkpoint()  # let the gateway actor hand the burst over
        else:
            rate, seconds = float(args[0]), float(args[1])
            began = trio.current_time()
            for n in range(int(rate * seconds)):
                await trio.sleep_until(began + n / rate)
                hub.publish_client_event("u", None, JSONEvent("bench.tick", {"t": time.time_ns()}))

    async def main() -> None:
        # Terminated, it stops as `galaxy run` does: gracefully, its embedded
        # PostgreSQL last (killed, it would leave that server running).
        with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            async with trio.open_nursery() as nursery:
                service = Service(config)
                endpoints = await nursery.start(service.run)
                if mode == "produce":
                    assert service.services is not None  # built once the service runs
                    print(json.dumps({"dsn": service.services.db.dsn}), flush=True)
                else:
                    print(json.dumps({"port": int(endpoints.grpc.rsplit(":", 1)[1])}), flush=True)
                async with trio.open_nursery() as publishing:
                    if mode == "produce":
                        publishing.start_soon(produce, service)
                    elif mode != "consume":
                        publishing.start_soon(publish, service.push)
                    async for _ in signals:
                        break
                    publishing.cancel_scope.cancel()
                service.stop()

    trio.run(main)


if __name__ == "__main__":
    kind, *rest = sys.argv[1:]
    if kind == "floor":
        run_floor(int(rest[0]))
    else:
        run_galaxy(kind, rest)
