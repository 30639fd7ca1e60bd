"""A gateway for tests: a real grpclib client on its own asyncio loop, in a thread.

Nothing is shared with the service's loop, as with a real gateway process.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from typing import Any

import trio

from galaxy.proto.push.v1 import push_pb2
from galaxy.push.client import run_client, subscribe

END = object()  # the stream ended normally


class Gateway:
    def __init__(
        self,
        port: int,
        client_id: str,
        cursor: str = "",
        *,
        token: str | None = None,
        ssl: Any = None,
    ) -> None:
        self.port = port
        self.client_id = client_id
        self.cursor = cursor
        self.token = token
        self.ssl = ssl
        self.items: queue.Queue[Any] = queue.Queue()
        self.resume: str | None = None
        self.subscribed = threading.Event()
        self.reading = threading.Event()  # cleared: the gateway stops reading (a slow reader)
        self.reading.set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def start(self) -> Gateway:
        self._thread.start()
        await trio.to_thread.run_sync(self.subscribed.wait, 20)
        return self

    def _run(self) -> None:
        run_client(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        try:
            async with subscribe(
                "127.0.0.1", self.port, self.client_id, self.cursor, token=self.token, ssl=self.ssl
            ) as sub:
                self.resume = sub.resume
                self.subscribed.set()
                async for event in sub:
                    if not self.reading.is_set():
                        await asyncio.to_thread(self.reading.wait)
                    self.items.put(event)
            self.items.put(END)
        except asyncio.CancelledError:
            self.items.put(END)
        except Exception as error:  # GRPCError and friends: the test inspects them
            self.items.put(error)
        finally:
            self.subscribed.set()

    async def next(self, timeout: float = 20) -> Any:  # noqa: ASYNC109 - a thread queue's wait
        """The next item: a PushEvent, END, or the exception that ended the stream."""
        return await trio.to_thread.run_sync(self.items.get, True, timeout)

    async def events(self, count: int) -> list[push_pb2.PushEvent]:
        got = []
        for _ in range(count):
            item = await self.next()
            assert isinstance(item, push_pb2.PushEvent), item
            got.append(item)
        return got

    async def close(self) -> None:
        """Hang up, as a gateway that goes away."""
        if self._loop is not None and self._task is not None and not self._task.done():
            self._loop.call_soon_threadsafe(self._task.cancel)
        await trio.to_thread.run_sync(self._thread.join, 20)
