"""The one place where trio code calls into asyncio-only libraries.

trio is the root loop; grpclib, aiosmtplib, aiodocker and aiosmtpd run on
the trio-asyncio loop opened by the application. The database does not cross:
psycopg is driven by trio directly (galaxy/store/trio_psycopg.py). A crossing costs
~40 µs, so the rule (ARCHITECTURE.md §2) is one crossing per unit of work:
call `to_asyncio(fn)(...)` with a coroutine function that does the whole job.
"""

from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar

import trio_asyncio

P = ParamSpec("P")
T = TypeVar("T")


def to_trio(fn: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    """Wrap a trio async function so that asyncio code (a grpclib handler) can await it."""
    wrapped: Callable[P, Awaitable[T]] = trio_asyncio.trio_as_aio(fn)
    return wrapped


def to_asyncio(fn: Callable[P, Awaitable[T]], loop: Any = None) -> Callable[P, Awaitable[T]]:
    """Wrap an asyncio coroutine function so that trio code can await it.

    `loop` pins the crossing to a given loop (see `current_asyncio_loop`), so
    an object opened under one loop can be used from any trio task.
    """
    wrapped: Callable[P, Awaitable[T]] = trio_asyncio.aio_as_trio(fn, loop=loop)
    return wrapped


def current_asyncio_loop() -> Any:
    """The trio-asyncio loop of the calling context."""
    return trio_asyncio.current_loop.get()


open_asyncio_loop = trio_asyncio.open_loop
