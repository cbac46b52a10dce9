"""Fixtures for partner webhooks: a real HTTP receiver, and partner clients with
subscriptions.

``receiver`` is an ``http.server`` on a free port of 127.0.0.1, in a thread, recording every
request it is sent (headers and body). ``receiver.answer(...)`` queues the statuses (and
headers) it answers with, in order; once the queue is empty it answers 200. ``stop()`` closes
the port (connections are refused), ``start()`` opens it again on the same port.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from caretrust.api.models import PartnerClient
from caretrust.api.services import create_partner_client
from caretrust.events import webhooks
from caretrust.events.models import WebhookSubscription


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: str

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    port: int
    received: list[Received] = field(default_factory=list)
    answers: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    delay: float = 0.0  # seconds each answer takes
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def answer(self, *answers: int | tuple[int, dict[str, str]]) -> None:
        with self.lock:
            for a in answers:
                self.answers.append(a if isinstance(a, tuple) else (a, {}))

    def _next(self) -> tuple[int, dict[str, str]]:
        with self.lock:
            return self.answers.pop(0) if self.answers else (200, {})

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length).decode()
                if receiver.delay:
                    threading.Event().wait(receiver.delay)
                with receiver.lock:
                    receiver.received.append(Received(self.path, dict(self.headers), body))
                status, headers = receiver._next()
                reply = b'{"ok": true}' if status < 300 else b"receiver says no"
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def bodies(self) -> list[Any]:
        with self.lock:
            return [r.json for r in self.received]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(port=free_port())
    r.start()
    yield r
    r.stop()


def partner_of(agency: Any, name: str = "") -> PartnerClient:
    return create_partner_client(
        agency=agency, name=name or f"{agency.slug} system", scopes=["webhooks:write"]
    ).partner


def subscribe(
    client: PartnerClient, url: str, event_types: tuple[str, ...] = ("test.*",)
) -> WebhookSubscription:
    return webhooks.create_subscription(
        client=client, url=url, event_types=list(event_types)
    ).subscription


@pytest.fixture
def hospital_client(hospital: Any) -> PartnerClient:
    return partner_of(hospital, "Hospital EPR")


@pytest.fixture
def council_client(council: Any) -> PartnerClient:
    return partner_of(council, "Council case system")


def announce(
    event_type: str,
    aggregate_id: str,
    *,
    agencies: list[Any],
    n: int = 0,
    **payload: Any,
) -> Any:
    """Emit a test event about aggregate ("thing", aggregate_id) in a transaction of its own
    (a savepoint in ``db`` tests) and dispatch the outbox, as the after-commit task would."""
    from django.db import transaction

    from caretrust.events import services as events

    with transaction.atomic():
        event = events.emit(
            event_type,
            aggregate_type="thing",
            aggregate_id=aggregate_id,
            payload={"n": n, **payload},
            agencies=[a.pk for a in agencies],
        )
    events.dispatch_pending()
    return event


def make_due() -> None:
    """Bring every pending delivery's next attempt forward to now (instead of waiting)."""
    from django.utils import timezone

    from caretrust.events.models import WebhookDelivery

    WebhookDelivery.objects.filter(status="pending").update(
        next_attempt_at=timezone.now() - timezone.timedelta(seconds=1)
    )


@pytest.fixture(autouse=True)
def _cheap_client_secrets(settings: Any) -> None:
    """Partner clients' secrets with a fast hasher (Argon2 is slow on purpose), as in
    tests/api/conftest.py."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
