"""Partner API under HTTP load: GET /api/v1/persons/<id>/ with a bearer token, served by
gunicorn, driven by wrk (apt-get install wrk).

    .venv/bin/python bench/api_load.py                       # this tree alone
    .venv/bin/python bench/api_load.py --old /tmp/old-main   # and another, side by side

Each tree is served by its own gunicorn (its code, the same database) at the same time; the
load moves between them in rounds A B, B A, ... Exit status 1 if this tree misses a target
(>= 200 req/s, p95 <= 100 ms, every response 2xx, every request audited).
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import common

LUA = Path(__file__).with_name("api_load.lua")
TARGET_RPS, TARGET_P95_MS = 200.0, 100.0


class Gunicorn:
    """gunicorn serving ``tree``'s caretrust on ``port``, in a session of its own."""

    def __init__(self, tree: Path, url: str, port: int, workers: int, log: Path) -> None:
        self.port = port
        self.log = log
        env = common.app_env(url) | {"PYTHONPATH": str(tree)}
        with log.open("ab") as sink:
            self.process = subprocess.Popen(  # noqa: S603 - our own virtualenv's gunicorn
                [str(common.PYTHON.with_name("gunicorn")), "caretrust.wsgi:application",
                 "--bind", f"127.0.0.1:{port}", "--chdir", str(tree), "--workers", str(workers),
                 "--log-level", "warning", "--timeout", "30"],
                env=env, cwd=tree, stdout=sink, stderr=sink, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn in {tree} exited: see {log}")
            try:
                request(port, "GET", "/api/schema/")
                return
            except OSError:
                time.sleep(0.3)
        raise SystemExit(f"gunicorn in {tree} did not answer within 60 s: see {log}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # the session started above
            self.process.wait(timeout=20)


def request(port: int, method: str, path: str, body: str = "", **headers: str) -> Any:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body or None, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def token(port: int, partner_id: int) -> str:
    """A fresh client secret (stored hashed, never kept), then a token for it."""
    from caretrust.api.models import PartnerClient

    application = PartnerClient.objects.get(pk=partner_id).application
    secret = secrets.token_urlsafe(40)
    application.client_secret = secret
    application.save(update_fields=["client_secret"])
    basic = base64.b64encode(f"{application.client_id}:{secret}".encode()).decode()
    status, body = request(
        port, "POST", "/o/token/", "grant_type=client_credentials&scope=persons:read",
        Authorization=f"Basic {basic}", **{"Content-Type": "application/x-www-form-urlencoded"},
    )  # fmt: skip
    if status != 200:
        raise SystemExit(f"POST /o/token/ answered {status}: {body[:200]!r}")
    return str(json.loads(body)["access_token"])


def wrk(port: int, paths: Path, bearer: str, seconds: int, connections: int) -> dict[str, Any]:
    """One wrk run (on core 0 where taskset exists): req/s, latency percentiles, non-2xx."""
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") else []
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (Debian: apt-get install -y wrk)")
    out = subprocess.run(  # noqa: S603 - fixed command line
        [*pin, "wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(LUA),
         f"http://127.0.0.1:{port}"],
        env=os.environ | {"BENCH_PATHS_FILE": str(paths), "BENCH_TOKEN": bearer},
        capture_output=True, text=True, timeout=seconds + 60, check=True,
    )  # fmt: skip
    line = next(x for x in out.stdout.splitlines() if x.startswith("BENCH_JSON "))
    raw = json.loads(line.removeprefix("BENCH_JSON "))
    seconds_run = raw["duration_us"] / 1e6
    return {
        "requests": raw["requests"],
        "rps": round(raw["requests"] / seconds_run, 1),
        "p50": raw["latency_us"]["p50"] / 1000,
        "p95": raw["latency_us"]["p95"] / 1000,
        "p99": raw["latency_us"]["p99"] / 1000,
        "bad": raw["non2xx"] + sum(raw["errors"].values()),
    }


def audit_rows() -> int:
    from caretrust.audit.models import AuditEvent

    return AuditEvent.objects.filter(action="person.viewed").count()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, help="another tree to serve beside this one")
    parser.add_argument("--database", default="caretrust_bench")
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per round")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args(argv)

    url = common.database_url(args.database)
    common.setup_django(url)
    meta = common.prepare(url, common.Size(), reseed=args.reseed)
    from caretrust.directory.models import Agency
    from caretrust.people.models import Person

    target = Agency.objects.get(pk=meta["target"])
    ids = Person.objects.visible_to(target).values_list("pk", flat=True).order_by("?")[:2000]
    paths = Path(tempfile.mkstemp(prefix="api_load-", suffix=".txt")[1])
    paths.write_text("".join(f"/api/v1/persons/{pk}/\n" for pk in ids))
    trees = {"new": common.ROOT} | ({"old": args.old.resolve()} if args.old else {})
    common.RESULTS.mkdir(exist_ok=True)
    servers: dict[str, Gunicorn] = {}
    rounds: dict[str, list[dict[str, Any]]] = {t: [] for t in trees}
    unaudited: dict[str, int] = {t: 0 for t in trees}
    try:
        for n, (name, tree) in enumerate(trees.items()):
            log = common.RESULTS / f"api_load-gunicorn-{name}.log"
            servers[name] = Gunicorn(tree, url, 8100 + n, args.workers, log)
        bearer = token(servers["new"].port, meta["partner"])
        for name, server in servers.items():
            common.log(f"warming {name}")
            wrk(server.port, paths, bearer, 5, args.connections)
        for r, name in common.abba(list(trees), args.rounds):
            before = audit_rows()
            result = wrk(servers[name].port, paths, bearer, args.duration, args.connections)
            unaudited[name] += max(0, result["requests"] - (audit_rows() - before))
            rounds[name].append(result)
            common.log(f"round {r + 1} {name}: {result['rps']} req/s, p95 {result['p95']} ms")
    finally:
        for server in servers.values():
            server.stop()
        paths.unlink()

    results: dict[str, Any] = {"trees": {k: str(v) for k, v in trees.items()}, "rounds": rounds}
    print(f"\n{'tree':<5} {'req/s (min median max)':<26} {'p95 ms (min median max)':<26} bad")
    for name in trees:
        results[name] = {
            key: common.spread([x[key] for x in rounds[name]]) for key in ("rps", "p50", "p95")
        }
        results[name]["bad"] = sum(x["bad"] for x in rounds[name])
        results[name]["unaudited"] = unaudited[name]
        s = results[name]
        print(f"{name:<5} {s['rps']!s:<26} {s['p95']!s:<26} {s['bad']}")
    if "old" in trees:
        ratios = [a["rps"] / b["rps"] for a, b in zip(rounds["new"], rounds["old"], strict=False)]
        results["rps_ratio_new_old"] = common.spread(ratios)
        print(f"new/old req/s by round pair: {results['rps_ratio_new_old']}")
    new = results["new"]
    checks = {
        f"req/s >= {TARGET_RPS}": statistics.median(x["rps"] for x in rounds["new"]) >= TARGET_RPS,
        f"p95 <= {TARGET_P95_MS} ms": new["p95"][1] <= TARGET_P95_MS,
        "every response 2xx": new["bad"] == 0,
        "every request audited": unaudited["new"] == 0,
    }
    for check, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}: {check} (median round)")
    results["checks"] = checks
    print(f"results: {common.save('api_load', results)}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
