"""What every benchmark under bench/ shares: its database, the seeded world, timing and
percentiles, and running the same measurement in two source trees side by side.

Scripts import it as ``import common`` (bench/ is a directory of scripts, not a package), so
that a worker started in another tree (``--tree /tmp/old-main``) imports that tree's
``caretrust`` and this harness.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import random
import secrets
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PYTHON = ROOT / ".venv" / "bin" / "python"
SEED_VERSION = 2


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- The database ---------------------------------------------------------------------------


def database_url(name: str) -> str:
    """``name`` on the server of ``DATABASE_URL``, or with it unset on the embedded PostgreSQL
    in .pgdata/ (as for any manage.py command). Never the developer's own database. The path
    is replaced with urllib: the embedded server's URL names its socket in the query
    (``/caretrust?host=/path``), where a split on the last "/" would land inside it."""
    if "bench" not in name:
        raise SystemExit(f"a bench database's name must contain 'bench' (got {name!r})")
    base = os.environ.get("DATABASE_URL", "")
    if not base:
        sys.path.insert(0, str(ROOT))
        from caretrust.embedded_db import database_url as embedded

        base = embedded(ROOT / ".pgdata")
    return _with_database(base, name)


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def app_env(url: str) -> dict[str, str]:
    """The environment a bench process (in-process worker or gunicorn) runs the app with:
    production settings, plain HTTP, no rate limit worth the name, this database."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "SECRET_KEY_FILE")}
    env.update(
        DJANGO_SETTINGS_MODULE="caretrust.settings",
        DATABASE_URL=url,
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(45),
        ALLOWED_HOSTS="127.0.0.1,testserver",
        SECURE_SSL_REDIRECT="false",
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
        SECURE_HSTS_SECONDS="0",
        LOG_LEVEL="WARNING",
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
        API_RATE_LIMIT="1000000/minute",
    )
    return env


def setup_django(url: str, tree: Path = ROOT) -> None:
    """Django for ``tree``'s code on the bench database; templates served without the
    collectstatic manifest."""
    sys.path.insert(0, str(tree))
    os.environ.update(app_env(url) | {"SECRET_KEY": os.environ.get("SECRET_KEY") or "b" * 50})
    import django
    from django.conf import settings

    warnings.filterwarnings("ignore", "No directory at")  # no collectstatic for a bench
    django.setup()
    logging.getLogger("django.request").setLevel(logging.ERROR)  # the 404s are expected
    settings.STORAGES["staticfiles"] = {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
    }


def create_database(url: str, *, drop: bool = False) -> None:
    import psycopg
    from psycopg import sql

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(_with_database(url, "postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and drop:
            log(f"dropping {name}")
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        if not exists or drop:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


# --- The seeded world -----------------------------------------------------------------------


@dataclass(frozen=True)
class Size:
    agencies: int = 50
    persons: int = 100_000
    second_files: int = 50_000  # persons with a file at a second agency
    target_own: int = 2_500  # files the target agency (bench-000, a council) holds
    target_shared: int = 2_900  # other agencies' files with a basis naming the target
    other_shared: int = 120_000  # pairs between other agencies, never naming the target


KINDS = [  # (kind, a role it may hold): councils, trusts, GP practices, care trusts
    ("council_asc", "care_manager"),
    ("acute_trust", "nurse"),
    ("community_health", "district_nurse"),
    ("gp_practice", "gp"),
    ("care_trust", "nurse"),
]
SURNAMES = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies"]
GIVEN = ["Margaret", "Jean", "Mary", "Joan", "Dorothy", "John", "David", "Peter", "Alan"]


def seeded(size: Size) -> dict[str, Any] | None:
    """What this database was seeded with (sizes, ids), or None if it is empty."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_meta (key text PRIMARY KEY, value jsonb)")
        cursor.execute("SELECT value FROM bench_meta WHERE key = 'world'")
        row = cursor.fetchone()
    meta = (json.loads(row[0]) if isinstance(row[0], str) else row[0]) if row else None
    if meta is not None and meta["size"] != asdict(size) | {"version": SEED_VERSION}:
        raise SystemExit(f"the bench database holds another world ({meta['size']}): --reseed")
    return meta


def copy_rows(table: str, columns: str, rows: Iterable[Sequence[Any]]) -> int:
    """COPY ``rows`` into ``table``'s ``columns`` (names separated by spaces)."""
    from django.db import connection
    from psycopg import sql

    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns.split()))
    )
    n = 0
    with connection.cursor() as cursor, cursor.cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
            n += 1
    return n


