"""An ASGI app served on a loopback port for the length of a test."""

from __future__ import annotations

from functools import partial
from typing import Any

import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve


async def serve_on_loopback(nursery: trio.Nursery, app: Any) -> str:
    """Serve `app` on hypercorn's trio worker in `nursery`; its base URL."""
    config = HypercornConfig()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    binds = await nursery.start(partial(serve, app, config, shutdown_trigger=trio.sleep_forever))
    return str(binds[0])
