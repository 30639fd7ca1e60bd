"""A fake Docker Engine API on a unix socket: just the endpoints the docker driver's open() uses.

The sandbox engine forbids `docker network create` (it would add a bridge to
the host), so the driver's create path and its race with another backend are
tested against this fake; the exists path runs against the real engine.
aiodocker talks HTTP/1.1 to `unix://<path>`, which h11 serves here.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import h11
import trio

API = re.compile(r"^(?:/v[0-9.]+)?(/.*)$")


@dataclass
class Request:
    method: str
    path: str  # without the /v1.xx prefix
    body: Any


@dataclass
class FakeDocker:
    socket_path: Path
    networks: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    # Inspections wait until this many have arrived: backends racing at boot.
    inspect_barrier: int = 1
    # The create answer when the name is new: None creates it; a status fails it.
    create_failure: tuple[int, str] | None = None
    _inspected: int = 0
    _all_inspected: trio.Event = field(default_factory=trio.Event)

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    def created(self) -> list[Request]:
        return [r for r in self.requests if r.path == "/networks/create"]

    async def serve(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        sock = trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_STREAM)
        await sock.bind(str(self.socket_path))
        sock.listen()
        task_status.started()
        await trio.serve_listeners(self._connection, [trio.SocketListener(sock)])

    async def _connection(self, stream: trio.SocketStream) -> None:
        connection = h11.Connection(h11.SERVER)
        request: h11.Request | None = None
        body = b""
        try:
            while True:
                event = connection.next_event()
                if event is h11.NEED_DATA:
                    connection.receive_data(await stream.receive_some(65536))
                elif isinstance(event, h11.Request):
                    request, body = event, b""
                elif isinstance(event, h11.Data):
                    body += event.data
                elif isinstance(event, h11.EndOfMessage) and request is not None:
                    status, payload = await self._answer(request, body)
                    await self._respond(stream, connection, status, json.dumps(payload).encode())
                    connection.start_next_cycle()
                else:  # ConnectionClosed, or anything this fake does not speak
                    return
        except (trio.BrokenResourceError, trio.ClosedResourceError, h11.ProtocolError):
            return
        finally:
            await stream.aclose()

    @staticmethod
    async def _respond(
        stream: trio.SocketStream, connection: h11.Connection, status: int, raw: bytes
    ) -> None:
        headers = [("content-type", "application/json"), ("content-length", str(len(raw)))]
        for event in (
            h11.Response(status_code=status, headers=headers),
            h11.Data(data=raw),
            h11.EndOfMessage(),
        ):
            data = connection.send(event)
            assert data is not None
            await stream.send_all(data)

    async def _answer(self, request: h11.Request, body: bytes) -> tuple[int, Any]:
        method = request.method.decode()
        match = API.match(urlsplit(request.target.decode()).path)
        path = match.group(1) if match else ""
        self.requests.append(Request(method, path, json.loads(body) if body else None))
        if path == "/version":
            return 200, {"Version": "fake", "ApiVersion": "1.41", "MinAPIVersion": "1.12"}
        if method == "POST" and path == "/networks/create":
            return self._create(self.requests[-1].body)
        if method == "GET" and path.startswith("/networks/"):
            name = path.removeprefix("/networks/")
            self._inspected += 1
            if self._inspected >= self.inspect_barrier:
                self._all_inspected.set()
            await self._all_inspected.wait()
            if name in self.networks:
                return 200, self.networks[name]
            return 404, {"message": f"network {name} not found"}
        return 404, {"message": "page not found"}

    def _create(self, config: dict[str, Any]) -> tuple[int, Any]:
        name = config["Name"]
        if name in self.networks:
            return 409, {"message": f"network with name {name} already exists"}
        if self.create_failure is not None:
            status, message = self.create_failure
            return status, {"message": message}
        network_id = uuid.uuid4().hex
        self.networks[name] = {"Name": name, "Id": network_id, "Labels": config.get("Labels")}
        return 201, {"Id": network_id, "Warning": ""}
