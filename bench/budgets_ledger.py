"""Pooled-budget ledger benchmark: a million postings over 20 funds.

Run from the repository root (see bench/README.md):

    .venv/bin/python bench/budgets_ledger.py [--postings 1000000 --seconds 20 --posters 8]

It measures, on its own database (``caretrust_bench_budgets``):

- balance reads: ``budgets.ledger.balance`` (the maintained per-account, per-period totals)
  against summing the account's postings at read time, which is what django-hordak's
  ``get_balance_table`` does (hordak itself is not installed: see budgets/models.py), on the
  same data in the same run; p50/p95 over 3 rounds, and the ratio;
- posting throughput: ``--posters`` processes each posting journals through
  ``ledger.post_journal`` (validated, locked, audited, durable commits) for ``--seconds``,
  first across all funds, then all on one hot fund; then the drift check (totals vs postings);
- the month-end reconciliation of every posting: the drift check over the whole ledger and
  every fund's trial balance, contributions, budget lines and aged commitments.

The postings are seeded by set-based SQL through the ledger's own triggers (every journal
checked for balance at commit, the totals kept by the trigger), reused by later runs.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

FUNDS = 20
YEAR = 2026
TARGETS = {
    "across_funds_per_s": 1000,
    "hot_fund_per_s": 100,
    "balance_p95_ms": 50,
    "reconciliation_s": 60,
}


def bench_url(name: str = "caretrust_bench_budgets") -> str:
    """``name`` on the server of DATABASE_URL or the embedded one. (common.database_url splits
    the URL at its last "/", which for the embedded server's socket URL,
    ``postgresql://postgres:@/caretrust?host=/path/.pgdata``, cuts the socket path instead of
    the database name; this keeps the query.)"""
    import os
    from urllib.parse import urlsplit, urlunsplit

    base = os.environ.get("DATABASE_URL", "")
    if not base:
        from caretrust.embedded_db import database_url as embedded

        base = embedded(common.ROOT / ".pgdata")
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=f"/{name}"))


def create_database(url: str, *, drop: bool) -> None:
    import psycopg
    from psycopg import sql

    name = url.split("?")[0].rsplit("/", 1)[1]
    server = url.replace(f"/{name}", "/postgres", 1)
    with psycopg.connect(server, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and drop:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        if not exists or drop:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def seeded_postings() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM budgets_posting")
        return int(cursor.fetchone()[0])


def seed(postings: int) -> float:
    """20 funds made by the services, then ``postings`` postings (two per journal) by SQL."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from budgets import services
    from budgets.models import FundPartner, LegalBasis, PooledFund
    from caretrust.directory import services as directory
    from caretrust.directory.models import AgencyKind, Role

    t0 = time.monotonic()
    if not PooledFund.objects.exists():
        with transaction.atomic():
            kinds = [AgencyKind.COUNCIL_ASC, AgencyKind.ACUTE_TRUST, AgencyKind.COMMUNITY_HEALTH]
            for f in range(FUNDS):
                agencies = [
                    directory.create_agency(
                        name=f"Bench budgets {f:02}-{k}", slug=f"bb-{f:02}-{k}", kind=kind
                    )
                    for k, kind in enumerate(kinds)
                ]
                manager = get_user_model().objects.create_user(username=f"bench.pool{f:02}")
                directory.add_membership(user=manager, agency=agencies[0], role=Role.POOL_MANAGER)
                fund = services.create_fund(
                    name=f"Bench pool {f:02}",
                    slug=f"bench-pool-{f:02}",
                    legal_basis=LegalBasis.SECTION_75_POOL,
                    client_group="Bench",
                    host=agencies[0],
                    pool_manager=manager,
                )
                for a in agencies[1:]:
                    services.add_partner(fund=fund, agency=a)
                services.open_year(fund=fund, year=YEAR)
                for p in FundPartner.objects.filter(fund=fund):
                    services.set_contribution(partner=p, year=YEAR, agreed_pence=10_000_000)
                for n in range(4):
                    line = services.add_line(
                        fund=fund,
                        code=f"l{n}",
                        name=f"Line {n}",
                        funding="social_care",
                        charges_allowed=n == 0,
                        service_kinds=[f"k{n}"],
                    )
                    services.set_line_budget(line=line, year=YEAR, budget_pence=25_000_000)
    per_fund = (postings - seeded_postings()) // 2 // FUNDS
    batch = 25_000
    for fund in PooledFund.objects.order_by("id"):
        done = 0
        while done < per_fund:
            n = min(batch, per_fund - done)
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    """
                    CREATE TEMP TABLE bench_j ON COMMIT DROP AS
                    WITH ins AS (
                        INSERT INTO budgets_journal (fund_id, period_id, effective_date, kind,
                            reference, memo, fingerprint, posted_at)
                        SELECT %(fund)s, p.id, p.starts_on + (g %% 28), 'manual', 'bench', '',
                               '', now()
                        FROM generate_series(1, %(n)s) g
                        JOIN budgets_period p ON p.fund_id = %(fund)s AND p.year = %(year)s
                             AND p.month = 1 + (g %% 12)
                        RETURNING id, period_id)
                    SELECT * FROM ins
                    """,
                    {"fund": fund.pk, "n": n, "year": YEAR},
                )
                cursor.execute(
                    """
                    WITH a AS (SELECT array_agg(id ORDER BY id) AS ids, count(*)::int AS k
                               FROM budgets_account WHERE fund_id = %(fund)s)
                    INSERT INTO budgets_posting (journal_id, account_id, period_id, side,
                                                 amount_pence)
                    SELECT j.id,
                           a.ids[1 + ((j.id + CASE s.side WHEN 'D' THEN 0
                                       ELSE 1 + j.id %% (a.k - 1) END) %% a.k)],
                           j.period_id, s.side, 100 + (j.id * 7919) %% 100000
                    FROM bench_j j CROSS JOIN a CROSS JOIN (VALUES ('D'), ('C')) AS s(side)
                    """,
                    {"fund": fund.pk},
                )
            done += n
        common.log(f"seeded fund {fund.pk}: {seeded_postings()} postings so far")
    return time.monotonic() - t0


