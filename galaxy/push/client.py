"""A gateway-side SubscribePush client, for operators (`galaxy push tail`) and tests.

It runs on plain asyncio (as a gateway would), not on the service's loop.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from asyncio import BaseTransport
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from ssl import SSLContext
from typing import Any, TypeVar

from google.protobuf.json_format import MessageToDict
from grpclib.client import Channel
from grpclib.protocol import H2Protocol

from galaxy.proto.push.v1 import events_pb2, push_grpc, push_pb2
from galaxy.push.gateway import RESUME_METADATA

T = TypeVar("T")
_PROTO_PREFIX = "application/x-protobuf; messageType="


@dataclass
class Subscription:
    stream: Any
    resume: str  # "resumed" or "fresh"
    ended: bool = False

    async def __aiter__(self) -> AsyncIterator[push_pb2.PushEvent]:
        while True:
            event = await self.stream.recv_message()
            if event is None:
                self.ended = True
                return
            yield event


# How long a closing subscription waits for its connection to be gone (over TLS, for the
# server's answer to our close_notify) before it drops the connection without it.
CLOSE_TIMEOUT = 2.0


class _Protocol(H2Protocol):
    """grpclib's client protocol, which says when its connection is gone."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.transport: asyncio.Transport | None = None  # once connected
        self.lost = asyncio.Event()

    def connection_made(self, transport: BaseTransport) -> None:
        if isinstance(transport, asyncio.Transport):  # a TCP or TLS stream's, always
            self.transport = transport
        super().connection_made(transport)

    def connection_lost(self, exc: BaseException | None) -> None:
        self.lost.set()
        super().connection_lost(exc)


class _Channel(Channel):
    """A grpclib Channel whose `aclose` returns once the connection is closed.

    `Channel.close` only begins it: over TLS the socket closes after the server
    has answered our close_notify, and a loop that ends before that (a client
    returning from `run_client`) leaves the socket open for good.
    """

    _opened: _Protocol | None = None

    def _protocol_factory(self) -> H2Protocol:
        base = super()._protocol_factory()
        self._opened = _Protocol(base.handler, base.config, base.h2_config)
        return self._opened

    async def aclose(self) -> None:
        protocol = self._opened
        self.close()
        if protocol is None or protocol.transport is None:
            return  # never connected: nothing is open
        try:
            await asyncio.wait_for(protocol.lost.wait(), CLOSE_TIMEOUT)
        except TimeoutError:
            protocol.transport.abort()


@asynccontextmanager
async def subscribe(
    host: str,
    port: int,
    gateway_client_id: str,
    cursor: str = "",
    *,
    token: str | None = None,
    ssl: SSLContext | None = None,
) -> AsyncIterator[Subscription]:
    """Open a stream as the gateway (its bearer `token`; `ssl` for a TLS listener, with the
    gateway's certificate for mutual TLS); iterate the yielded subscription for events."""
    channel = _Channel(host, port, ssl=ssl)
    metadata = {"authorization": f"Bearer {token}"} if token else None
    try:
        async with push_grpc.PushStub(channel).SubscribePush.open(metadata=metadata) as stream:
            await stream.send_message(
                push_pb2.GatewaySubscribeRequest(
                    gateway_client_id=gateway_client_id, cursor=cursor
                ),
                end=True,
            )
            await stream.recv_initial_metadata()
            initial = dict(stream.initial_metadata or {})
            subscription = Subscription(stream, str(initial.get(RESUME_METADATA, "")))
            try:
                yield subscription
            finally:
                if not subscription.ended:
                    # Leaving early: reset the stream instead of waiting for
                    # trailers that only come when the server ends it.
                    with contextlib.suppress(Exception):  # it may have ended meanwhile
                        await stream.cancel()
    finally:
        await channel.aclose()


def run_client(main: Coroutine[Any, Any, T]) -> T:
    """Run client code on a stock asyncio loop, as a gateway process would.

    Importing galaxy installs trio-asyncio's event loop policy, which would
    otherwise run `asyncio.run` on trio-asyncio's synchronous loop.
    """
    with asyncio.Runner(loop_factory=asyncio.SelectorEventLoop) as runner:
        return runner.run(main)


def decode_payload(event: push_pb2.ClientEvent) -> Any:
    """The payload as JSON-able data: typed messages through their schema."""
    if event.content_type.startswith(_PROTO_PREFIX):
        name = event.content_type.removeprefix(_PROTO_PREFIX).rsplit(".", 1)[-1]
        message_class = getattr(events_pb2, name, None)
        if message_class is not None:
            message = message_class()
            message.ParseFromString(event.payload)
            return MessageToDict(message, preserving_proto_field_name=True)
    if event.content_type == "application/json":
        return json.loads(event.payload)
    return {"base64": base64.b64encode(event.payload).decode()}


def event_to_json(event: push_pb2.PushEvent) -> dict[str, Any]:
    which = event.WhichOneof("kind")
    if which == "client_event":
        client = event.client_event
        return {
            "cursor": event.cursor,
            "type": "client_event",
            "user_id": client.user_id,
            "device_session_id": client.device_session_id
            if client.HasField("device_session_id")
            else None,
            "kind": client.kind,
            "payload": decode_payload(client),
            "event_id": client.event_id,
            "request_id": client.request_id,
            "trace_id": client.trace_id,
        }
    invalidation = event.session_invalidation
    return {
        "cursor": event.cursor,
        "type": "session_invalidation",
        "user_id": invalidation.user_id,
        "device_session_ids": list(invalidation.device_session_ids),
        "reason": invalidation.reason,
    }