def seed_world(size: Size) -> dict[str, Any]:
    """Agencies (with their groups) and a lead worker each, made by the services; persons,
    case files, consents and their permission rows by COPY. Of the bases naming the target,
    85 % are active consents (projected onto a group row per data class), 10 % withdrawn and
    5 % refusals (no rows). The rows are what ``apply_projection`` would write: ``check_world``
    holds a sample of pairs to it."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission
    from django.db import connection, transaction
    from django.utils import timezone

    from caretrust.api.services import create_partner_client
    from caretrust.directory import services as directory
    from caretrust.people.models import DataClass, view_codename
    from caretrust.people.validators import nth_test_nhs_number

    rng = random.Random(20261203)  # noqa: S311 - test data
    now = timezone.now()
    t0 = time.monotonic()
    with transaction.atomic():
        agencies, workers = [], []
        for i in range(size.agencies):
            kind, role = KINDS[i % len(KINDS)]
            agency = directory.create_agency(name=f"Bench {i:03}", slug=f"bench-{i:03}", kind=kind)
            user = get_user_model().objects.create_user(username=f"bench.staff{i:03}")
            directory.add_membership(user=user, agency=agency, role=role)
            agencies.append(agency)
            workers.append(user)
        gp = next(a for a in agencies if a.kind == "gp_practice")
        persons = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(size.persons)]
        copy_rows(
            "people_person",
            "id nhs_number given_name family_name date_of_birth address_line_1 address_line_2 "
            "town postcode gp_practice_id version created_at updated_at",
            (
                (pid, nth_test_nhs_number(n), rng.choice(GIVEN), rng.choice(SURNAMES),
                 dt.date(1925, 1, 1) + dt.timedelta(days=rng.randint(0, 29_000)),
                 f"{n % 200 + 1} Mill Lane", "", "Calderbridge", "HX1 2AB", gp.pk, 1, now, now)
                for n, pid in enumerate(persons)
            ),
        )  # fmt: skip
        # Files: the target's own first, then one per remaining person elsewhere, then seconds.
        files: list[tuple[uuid.UUID, uuid.UUID, int]] = []  # (file, person, agency index)
        for n, pid in enumerate(persons):
            holder = 0 if n < size.target_own else rng.randrange(1, size.agencies)
            files.append((uuid.uuid4(), pid, holder))
        for n in rng.sample(range(size.target_own, size.persons), size.second_files):
            first = files[n][2]  # a second agency: never the target, never the first again
            holder = 1 + (first - 1 + rng.randrange(1, size.agencies - 1)) % (size.agencies - 1)
            files.append((uuid.uuid4(), persons[n], holder))
        copy_rows(
            "people_casefile",
            "id person_id agency_id lead_worker_id opened_on closure_reason version created_at",
            ((f, p, agencies[a].pk, workers[a].pk,
              dt.date(2020, 1, 1) + dt.timedelta(days=rng.randint(0, 1800)), "", 1, now)
             for f, p, a in files),
        )  # fmt: skip
        others = [f for f in files if f[2] != 0]
        shared = [(f, 0, rng.random()) for f in rng.sample(others, size.target_shared)]
        for f in rng.sample(others, size.other_shared):
            recipient = rng.randrange(1, size.agencies)
            if recipient != f[2]:
                shared.append((f, recipient, rng.random() * 0.85))  # active consents only
        perms = dict(
            Permission.objects.filter(
                content_type__app_label="people", content_type__model="casefile"
            ).values_list("codename", "id")
        )
        bases, rows = [], []
        for (file_id, person, holder), recipient, draw in shared:
            classes = [DataClass.DEMOGRAPHICS, *rng.sample(DataClass.values[1:], rng.randint(0, 3))]
            status, provision = ("active", "permit")
            if draw >= 0.95:
                provision = "deny"
            elif draw >= 0.85:
                status = "withdrawn"
            bases.append(
                (uuid.uuid4(), person, agencies[holder].pk, agencies[recipient].pk,
                 "{" + ",".join(classes) + "}", "consent", provision, "direct_care", status,
                 now - dt.timedelta(days=30), "person", "Bench", "verbal", "", "", "",
                 workers[holder].pk, now, 1)
            )  # fmt: skip
            if status == "active" and provision == "permit":
                group = agencies[recipient].group_id
                rows += [(group, perms[view_codename(dc)], file_id) for dc in classes]
        copy_rows(
            "sharing_sharingbasis",
            "id person_id holding_agency_id recipient_agency_id data_classes kind provision "
            "purpose status period_start grantor grantor_name evidence capacity_assessed_by "
            "statutory_reason reason recorded_by_id recorded_at version",
            bases,
        )
        copy_rows(
            "people_casefilegroupobjectpermission",
            "group_id permission_id content_object_id",
            rows,
        )
        client = create_partner_client(
            agency=agencies[0], name="bench", scopes=["persons:read", "casefiles:read"]
        )
        meta = {
            "size": asdict(size) | {"version": SEED_VERSION},
            "target": agencies[0].pk,
            "user": workers[0].pk,
            "partner": client.partner.pk,
            "seeded_at": now.isoformat(),
        }
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO bench_meta VALUES ('world', %s)", [json.dumps(meta)])
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    log(f"seeded {len(persons)} persons, {len(files)} files, {len(rows)} rows in "
        f"{time.monotonic() - t0:.0f} s")  # fmt: skip
    return meta


def prepare(url: str, size: Size, *, reseed: bool = False) -> dict[str, Any]:
    """The bench database, migrated and seeded (reused when it already holds this world)."""
    from django.core.management import call_command

    create_database(url, drop=reseed)
    call_command("migrate", verbosity=0, interactive=False)
    meta = seeded(size)
    if meta is None:
        log("seeding (a minute or two)")
        meta = seed_world(size)
    check_world(meta)
    return meta


def check_world(meta: dict[str, Any], pairs: int = 40) -> None:
    """The seeded permission rows are exactly the projection of the seeded bases: for a
    sample of pairs, ``apply_projection`` (in a transaction rolled back) finds nothing to do."""
    from django.db import transaction

    from caretrust.directory.models import Agency
    from caretrust.sharing.models import SharingBasis

    try:
        from caretrust.sharing.projection import apply_projection
    except ImportError:  # before the projection had a module of its own
        from caretrust.sharing.services import apply_projection  # type: ignore[no-redef]
    sample = (
        SharingBasis.objects.order_by("?")
        .values_list("person_id", "holding_agency_id", "recipient_agency_id")
        .distinct()[:pairs]
    )
    agencies = {a.pk: a for a in Agency.objects.all()}
    for person, holder, recipient in sample:
        with transaction.atomic():
            change = apply_projection(
                person_id=person,
                holding_agency=agencies[holder],
                recipient_agency=agencies[recipient],
                record=False,
            )
            transaction.set_rollback(True)
        if change:
            raise SystemExit(f"seeded rows differ from the projection: {person} {change}")


# --- Timing ---------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0-100) of a non-empty sample."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def timed(call: Callable[[], Any], n: int, warmup: int = 5) -> list[float]:
    """Milliseconds each of ``n`` calls took, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def spread(values: Sequence[float]) -> list[float]:
    """The lowest, median and highest of one figure across rounds."""
    ordered = sorted(values)
    return [round(ordered[0], 2), round(percentile(ordered, 50), 2), round(ordered[-1], 2)]


