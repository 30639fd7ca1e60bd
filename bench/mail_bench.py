"""Mail outbox: deliveries per second, enqueue to SMTP sink, against a bare aiosmtplib loop."""

from __future__ import annotations

import tempfile
import time
from email.message import EmailMessage

import aiosmtplib
import trio

from bench.report import Report, Row
from galaxy.app import Service
from galaxy.config import load_config
from galaxy.push.client import run_client
from tests.support.smtp import SmtpSink

MESSAGES = 400
WORKERS = 2


def bare_loop(port: int) -> float:
    async def main() -> float:
        began = time.perf_counter()
        for n in range(MESSAGES):
            message = EmailMessage()
            message["From"] = "galaxy@bench.example"
            message["To"] = f"p{n}@example.org"
            message["Subject"] = "bench"
            message.set_content("bench\n")
            await aiosmtplib.send(message, hostname="127.0.0.1", port=port, start_tls=False)
        return MESSAGES / (time.perf_counter() - began)

    return run_client(main())


def outbox_rate(port: int) -> float:
    config = load_config(
        {
            "BACKEND_DATA_DIR": tempfile.mkdtemp(prefix="galaxy-bench-"),
            "BACKEND_HTTP_LISTEN_ADDR": "127.0.0.1:0",
            "BACKEND_GRPC_PUSH_LISTEN_ADDR": "127.0.0.1:0",
            "BACKEND_LOGGING_LEVEL": "warning",
            "BACKEND_SMTP_HOST": "127.0.0.1",
            "BACKEND_SMTP_PORT": str(port),
            "BACKEND_SMTP_TLS_MODE": "none",
            "BACKEND_SMTP_FROM": "galaxy@bench.example",
            "BACKEND_MAIL_WORKERS": str(WORKERS),
        }
    )

    async def main() -> float:
        async with trio.open_nursery() as nursery:
            service = Service(config)
            await nursery.start(service.run)
            assert service.services is not None
            outbox = service.services.mail
            began = time.perf_counter()
            for n in range(MESSAGES):
                await outbox.enqueue_template(
                    "lobby.membership.blocked", [f"p{n}@example.org"], {"game_id": "g"}, f"b{n}"
                )
            await sink.wait_for(2 * MESSAGES, timeout=300)  # the floor's, then ours
            rate = MESSAGES / (time.perf_counter() - began)
            service.stop()
        return rate

    return trio.run(main)


sink: SmtpSink


def run(report: Report) -> None:
    from galaxy.logging import configure_logging

    configure_logging("warning", "galaxy-bench")  # one log line per mail is not the point here
    global sink
    sink = SmtpSink().start()
    try:
        floor = bare_loop(sink.port)
        measured = outbox_rate(sink.port)
    finally:
        sink.stop()
    report.add(
        Row(
            f"mail enqueue → sink ({WORKERS} workers)",
            measured,
            "mails/s",
            "bare aiosmtplib loop",
            floor,
        )
    )
