"""Real servers the fault tests own: a redis-server on a spare port that a test can stop and
start again, and the command lines to run caretrust's own processes against the test database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import redis
from django.conf import settings
from django.db import connection


def spare_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RedisServer:
    """``redis-server`` on a spare port, without persistence: ``stop()`` kills it (as a crash
    or a failover would), ``start()`` brings it back, empty, on the same port."""

    def __init__(self, workdir: Path) -> None:
        self.port = spare_port()
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 - the system's redis-server
            [
                "/usr/bin/redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = self.client()
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=1)


def database_url_of_this_run() -> str:
    """The URL of the database this test run uses, for subprocesses (a Celery worker, a
    script) that must see what the test committed."""
    s: dict[str, Any] = connection.settings_dict
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    # The embedded server is reached by its Unix socket directory (OPTIONS["host"]).
    host = quote(s["HOST"] or s.get("OPTIONS", {}).get("host", "") or "localhost", safe="")
    port = f":{s['PORT']}" if s["PORT"] else ""
    return f"postgres://{s['USER']}{password}@{host}{port}/{s['NAME']}"


def caretrust_env(**extra: str) -> dict[str, str]:
    """The environment for a caretrust process pointed at the test database."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "caretrust.settings",
        "PYTHONPATH": str(settings.BASE_DIR),
        "DEBUG": "true",
        "DATABASE_URL": database_url_of_this_run(),
        "DATABASE_CONN_MAX_AGE": "0",
    }
    env.update(extra)
    return env


PYTHON = sys.executable