def summary(rounds: Sequence[Sequence[float]]) -> dict[str, Any]:
    """p50, p95 and max over every round's samples pooled, with the spread of the rounds'
    own p95."""
    pooled = [v for r in rounds for v in r]
    return {
        "n": len(pooled),
        "p50": round(percentile(pooled, 50), 2),
        "p95": round(percentile(pooled, 95), 2),
        "max": round(max(pooled), 2),
        "p95_rounds": spread([percentile(r, 95) for r in rounds if r]),
    }


def abba(names: Sequence[str], rounds: int) -> Iterator[tuple[int, str]]:
    """(round, name) in the order A B, B A, A B, ...: each side measured as often first as
    second, so a machine that speeds up or slows down favours neither."""
    for r in range(rounds):
        yield from ((r, name) for name in (names if r % 2 == 0 else list(reversed(names))))


def save(bench: str, results: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{bench}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    return path


# --- Side by side: one worker process per source tree ---------------------------------------


class Worker:
    """``script --serve`` in ``tree`` (its caretrust, this harness), answering one JSON
    request per line on stdin with one JSON line on stdout."""

    def __init__(self, script: Path, tree: Path, url: str, *args: str) -> None:
        env = app_env(url) | {"PYTHONPATH": str(tree)}
        self.tree = tree
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and script
            [str(PYTHON), str(script), "--serve", "--tree", str(tree), *args],
            cwd=tree,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def ask(self, **request: Any) -> Any:
        assert self.process.stdin and self.process.stdout
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"the worker in {self.tree} stopped")
        return json.loads(line)

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=30)


def serve(handlers: dict[str, Callable[..., Any]]) -> None:
    """The worker's side: ``{"op": name, ...}`` in, the handler's JSON out."""
    for line in sys.stdin:
        request = json.loads(line)
        answer = handlers[request.pop("op")](**request)
        sys.stdout.write(json.dumps(answer, default=str) + "\n")
        sys.stdout.flush()
