"""The embedded SMTP sink: what it holds open is closed however it stops."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from galaxy.actors import ActorSystem, ChildSpec, Supervisor
from galaxy.bridge import open_asyncio_loop
from galaxy.embedded.smtp_sink import SmtpSink


@pytest.mark.parametrize("graceful", [True, False], ids=["stopped", "cancelled"])
async def test_a_connection_still_open_is_closed_when_the_sink_stops(
    tmp_path: Path, graceful: bool
) -> None:
    async with open_asyncio_loop():
        system = ActorSystem()
        spec = ChildSpec("sink", lambda: SmtpSink(tmp_path / "mail"))
        async with trio.open_nursery() as nursery:
            await nursery.start(system.run, "root", lambda: Supervisor(children=[spec]))
            port = system.details("sink")["address"]
            assert isinstance(port, str)
            client = await trio.open_tcp_stream("127.0.0.1", int(port.rsplit(":", 1)[1]))
            async with client:
                assert (await client.receive_some()).startswith(b"220 ")  # the greeting
                if graceful:
                    system.request_stop()
                else:
                    nursery.cancel_scope.cancel()  # as a stop past its timeout is
                # Shielded from the cancel above; the deadline turns a hang into a failure.
                with trio.CancelScope(shield=True), trio.fail_after(30):
                    assert await client.receive_some() == b""  # the sink closed it
