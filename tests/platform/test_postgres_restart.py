"""PostgreSQL restarting in the middle of a burst of concurrent writes: requests answer 503
with Retry-After (never a 500, never a hung worker), the app recovers by itself, every write
answered 2xx is in the database exactly once and every refused one left nothing behind (audit
rows included); retried with the same Idempotency-Key, each refused write then lands once.

The app runs as deployed (gunicorn, DEBUG off, persistent connections) against a PostgreSQL
of the test's own, which the test stops with a fast shutdown and starts again mid-burst."""

from __future__ import annotations

import json
import secrets
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
import requests

from caretrust.people.validators import nth_test_nhs_number
from tests.platform.servers import PYTHON, OwnPostgres, spare_port

WRITES = 240
THREADS = 8
STOP_AFTER = 30  # answered writes before the database goes away
DOWN_SECONDS = 3.0
CLIENT_TIMEOUT = 30  # a request taking this long counts as a hung worker

SETUP = """
import json, django
django.setup()
from caretrust.api.models import SCOPES
from caretrust.api.services import create_partner_client
from caretrust.directory.services import create_agency
agency = create_agency(name="Fault test council", slug="fault-council", kind="council_asc")
new = create_partner_client(agency=agency, name="Fault test EPR", scopes=list(SCOPES))
print(json.dumps({"client_id": new.client_id, "secret": new.client_secret}))
"""


@dataclass
class Write:
    n: int
    nhs_number: str
    key: str
    request_id: str
    status: int | None = None
    retry_after: str | None = None
    content_type: str = ""
    seconds: float = 0.0
    started: float = 0.0
    error: str = ""


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    server = OwnPostgres()
    server.init()
    server.start()
    server.psql("CREATE DATABASE caretrust")
    yield server
    server.remove()


def _env(pg: OwnPostgres) -> dict[str, str]:
    import os

    from django.conf import settings

    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS", "DJANGO", "PYTEST"))}
    env.update(
        DJANGO_SETTINGS_MODULE="caretrust.settings",
        PYTHONPATH=str(settings.BASE_DIR),
        DATABASE_URL=pg.url("caretrust"),
        DATABASE_CONN_MAX_AGE="60",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="false",
        SECURE_HSTS_SECONDS="0",
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
        API_RATE_LIMIT="100000/minute",
    )
    return env


