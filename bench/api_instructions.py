"""Instructions per partner-API request, counted by valgrind's callgrind: a figure the machine's
speed drift cannot move, to judge what auditing (and any change) costs without wall clocks.

Run from the repository root (see bench/README.md):

    .venv/bin/python bench/api_instructions.py [--requests 100] [--warmup 30] [--no-postgres]

It uses bench/api_load.py's seeded database ``caretrust_apibench`` (seeding it on first use)
and, in one child process per phase, calls caretrust's WSGI application directly with the
environ gunicorn would pass (no HTTP parsing, no socket) for the same requests as the load
bench:

  A  GET /api/v1/persons/<id>/ with a bearer token, auditing on (caretrust.wsgi)
  B  the same with auditing off (audit.record a no-op, as bench/wsgi_noaudit.py)
  C  GET /bench/ping/, a view that touches no database, through every middleware

Each child runs under ``valgrind --tool=callgrind --instr-atstart=no``: Django starts and warms
up uninstrumented, then ``callgrind_control -i on`` ... ``-i off`` brackets exactly the
measured requests (an empty bracket is measured too and subtracted).

PostgreSQL's share is counted as well, unless --no-postgres: a private copy of the bench
database (a cluster of its own under bench/results/pg-callgrind/, made once with pg_dump and
kept) is served by a postmaster running under callgrind, whose backends each write their count
when they exit. Each child opens two connections in turn: the first serves the warm-up only,
the second the same warm-up and then the measured requests, so the difference of the two
backends' counts is the measured requests' work in a warm backend. Redis (the rate limiter's
counter) is a separate server whose instructions are not counted; the Python side of talking
to it is.

Counts repeat between runs of the same code, whatever else the machine is doing, to about
0.2 % for Python and 2 % for PostgreSQL, so a change of a few per cent is visible. They are
not time: a cache miss or a system call costs the same as any instruction here. Results go to
bench/results/api_instructions-<timestamp>.json and are summarised on stdout.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for entry in (ROOT, ROOT / "bench"):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

import api_load  # noqa: E402 - bench/ is on the path above

RESULTS_DIR = ROOT / "bench" / "results"
PG_DIR = RESULTS_DIR / "pg-callgrind"
PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
PHASES = {
    "A": "person detail, bearer token, audit on",
    "B": "person detail, bearer token, audit off",
    "C": "no-database view through every middleware",
}


def log(msg: str) -> None:
    print(f"[api_instructions] {msg}", file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=100, help="measured requests per phase")
    p.add_argument(
        "--warmup",
        type=int,
        default=100,
        help="unmeasured requests first (over the same ids as the measured ones, so that the "
        "measured requests find their pages in PostgreSQL's buffers, as under steady load)",
    )
    p.add_argument("--phases", default="ABC", help="which of A, B, C to run")
    p.add_argument("--no-postgres", action="store_true", help="count the Python side only")
    p.add_argument("--pg-port", type=int, default=55433, help="port of the private cluster")
    p.add_argument("--label", default="", help="a word for the result file's name")
    p.add_argument("--child", choices=sorted(PHASES), help=argparse.SUPPRESS)
    p.add_argument("--spec", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.requests < 1 or args.warmup < 1:
        p.error("--requests and --warmup must be positive")
    if not set(args.phases) <= set(PHASES) or not args.phases:
        p.error("--phases takes letters from ABC")
    return args


# --- The child: one phase, under callgrind ---------------------------------------------------


def callgrind_control(*flags: str) -> None:
    subprocess.run(  # noqa: S603 - a fixed tool, our own pid
        [shutil.which("callgrind_control") or "callgrind_control", *flags, str(os.getpid())],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def environ_for(path: str, token: str) -> dict[str, Any]:
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8100",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8100",
        "HTTP_ACCEPT": "*/*",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if token:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return environ


def run_child(args: argparse.Namespace) -> int:
    spec = json.loads(Path(args.spec).read_text())
    os.environ.update(spec["env"])
    phase = args.child
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection

    if phase == "C":
        settings.ROOT_URLCONF = "bench.urls_ping"
    if phase == "B":  # the same switch as api_load.py's phase B
        os.environ["CARETRUST_BENCH_AUDIT"] = "off"
        from bench.wsgi_noaudit import application
    else:
        from caretrust.wsgi import application

    paths = spec["paths"] if phase != "C" else ["/bench/ping/"]
    token = mint_token(application, spec["meta"]) if phase != "C" else ""
    statuses: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc: Any = None) -> Any:
        statuses.append(status)
        return lambda data: None

    def serve(i: int) -> None:
        body = application(environ_for(paths[i % len(paths)], token), start_response)
        try:
            for _ in body:
                pass
        finally:
            getattr(body, "close", lambda: None)()

    def backend_pid() -> int | None:
        if phase == "C":
            return None
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return int(cursor.fetchone()[0])

    out: dict[str, Any] = {"phase": phase}
    # Connection 1: the warm-up alone. Connection 2: the same warm-up, then the measured run.
    for i in range(args.warmup):
        serve(i)
    out["warm_backend"] = backend_pid()
    connection.close()
    for i in range(args.warmup):
        serve(i)
    callgrind_control("-i", "on")  # the bracket's own cost, subtracted by the parent
    callgrind_control("-d", "empty-bracket")
    callgrind_control("-i", "off")
    callgrind_control("-z")
    callgrind_control("-i", "on")
    for i in range(args.warmup, args.warmup + args.requests):
        serve(i)
    callgrind_control("-d", "measured")
    callgrind_control("-i", "off")
    out["measured_backend"] = backend_pid()
    connection.close()
    bad = [s for s in statuses if not s.startswith("200")]
    out["statuses"] = {s: statuses.count(s) for s in set(statuses)}
    Path(spec["result"]).write_text(json.dumps(out))
    if bad:
        log(f"phase {phase}: {len(bad)} responses were not 200: {sorted(set(bad))}")
        return 1
    return 0


# --- The parent ------------------------------------------------------------------------------


def total_of(path: Path) -> int:
    """The instruction total of one callgrind output file."""
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("totals:"):  # "summary:" can wrap around when costs are zeroed
            return int(line.split()[1])
    raise RuntimeError(f"{path} has no totals line")


def pg_bin() -> Path:
    found = sorted(Path("/").glob(PG_BIN_GLOB.lstrip("/")))
    if not found:
        raise SystemExit("PostgreSQL's server binaries are not installed (postgresql-15).")
    return found[-1]


def as_postgres(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    """PostgreSQL refuses to run as root: the private cluster is run as the postgres user."""
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    return subprocess.run(cmd, text=True, check=True, **kw)  # noqa: S603 - fixed tools


def private_cluster(args: argparse.Namespace, source: argparse.Namespace, meta: dict) -> Path:
    """A cluster of its own holding a copy of the bench database, made once and kept."""
    data = PG_DIR / "data"
    stamp = PG_DIR / "seed.json"
    wanted = json.dumps({"seeded_at": meta.get("seeded_at"), "persons": meta.get("persons")})
    if stamp.exists() and stamp.read_text() == wanted and (data / "PG_VERSION").exists():
        return data
    log("making the private cluster (once per seeding of the bench database)")
    shutil.rmtree(PG_DIR, ignore_errors=True)
    PG_DIR.mkdir(parents=True)
    if os.geteuid() == 0:
        shutil.chown(PG_DIR, "postgres", "postgres")
    as_postgres(
        [
            str(pg_bin() / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        ],
        stdout=subprocess.DEVNULL,
    )
    with Postmaster(args, data, valgrind_out=None):
        dump = subprocess.Popen(  # noqa: S603 - fixed tools, our own arguments
            [str(pg_bin() / "pg_dump"), "-Fc", "-h", source.db_host, "-p", str(source.db_port),
             "-U", source.db_user, source.database],
            stdout=subprocess.PIPE,
        )  # fmt: skip
        subprocess.run(  # noqa: S603 - fixed tools, our own arguments
            [str(pg_bin() / "pg_restore"), "-h", "127.0.0.1", "-p", str(args.pg_port),
             "-U", "postgres", "--create", "-d", "postgres"],
            stdin=dump.stdout,
            check=True,
        )  # fmt: skip
        if dump.wait() != 0:
            raise RuntimeError("pg_dump of the bench database failed")
    stamp.write_text(wanted)
    return data


class Postmaster:
    """A postmaster on the private cluster, under callgrind when ``valgrind_out`` is given."""

    def __init__(self, args: argparse.Namespace, data: Path, valgrind_out: Path | None) -> None:
        self.args, self.data, self.out = args, data, valgrind_out
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Postmaster:
        cmd = [
            str(pg_bin() / "postgres"),
            "-D", str(self.data),
            "-p", str(self.args.pg_port),
            "-c", "listen_addresses=127.0.0.1",
            "-c", f"unix_socket_directories={PG_DIR}",
            "-c", "autovacuum=off",  # nothing runs beside the measured backends
            "-c", "shared_buffers=256MB",
        ]  # fmt: skip
        if self.out is not None:
            cmd = [
                "valgrind",
                "--tool=callgrind",
                "--trace-children=no",
                f"--callgrind-out-file={self.out}/pg.%p",
                *cmd,
            ]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        log_file = (self.out or PG_DIR) / "postmaster.log"
        with log_file.open("ab") as sink:
            self.proc = subprocess.Popen(cmd, stdout=sink, stderr=sink, start_new_session=True)  # noqa: S603
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            ready = subprocess.run(  # noqa: S603 - fixed tool
                [str(pg_bin() / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.args.pg_port)],
                stdout=subprocess.DEVNULL,
            )
            if ready.returncode == 0:
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited; see {log_file}")
            time.sleep(0.5)
        raise RuntimeError(f"postgres did not start within 300 s; see {log_file}")

    def __exit__(self, *exc: object) -> None:
        if self.proc is None:
            return
        os.killpg(self.proc.pid, signal.SIGINT)  # fast shutdown
        try:
            self.proc.wait(timeout=300)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def prepare(args: argparse.Namespace) -> tuple[argparse.Namespace, dict[str, Any], list[str]]:
    """The bench database (seeded once, by bench/api_load.py's seeding) and the request paths."""
    source = api_load.parse_args([])
    api_load.ensure_database(source)
    api_load.configure_django(source, api_load.server_environment(source))
    meta = api_load.prepare_database(source)
    paths = api_load.pick_person_paths(args.requests)
    from django.db import connection

    connection.close()
    return source, meta, paths


def mint_token(application: Any, meta: dict[str, Any]) -> str:
    """A bearer token for the bench client, from POST /o/token/ in the database the child uses
    (the private cluster is a copy, so a token minted elsewhere would not be in it)."""
    client_id, secret = api_load.rotate_client_secret(meta)
    basic = base64.b64encode(
        f"{urllib.parse.quote(client_id)}:{urllib.parse.quote(secret)}".encode()
    ).decode()
    body = urllib.parse.urlencode({"grant_type": "client_credentials", "scope": "persons:read"})
    environ = environ_for("/o/token/", "")
    environ.update(
        REQUEST_METHOD="POST",
        CONTENT_TYPE="application/x-www-form-urlencoded",
        CONTENT_LENGTH=str(len(body)),
        HTTP_AUTHORIZATION=f"Basic {basic}",
    )
    environ["wsgi.input"] = io.BytesIO(body.encode())
    got: list[str] = []
    chunks = b"".join(application(environ, lambda status, headers, exc=None: got.append(status)))
    if not got or not got[0].startswith("200"):
        raise RuntimeError(f"POST /o/token/ answered {got}: {chunks[:300]!r}")
    return str(json.loads(chunks)["access_token"])


def run_phase(
    args: argparse.Namespace, phase: str, spec_path: Path, out_dir: Path
) -> dict[str, Any]:
    py_out = out_dir / f"py-{phase}"
    cmd = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={py_out}",
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        phase,
        "--spec",
        str(spec_path),
        "--requests",
        str(args.requests),
        "--warmup",
        str(args.warmup),
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(ROOT)}
    t = time.monotonic()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError(f"phase {phase} failed:\n{done.stderr[-3000:]}")
    by_hint = {}  # "desc: Trigger: dump <hint>", one file per callgrind_control -d
    for d in out_dir.glob(f"py-{phase}.*"):
        trigger = re.search(r"^desc: Trigger: dump (\S+)$", d.read_text(errors="replace"), re.M)
        if trigger:
            by_hint[trigger.group(1)] = total_of(d)
    measured, empty = by_hint["measured"], by_hint["empty-bracket"]
    result = json.loads(Path(json.loads(spec_path.read_text())["result"]).read_text())
    python = (measured - empty) / args.requests
    log(
        f"phase {phase}: {python / 1e6:.2f} M Python instructions per request "
        f"({time.monotonic() - t:.0f} s)"
    )
    return {
        "phase": phase,
        "what": PHASES[phase],
        "python_instructions_per_request": round(python),
        "python_bracket_overhead": empty,
        "statuses": result["statuses"],
        "backends": [result.get("warm_backend"), result.get("measured_backend")],
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return run_child(args)
    for tool in ("valgrind", "callgrind_control"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is not installed (Debian: apt-get install valgrind)")
    source, meta, paths = prepare(args)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out_dir = Path(tempfile.mkdtemp(prefix="callgrind-", dir=RESULTS_DIR))
    if os.geteuid() == 0:
        shutil.chown(out_dir, "postgres", "postgres")
    env = api_load.server_environment(source)
    if not args.no_postgres:
        data = private_cluster(args, source, meta)
        env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:{args.pg_port}/{source.database}"
    phases: dict[str, Any] = {}
    for phase in args.phases:
        spec_path = out_dir / f"spec-{phase}.json"
        spec_path.write_text(
            json.dumps(
                {"env": env, "meta": meta, "paths": paths,
                 "result": str(out_dir / f"result-{phase}.json")}
            )
        )  # fmt: skip
        if args.no_postgres or phase == "C":
            phases[phase] = run_phase(args, phase, spec_path, out_dir)
            continue
        with Postmaster(args, data, valgrind_out=out_dir):
            phases[phase] = run_phase(args, phase, spec_path, out_dir)
        warm, measured = phases[phase]["backends"]
        pg = total_of(out_dir / f"pg.{measured}") - total_of(out_dir / f"pg.{warm}")
        phases[phase]["postgres_instructions_per_request"] = round(pg / args.requests)
        log(f"phase {phase}: {pg / args.requests / 1e6:.2f} M PostgreSQL instructions per request")
    for r in phases.values():
        r["total_instructions_per_request"] = r["python_instructions_per_request"] + r.get(
            "postgres_instructions_per_request", 0
        )
    summary: dict[str, Any] = {}
    if "A" in phases and "B" in phases:
        a, b = phases["A"], phases["B"]
        summary["audit_share_of_A_total"] = round(
            1 - b["total_instructions_per_request"] / a["total_instructions_per_request"], 4
        )
        summary["audit_share_of_A_python"] = round(
            1 - b["python_instructions_per_request"] / a["python_instructions_per_request"], 4
        )
    if "A" in phases and "C" in phases:
        summary["C_over_A_python"] = round(
            phases["C"]["python_instructions_per_request"]
            / phases["A"]["python_instructions_per_request"],
            4,
        )
    result = {
        "when": stamp,
        "code": api_load.code_state(),
        "requests": args.requests,
        "warmup": args.warmup,
        "postgres_counted": not args.no_postgres,
        "phases": phases,
        "summary": summary,
    }
    name = f"api_instructions-{stamp}{'-' + args.label if args.label else ''}.json"
    (RESULTS_DIR / name).write_text(json.dumps(result, indent=2))
    if not os.environ.get("KEEP_CALLGRIND"):
        shutil.rmtree(out_dir, ignore_errors=True)
    print(f"\nInstructions per request ({args.requests} requests after {args.warmup} warm-up)")
    print(f"{'phase':<6}{'Python':>12}{'PostgreSQL':>14}{'total':>12}  what")
    for p, r in phases.items():
        pg = r.get("postgres_instructions_per_request")
        print(
            f"{p:<6}{r['python_instructions_per_request'] / 1e6:>11.2f}M"
            f"{(f'{pg / 1e6:.2f}M' if pg is not None else '-'):>14}"
            f"{r['total_instructions_per_request'] / 1e6:>11.2f}M  {r['what']}"
        )
    for k, v in summary.items():
        print(f"{k}: {v:.1%}" if "share" in k else f"{k}: {v}")
    print(f"written to {RESULTS_DIR / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