def balance_reads(rounds: int = 3, n: int = 400) -> dict[str, Any]:
    from budgets import ledger
    from budgets.models import Account

    accounts = list(Account.objects.all())
    rng = random.Random(3)  # noqa: S311 - benchmark sampling
    results: dict[str, Any] = {}
    for name, read in (
        ("maintained_totals", ledger.balance),
        ("sum_of_postings_hordak_style", ledger.balance_from_postings),
    ):
        per_round = [common.timed(lambda r=read: r(rng.choice(accounts)), n) for _ in range(rounds)]
        results[name] = common.summary(per_round)
    sample = rng.sample(accounts, 50)
    assert all(ledger.balance(a) == ledger.balance_from_postings(a) for a in sample)
    results["p95_ratio_postings_over_totals"] = round(
        results["sum_of_postings_hordak_style"]["p95"] / results["maintained_totals"]["p95"], 1
    )
    return results


def _poster(url: str, fund_ids: list[int], seconds: float, seed: int, out: Any) -> None:
    common.setup_django(url)
    from budgets import ledger
    from budgets.models import Account, PooledFund

    rng = random.Random(seed)  # noqa: S311 - benchmark traffic
    funds = {f.pk: f for f in PooledFund.objects.filter(pk__in=fund_ids)}
    accounts = {f: list(Account.objects.filter(fund_id=f)) for f in fund_ids}
    posted = 0
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        f = rng.choice(fund_ids)
        debit, credit = rng.sample(accounts[f], 2)
        amount = rng.randrange(1, 100_000)
        ledger.post_journal(
            fund=funds[f],
            kind="manual",
            effective_date=_day(rng),
            lines=[ledger.Line(debit, "D", amount), ledger.Line(credit, "C", amount)],
        )
        posted += 1
    out.put((posted, time.monotonic() - start))


def _day(rng: random.Random) -> Any:
    import datetime as dt

    return dt.date(YEAR, 4 + rng.randrange(9), 10)


def throughput(url: str, posters: int, seconds: float, fund_ids: list[int]) -> dict[str, Any]:
    from django.db import connections

    connections.close_all()
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_poster, args=(url, fund_ids, seconds, i, out)) for i in range(posters)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=seconds + 300) for _ in procs]
    for p in procs:
        p.join()
    total = sum(n for n, _ in results)
    wall = max(t for _, t in results)
    return {
        "journals": total,
        "seconds": round(wall, 1),
        "per_second": round(total / wall, 1),
        "per_poster": [n for n, _ in results],
    }


def reconciliation() -> dict[str, Any]:
    from budgets import ledger, selectors
    from budgets.models import PooledFund

    start = time.monotonic()
    drift = ledger.drift()
    t_drift = time.monotonic() - start
    for fund in PooledFund.objects.order_by("id"):
        rows = selectors.trial_balance(fund)
        assert sum(r.net_pence for r in rows) == 0
        selectors.contributions(fund, YEAR)
        selectors.line_reports(fund, YEAR)
        selectors.aged_commitments(fund)
    return {
        "drift_rows": len(drift),
        "drift_check_s": round(t_drift, 1),
        "total_s": round(time.monotonic() - start, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postings", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--posters", type=int, default=8)
    parser.add_argument("--reseed", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(common.ROOT))
    url = bench_url()
    create_database(url, drop=args.reseed)
    common.setup_django(url)
    from django.core.management import call_command
    from django.db import connection

    from budgets.models import PooledFund

    call_command("migrate", verbosity=0, interactive=False)
    results: dict[str, Any] = {"targets": TARGETS}
    if seeded_postings() < args.postings:
        common.log("seeding")
        results["seed_s"] = round(seed(args.postings), 1)
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        results["synchronous_commit"] = cursor.fetchone()[0]
    results["postings_before"] = seeded_postings()
    common.log("balance reads")
    results["balance_reads_ms"] = balance_reads()
    fund_ids = list(PooledFund.objects.order_by("id").values_list("pk", flat=True))
    common.log("posting across funds")
    results["posting_across_funds"] = throughput(url, args.posters, args.seconds, fund_ids)
    common.log("posting on one hot fund")
    results["posting_hot_fund"] = throughput(url, args.posters, args.seconds, fund_ids[:1])
    common.log("reconciliation")
    results["reconciliation"] = reconciliation()
    results["postings_after"] = seeded_postings()
    path = common.save("budgets_ledger", results)
    common.log(f"results in {path}")
    import json

    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