def _run(args: list[str], env: dict[str, str]) -> str:
    from django.conf import settings

    result = subprocess.run(  # noqa: S603 - our own interpreter and code
        [PYTHON, *args],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.fixture
def app_server(own_postgres: OwnPostgres) -> Iterator[tuple[str, dict[str, str]]]:
    env = _env(own_postgres)
    _run(["manage.py", "migrate", "--no-input", "-v0"], env)
    partner = json.loads(_run(["-c", SETUP], env).strip().splitlines()[-1])
    port = spare_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(  # noqa: S603
        [
            PYTHON,
            "-m",
            "gunicorn",
            "caretrust.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--threads",
            "4",
            "--timeout",
            "60",
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/health/ready", timeout=30).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass  # still starting (a first answer can be slow on a loaded machine)
            assert time.monotonic() < deadline, "gunicorn did not become ready"
            time.sleep(0.2)
        yield base, partner
    finally:
        server.terminate()
        server.wait(timeout=30)


def _post(base: str, token: str, write: Write) -> Write:
    body = {
        "nhs_number": write.nhs_number,
        "given_name": "Fault",
        "family_name": f"Test{write.n}",
        "date_of_birth": "1940-01-01",
        "address_line_1": "1 Mill Lane",
        "town": "Calderbridge",
        "postcode": "HX1 2AB",
    }
    started = write.started = time.monotonic()
    try:
        response = requests.post(
            f"{base}/api/v1/persons/",
            json=body,
            headers={
                "Authorization": f"Bearer {token}",
                "Idempotency-Key": write.key,
                "X-Request-ID": write.request_id,
            },
            timeout=CLIENT_TIMEOUT,
        )
        write.status = response.status_code
        write.retry_after = response.headers.get("Retry-After")
        write.content_type = response.headers.get("Content-Type", "")
    except requests.RequestException as exc:
        write.error = exc.__class__.__name__
    write.seconds = time.monotonic() - started
    return write


def test_a_postgres_restart_mid_burst_answers_503_loses_nothing_and_recovers(
    own_postgres, app_server
):
    base, partner = app_server
    token = requests.post(
        f"{base}/o/token/",
        data={"grant_type": "client_credentials"},
        auth=(partner["client_id"], partner["secret"]),
        timeout=30,
    ).json()["access_token"]
    writes = [
        Write(
            n, nth_test_nhs_number(100 + n), f"key-{uuid.uuid4().hex}", f"fault-{uuid.uuid4().hex}"
        )
        for n in range(WRITES)
    ]
    answered = threading.Semaphore(0)
    probes: dict[str, Any] = {}

    def restart() -> None:
        for _ in range(STOP_AFTER):
            answered.acquire()
        own_postgres.stop()
        time.sleep(DOWN_SECONDS / 2)
        ready = requests.get(f"{base}/health/ready", timeout=CLIENT_TIMEOUT)
        page = requests.get(
            f"{base}/caseload/", cookies={"sessionid": "x" * 32}, timeout=CLIENT_TIMEOUT
        )
        probes.update(
            ready=(ready.status_code, ready.json()["checks"]["database"]["status"]),
            page=(page.status_code, page.headers.get("Retry-After"), page.text),
        )
        time.sleep(DOWN_SECONDS / 2)
        own_postgres.start()
        probes["back_at"] = time.monotonic()

    def send(write: Write) -> Write:
        done = _post(base, token, write)
        answered.release()
        time.sleep(0.25)  # a steady stream, lasting beyond the outage
        return done

    restarter = threading.Thread(target=restart)
    restarter.start()
    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(send, writes))
    restarter.join()

    statuses = [w.status for w in results]
    created = [w for w in results if w.status == 201]
    created_after = [w for w in created if w.started > probes["back_at"]]
    refused = [w for w in results if w.status == 503]
    print(
        f"MEASURED postgres restart: {len(results)} writes, {len(created)} answered 201, "
        f"({len(created_after)} of them sent after the restart), "
        f"{len(refused)} answered 503, others {sorted({s for s in statuses} - {201, 503})}, "
        f"slowest {max(w.seconds for w in results):.2f} s; the last sent "
        f"{max(w.started for w in results) - probes['back_at']:+.1f} s after the restart; "
        "probes during the outage: "
        f"ready {probes['ready'][:2]}, page {probes['page'][:2]}"
    )
    assert not [w for w in results if w.error], "a request hung or was cut"
    assert set(statuses) <= {201, 503}, statuses  # never a 500
    assert refused, "the restart happened mid-burst, so some writes must have been refused"
    assert len(created) >= STOP_AFTER
    assert created_after, "writes sent after the restart succeed, without restarting the app"
    for write in refused:
        assert write.retry_after == "5"
        assert write.content_type == "application/problem+json"
    assert max(w.seconds for w in results) < CLIENT_TIMEOUT
    assert probes["ready"] == (503, "unavailable")
    assert probes["page"][:2] == (503, "5")
    assert "Try again" in probes["page"][2]

    # Recovered without restarting gunicorn: ready again and writing again.
    deadline = time.monotonic() + 30
    while requests.get(f"{base}/health/ready", timeout=CLIENT_TIMEOUT).status_code != 200:
        assert time.monotonic() < deadline, "the app did not recover by itself"
        time.sleep(0.2)

    with psycopg.connect(own_postgres.url("caretrust")) as db:

        def persons(nhs_number: str) -> int:
            row = db.execute(
                "SELECT count(*) FROM people_person WHERE nhs_number = %s", [nhs_number]
            ).fetchone()
            return int(row[0]) if row else 0

        def audit_rows(request_id: str) -> int:
            row = db.execute(
                "SELECT count(*) FROM audit_auditevent WHERE request_id = %s", [request_id]
            ).fetchone()
            return int(row[0]) if row else 0

        def remembered(key: str) -> int:
            row = db.execute(
                "SELECT count(*) FROM api_idempotencyrecord WHERE key = %s", [key]
            ).fetchone()
            return int(row[0]) if row else 0

        for write in created:
            assert persons(write.nhs_number) == 1, write
            assert audit_rows(write.request_id) >= 2, write  # person created, file opened
            assert remembered(write.key) == 1, write
        for write in refused:
            assert persons(write.nhs_number) == 0, write
            assert audit_rows(write.request_id) == 0, write
            assert remembered(write.key) == 0, write

        # The partner retries what was refused, with the same keys: each lands exactly once.
        for write in refused:
            write.request_id = f"retry-{uuid.uuid4().hex}"
            assert _post(base, token, write).status == 201, write
        for write in results:
            assert persons(write.nhs_number) == 1, write
