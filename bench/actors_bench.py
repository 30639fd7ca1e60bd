"""Actor tell/ask throughput against a bare trio memory channel; memory per idle actor."""

from __future__ import annotations

import gc
import time
import tracemalloc
from dataclasses import dataclass
from typing import Any

import trio

from bench.report import Report, Row
from galaxy.actors import Actor, ActorSystem, ChildSpec, Restart, Supervisor
from galaxy.actors.actor import Ask

MESSAGES = 100_000
IDLE_ACTORS = 10_000


@dataclass(frozen=True)
class Count(Ask[int]):
    """Asked of the sink: how many messages it has handled."""


class Sink(Actor[Any]):
    kind = "sink"
    mailbox_capacity = 1024

    def __init__(self) -> None:
        self.count = 0

    async def handle(self, message: Any) -> Any:
        self.count += 1
        return self.count


async def _bare_channel_one_way() -> float:
    send, receive = trio.open_memory_channel[int](1024)
    done = trio.Event()

    async def consume() -> None:
        count = 0
        async for _ in receive:
            count += 1
            if count == MESSAGES:
                done.set()
                return

    async with trio.open_nursery() as nursery:
        nursery.start_soon(consume)
        began = time.perf_counter()
        for i in range(MESSAGES):
            await send.send(i)
        await done.wait()
        return MESSAGES / (time.perf_counter() - began)


async def _bare_channel_round_trip() -> float:
    send, receive = trio.open_memory_channel[tuple[int, Any]](1024)

    async def serve() -> None:
        async for value, reply in receive:
            reply.send_nowait(value)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve)
        began = time.perf_counter()
        rounds = MESSAGES // 4
        for i in range(rounds):
            reply_send, reply_receive = trio.open_memory_channel[int](1)
            await send.send((i, reply_send))
            await reply_receive.receive()
        rate = rounds / (time.perf_counter() - began)
        nursery.cancel_scope.cancel()
        return rate


async def _actor_rates() -> tuple[float, float]:
    system = ActorSystem()
    async with trio.open_nursery() as nursery:
        await nursery.start(
            system.run, "root", lambda: Supervisor(children=[ChildSpec("sink", Sink)])
        )
        ref = system.lookup("sink")
        began = time.perf_counter()
        for i in range(MESSAGES):
            await ref.tell(i)
        await ref.ask(Count())
        tell_rate = (MESSAGES + 1) / (time.perf_counter() - began)
        began = time.perf_counter()
        rounds = MESSAGES // 4
        for _ in range(rounds):
            await ref.ask(Count())
        ask_rate = rounds / (time.perf_counter() - began)
        system.request_stop()
    return tell_rate, ask_rate


async def _idle_actor_bytes() -> tuple[float, float]:
    """Bytes per idle actor under a dynamic supervisor, and per bare idle trio task."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.take_snapshot()

    async def idle_task(receive: trio.MemoryReceiveChannel[int]) -> None:
        async for _ in receive:
            pass

    async with trio.open_nursery() as nursery:
        channels = []
        for _ in range(IDLE_ACTORS):
            send, receive = trio.open_memory_channel[int](256)
            channels.append(send)
            nursery.start_soon(idle_task, receive)
        await trio.testing.wait_all_tasks_blocked()
        gc.collect()
        bare = _allocated_since(base) / IDLE_ACTORS
        nursery.cancel_scope.cancel()
    del channels
    gc.collect()
    base = tracemalloc.take_snapshot()
    system = ActorSystem()
    async with trio.open_nursery() as nursery:
        await nursery.start(
            system.run, "root", lambda: Supervisor(children=[ChildSpec("games", Supervisor)])
        )
        for i in range(IDLE_ACTORS):
            await system.spawn("games", ChildSpec(f"idle:{i}", Sink, restart=Restart.TRANSIENT))
        await trio.testing.wait_all_tasks_blocked()
        gc.collect()
        per_actor = _allocated_since(base) / IDLE_ACTORS
        system.request_stop()
    tracemalloc.stop()
    return per_actor, bare


def _allocated_since(base: tracemalloc.Snapshot) -> float:
    now = tracemalloc.take_snapshot()
    return float(sum(stat.size_diff for stat in now.compare_to(base, "filename")))


def run(report: Report) -> None:
    import trio.testing  # wait_all_tasks_blocked

    bare_one_way = trio.run(_bare_channel_one_way)
    bare_round_trip = trio.run(_bare_channel_round_trip)
    tell_rate, ask_rate = trio.run(_actor_rates)
    report.add(Row("actor tell throughput", tell_rate, "msg/s", "trio channel send", bare_one_way))
    report.add(
        Row("actor ask throughput", ask_rate, "ask/s", "trio channel round trip", bare_round_trip)
    )
    per_actor, per_task = trio.run(_idle_actor_bytes)
    report.add(
        Row(
            f"memory per idle actor ({IDLE_ACTORS:,})",
            per_actor,
            "bytes",
            "task + channel",
            per_task,
        )
    )
