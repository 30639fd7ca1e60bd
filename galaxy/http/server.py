"""Edge actors that serve ASGI apps on hypercorn's trio worker."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable
from typing import Any, ClassVar

import structlog
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve

from galaxy.actors import Actor, Context
from galaxy.config import Address, TLSConfig
from galaxy.domain.errors import StartupFailure, find_error

log = structlog.get_logger("galaxy.http")


class AsgiEdge(Actor[None]):
    """Serves `app` on `address` for the actor's lifetime.

    Started means bound: `on_start` returns once hypercorn listens. A graceful
    stop stops accepting connections and lets in-flight requests finish within
    `graceful_timeout`; hypercorn then closes what is left.
    """

    kind: ClassVar[str] = "http"
    helpers = True  # hypercorn runs as a helper task

    def __init__(
        self,
        app_factory: Callable[[], Any],
        address: Address,
        *,
        graceful_timeout: float,
        read_timeout: float = 30.0,
        on_bound: Callable[[list[str]], None] | None = None,
        label: str = "HTTP",
        tls: TLSConfig | None = None,
    ) -> None:
        self._app_factory = app_factory
        self.label = label  # names the listener in a start-up failure
        self._tls = tls  # the listener's TLS (mutual with a client CA), or None
        self.address = address
        self._graceful_timeout = graceful_timeout
        self._read_timeout = read_timeout
        self._on_bound = on_bound
        self._shutdown = trio.Event()
        self._served = trio.Event()
        self.binds: list[str] = []

    def _hypercorn_config(self) -> HypercornConfig:
        config = HypercornConfig()
        config.bind = [f"{self.address.bind_host}:{self.address.port}"]
        config.graceful_timeout = self._graceful_timeout
        config.read_timeout = int(self._read_timeout) or None
        config.keep_alive_timeout = 75
        config.accesslog = None  # the middleware writes the access log
        config.errorlog = logging.getLogger("hypercorn.error")
        if self._tls is not None:
            config.certfile = str(self._tls.cert_file)
            config.keyfile = str(self._tls.key_file)
            if self._tls.client_ca_file is not None:
                config.ca_certs = str(self._tls.client_ca_file)
                config.verify_mode = ssl.CERT_REQUIRED
        return config

    async def on_start(self, ctx: Context) -> None:
        app = self._app_factory()
        config = self._hypercorn_config()

        async def run(task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED) -> None:
            try:
                await serve(
                    app, config, shutdown_trigger=self._shutdown.wait, task_status=task_status
                )
            finally:
                self._served.set()

        try:
            self.binds = await ctx.nursery.start(run)
        except Exception as error:  # hypercorn's nursery may wrap the bind error in a group
            refused = find_error(error, OSError)
            if refused is None:
                raise
            raise StartupFailure.listen(self.label, str(self.address), refused) from error
        ctx.cell.details = lambda: {"binds": self.binds}
        if self._on_bound is not None:
            self._on_bound(self.binds)

    async def on_stop(self) -> None:
        self._shutdown.set()
        await self._served.wait()


def bound_port(binds: list[str]) -> int:
    """The port of hypercorn's first bind (`http://127.0.0.1:54321`)."""
    return int(binds[0].rsplit(":", 1)[1])
