"""The trust boundary: only the gateway reaches the user and internal surfaces and the push stream.

With `BACKEND_GATEWAY_TOKEN`, the gateway's bearer token is checked on every
call of those surfaces (the session lookup below Quart too) and on the push
stream, and `X-Forwarded-For` names the end user only on the gateway's
requests. With `BACKEND_TLS_*` and a client CA, the listeners speak mutual TLS.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import trio
import trustme
from grpclib import GRPCError
from grpclib.const import Status

from galaxy.config import load_config
from tests.support.contract import ContractClient, assert_error_body
from tests.support.gateway import Gateway
from tests.support.geo import BRITAIN, country_database
from tests.support.players import sign_up
from tests.support.service import Running, admin_auth, service_environ, start_service

TOKEN = "gateway-token-number-one-0123456789"
NEXT_TOKEN = "gateway-token-number-two-0123456789"
GATEWAY = {"Authorization": f"Bearer {TOKEN}"}


def grpc_port(running: Running) -> int:
    return int(running.endpoints.grpc.rsplit(":", 1)[1])


@pytest.fixture
async def guarded(
    db_dsn: str, tmp_path: Path, nursery: trio.Nursery
) -> AsyncIterator[tuple[Running, ContractClient]]:
    environ = service_environ(
        db_dsn,
        tmp_path,
        BACKEND_GATEWAY_TOKEN=f"{TOKEN},{NEXT_TOKEN}",
        BACKEND_GEOIP_DB_PATH=str(country_database(tmp_path / "countries.mmdb")),
    )
    running = await start_service(nursery, load_config(environ))
    async with httpx.AsyncClient(base_url=running.http, timeout=30) as client:
        yield running, ContractClient(client)
    running.service.stop()


async def test_only_the_gateway_reaches_the_user_and_internal_surfaces(
    guarded: tuple[Running, ContractClient],
) -> None:
    running, http = guarded
    user, session = await sign_up(
        http, running, "anne@example.org", BRITAIN, sent_with=GATEWAY, looked_up_with=GATEWAY
    )
    lookup = f"/api/v1/internal/sessions/{session}"
    account = "/api/v1/user/account"
    strangers = [
        {},
        {"Authorization": "Bearer not-the-token-but-long-enough-0123"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN[:-1]}"},
    ]
    for headers in strangers:
        assert_error_body(await http.get(lookup, headers=headers), 401, "gateway_unauthorized")
        as_anne = await http.get(account, headers={"X-User-ID": user, **headers})
        assert_error_body(as_anne, 401, "gateway_unauthorized")
        revoke = await http.post(f"{lookup}/revoke", headers=headers)
        assert_error_body(revoke, 401, "gateway_unauthorized")
        email = await http.get(f"/api/v1/internal/users/{user}/account-internal", headers=headers)
        assert_error_body(email, 401, "gateway_unauthorized")
    # Either token of a rotation is the gateway's.
    for token in (TOKEN, NEXT_TOKEN):
        gateway = {"Authorization": f"Bearer {token}"}
        assert (await http.get(lookup, headers=gateway)).status_code == 200
        mine = await http.get(account, headers={"X-User-ID": user, **gateway})
        assert mine.status_code == 200
    # The gateway named the end user's address: their country was declared.
    assert mine.json()["declared_country"] == "GB"
    # Operators, the public surface and the probes need no gateway token.
    assert (await http.get("/api/v1/admin/users", auth=admin_auth())).status_code == 200
    assert (await http.get("/readyz")).status_code == 200


async def test_a_forwarded_address_counts_only_from_the_gateway(
    guarded: tuple[Running, ContractClient],
) -> None:
    running, http = guarded
    # Straight to the backend, naming a British address: not believed.
    user, _ = await sign_up(http, running, "bob@example.org", BRITAIN, looked_up_with=GATEWAY)
    account = await http.get("/api/v1/user/account", headers={"X-User-ID": user, **GATEWAY})
    assert account.json()["declared_country"] is None  # its X-Forwarded-For was not believed


async def test_the_push_stream_takes_the_gateway_and_its_own_credential_only(
    guarded: tuple[Running, ContractClient],
) -> None:
    running, _ = guarded
    port = grpc_port(running)
    anonymous = await Gateway(port, "gw-1").start()
    refused = await anonymous.next()
    assert isinstance(refused, GRPCError) and refused.status is Status.UNAUTHENTICATED
    wrong = await Gateway(port, "gw-1", token="x" * 32).start()
    refused = await wrong.next()
    assert isinstance(refused, GRPCError) and refused.status is Status.UNAUTHENTICATED

    held = await Gateway(port, "gw-1", token=TOKEN).start()
    try:
        assert held.resume == "fresh"
        # Another valid credential may not take over a live stream's id ...
        usurper = await Gateway(port, "gw-1", token=NEXT_TOKEN).start()
        refused = await usurper.next()
        assert isinstance(refused, GRPCError) and refused.status is Status.PERMISSION_DENIED
        # ... while the holder itself reconnects as before, replacing its old stream.
        again = await Gateway(port, "gw-1", token=TOKEN).start()
        ended = await held.next()
        assert isinstance(ended, GRPCError) and ended.status is Status.ABORTED
        await again.close()
    finally:
        await held.close()


def _write(ca: trustme.CA, cert: trustme.LeafCert, folder: Path, name: str) -> tuple[Path, Path]:
    certificate, key = folder / f"{name}.pem", folder / f"{name}.key"
    cert.cert_chain_pems[0].write_to_path(str(certificate))
    cert.private_key_pem.write_to_path(str(key))
    return certificate, key


async def test_mutual_tls_admits_the_gateways_certificate_only(
    db_dsn: str, tmp_path: Path, nursery: trio.Nursery
) -> None:
    ca = trustme.CA()
    server_cert, server_key = _write(ca, ca.issue_cert("127.0.0.1"), tmp_path, "server")
    client = ca.issue_cert("gateway.internal")
    client_ca = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(client_ca))
    environ = service_environ(
        db_dsn,
        tmp_path,
        BACKEND_TLS_CERT_FILE=str(server_cert),
        BACKEND_TLS_KEY_FILE=str(server_key),
        BACKEND_TLS_CLIENT_CA_FILE=str(client_ca),
    )
    running = await start_service(nursery, load_config(environ))
    try:
        assert running.http.startswith("https://")
        trusted = ssl.create_default_context()
        ca.configure_trust(trusted)
        with_cert = ssl.create_default_context()
        ca.configure_trust(with_cert)
        client.configure_cert(with_cert)
        async with httpx.AsyncClient(base_url=running.http, verify=with_cert) as gateway:
            assert (await gateway.get("/readyz")).status_code == 200
        async with httpx.AsyncClient(base_url=running.http, verify=trusted) as stranger:
            with pytest.raises(httpx.TransportError):
                await stranger.get("/readyz")

        grpc_trusted = ssl.create_default_context()
        ca.configure_trust(grpc_trusted)
        grpc_trusted.set_alpn_protocols(["h2"])
        grpc_with_cert = ssl.create_default_context()
        ca.configure_trust(grpc_with_cert)
        client.configure_cert(grpc_with_cert)
        grpc_with_cert.set_alpn_protocols(["h2"])
        port = grpc_port(running)
        admitted = await Gateway(port, "gw-tls", ssl=grpc_with_cert).start()
        try:
            assert admitted.resume == "fresh"
        finally:
            await admitted.close()
        stranger_stream = await Gateway(port, "gw-other", ssl=grpc_trusted).start()
        refused = await stranger_stream.next()  # the handshake fails: no certificate
        assert isinstance(refused, Exception), refused
    finally:
        running.service.stop()
