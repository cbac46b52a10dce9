"""Referrals benchmark: routing, the team queue page, the breach sweep and the transfer hub
worklist at the issue's size (100,000 referrals, 5,000 open across 40 services, 200 rules).

Run from the repository root:

    .venv/bin/python bench/referrals.py [--referrals 100000 --open 5000 --services 40 --rules 200]

It works only in its own database (``caretrust_bench_referrals``), created afresh on every
run on the server the settings point at; the developer's database is never opened. Seeding is
in small functions (bulk_create) on top of the harness (bench/common.py: database, timing,
results). Figures are printed as JSON with p50/p95/max (and the spread of repeated runs).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

DATABASE = "caretrust_bench_referrals"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--referrals", type=int, default=100_000)
    p.add_argument("--open", type=int, default=5_000)
    p.add_argument("--services", type=int, default=40)
    p.add_argument("--rules", type=int, default=200)
    p.add_argument("--people", type=int, default=25_000)
    p.add_argument("--stays", type=int, default=3_000)
    p.add_argument("--repeats", type=int, default=200)
    return p.parse_args()


def configure_django() -> None:
    """Its own database, afresh, on the harness's server; the app as the harness runs it."""
    url = common.database_url(DATABASE)
    common.create_database(url, drop=True)
    common.setup_django(url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


# --- Seeding ----------------------------------------------------------------------------------


def seed(args: argparse.Namespace) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from caretrust.directory import services as directory
    from caretrust.directory.models import Team
    from caretrust.people.models import CaseFile, Person
    from caretrust.people.validators import nth_test_nhs_number, today_in_london
    from referrals.models import (
        DelayReason,
        HospitalStay,
        Referral,
        RoutingRule,
        RuleSet,
        Service,
    )

    rng = random.Random(12)  # noqa: S311 - bench data
    kinds = ["community_health", "council_asc", "community_health", "care_trust"]
    agencies = [
        directory.create_agency(name=f"Agency {i}", slug=f"agency-{i}", kind=k)
        for i, k in enumerate(kinds)
    ]
    hospital = directory.create_agency(name="Hospital", slug="hospital", kind="acute_trust")
    users = get_user_model().objects
    worker = users.create_user("worker")
    hub = users.create_user("hub")
    for a in agencies:
        directory.add_membership(user=worker, agency=a, role="occupational_therapist")
    directory.add_membership(user=hub, agency=hospital, role="transfer_hub_coordinator")
    services = []
    for i in range(args.services):
        agency = agencies[i % len(agencies)]
        team = Team.objects.create(agency=agency, name=f"Team {i}", slug=f"team-{i}")
        services.append(
            Service.objects.create(
                team=team,
                name=f"Service {i}",
                slug=f"service-{i}",
                kind="rapid_response",
                response_hours=24 if i % 2 else None,
                response_working_days=None if i % 2 else 2,
            )
        )
    people = Person.objects.bulk_create(
        [
            Person(
                nhs_number=nth_test_nhs_number(i),
                given_name="Bench",
                family_name=f"P{i}",
                date_of_birth=dt.date(1930, 1, 1) + dt.timedelta(days=i % 20000),
                address_line_1="1 Bench Lane",
                town="Calderbridge",
                postcode="HX1 2AB",
            )
            for i in range(args.people)
        ],
        batch_size=5000,
    )
    files: dict[tuple[int, Any], CaseFile] = {}
    rows = [
        CaseFile(person=p, agency=a, lead_worker=worker, opened_on=dt.date(2025, 1, 1))
        for a in agencies
        for p in people
    ]
    for f in CaseFile.objects.bulk_create(rows, batch_size=5000):
        files[(f.agency_id, f.person_id)] = f
    now = timezone.now()
    open_ids = set(rng.sample(range(args.referrals), args.open))
    batch = []
    for i in range(args.referrals):
        service = services[i % len(services)]
        person = people[rng.randrange(len(people))]
        received = now - dt.timedelta(hours=rng.uniform(1, 24 * 400))
        is_open = i in open_ids
        due = received + dt.timedelta(hours=48) if is_open else received + dt.timedelta(hours=24)
        if is_open:
            # Open referrals: received recently, due from a few hours ago to two days ahead.
            received = now - dt.timedelta(hours=rng.uniform(1, 30))
            due = received + dt.timedelta(hours=rng.uniform(20, 60))
        batch.append(
            Referral(
                reference=f"B-{i:07d}",
                agency_id=service.team.agency_id,
                service=service,
                case_file=files[(service.team.agency_id, person.pk)],
                source="gp",
                reason="bench",
                needs=["fall"],
                urgency="urgent",
                received_at=received,
                due_at=due,
                status="received" if is_open else "episode_ended",
                outcome="" if is_open else "home_independent",
                responded_at=None if is_open else received + dt.timedelta(hours=3),
                age_at_referral=80,
                postcode_district="HX1",
                # Closed ones breached long ago or never; open ones not yet swept.
                breached_at=None,
            )
        )
        if len(batch) == 5000:
            Referral.objects.bulk_create(batch, batch_size=1000)
            batch = []
    Referral.objects.bulk_create(batch, batch_size=1000)
    ruleset = RuleSet.objects.create(
        version=1, status="published", fallback_service=services[0], published_at=now
    )
    RoutingRule.objects.bulk_create(
        [
            RoutingRule(
                ruleset=ruleset,
                position=i + 1,
                name=f"Rule {i + 1}",
                # All but the last few look at districts the bench referral is not in.
                postcode_districts=[f"ZZ{i % 90}"] if i < args.rules - 3 else [],
                sources=["gp"] if i % 3 == 0 else [],
                needs_any=["fall"] if i % 5 == 0 else [],
                min_age=65 if i % 7 == 0 else None,
                service=services[i % len(services)],
            )
            for i in range(args.rules)
        ]
    )
    hospital_files = CaseFile.objects.bulk_create(
        [
            CaseFile(person=p, agency=hospital, lead_worker=hub, opened_on=dt.date(2025, 1, 1))
            for p in people[: args.stays]
        ],
        batch_size=5000,
    )
    reasons = list(DelayReason.objects.all())
    today = today_in_london()
    HospitalStay.objects.bulk_create(
        [
            HospitalStay(
                case_file=f,
                ward=f"Ward {i % 12}",
                admitted_on=today - dt.timedelta(days=30),
                discharge_ready_on=today
                - dt.timedelta(days=rng.randint(2, 25) if i % 3 == 0 else rng.randint(-5, 25)),
                delay_reason=reasons[i % len(reasons)],
                pathway=i % 4,
                discharged_on=None if i % 3 else today - dt.timedelta(days=1),
            )
            for i, f in enumerate(hospital_files)
        ],
        batch_size=5000,
    )
    with __import__("django.db").db.connection.cursor() as c:
        c.execute("ANALYZE")
    return {
        "services": services,
        "worker": worker,
        "hub": hub,
        "agencies": agencies,
        "hospital": hospital,
        "now": now,
    }


# --- Timing -----------------------------------------------------------------------------------


def timed(fn: Callable[[], Any], repeats: int) -> dict[str, Any]:
    """p50, p95 and max of ``repeats`` calls in milliseconds (the harness's definitions)."""
    return common.summary([common.timed(fn, repeats, warmup=1)])


def measure(args: argparse.Namespace, world: dict[str, Any]) -> dict[str, Any]:
    from django.db import connection, transaction
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from referrals import routing, selectors, services
    from referrals.models import Referral

    results: dict[str, Any] = {}

    def select_one() -> None:
        with connection.cursor() as c:
            c.execute("SELECT 1")

    # The machine's floor: one round trip to PostgreSQL, for reading the figures below.
    results["baseline_select_1"] = timed(select_one, args.repeats)
    facts = routing.Facts(
        source="gp",
        urgency="urgent",
        age=80,
        setting="home",
        postcode_district="HX1",
        needs=frozenset({"fall"}),
    )
    services._COMPILED.clear()
    t0 = time.perf_counter()
    services.route_referral(facts)
    results["route_first_call_ms (compiles 200 rules)"] = round(
        (time.perf_counter() - t0) * 1000, 2
    )
    results["route_one_referral"] = timed(lambda: services.route_referral(facts), args.repeats)
    rules = services._compiled_rules(1)
    results["route_pure_function_200_rules"] = timed(
        lambda: routing.route(rules, facts, fallback_id=1, fallback_name="x"), args.repeats
    )

    client = Client()
    client.force_login(world["worker"], backend="django.contrib.auth.backends.ModelBackend")
    session = client.session
    session["agency_id"] = world["agencies"][0].pk
    session.save()
    service = world["services"][0]
    url = f"/referrals/queues/{service.slug}/"
    first = client.get(url)
    if first.status_code == 302:  # several agencies: choose one
        client.post("/agency/", {"agency": world["agencies"][0].pk})
        first = client.get(url)
    assert first.status_code == 200, first.status_code
    results["queue_page_http"] = timed(lambda: client.get(url), args.repeats)
    counts = {}
    for size in (25, 100):
        with CaptureQueriesContext(connection) as ctx, transaction.atomic():
            selectors.team_queue(
                user=world["worker"],
                agency=world["agencies"][0],
                service=service,
                page_size=size,
            )
        counts[size] = len(ctx.captured_queries)
    with CaptureQueriesContext(connection) as ctx:
        client.get(url)
    results["queue_queries"] = {
        "selector_page_25": counts[25],
        "selector_page_100": counts[100],
        "whole_page_request": len(ctx.captured_queries),
    }
    waiting = Referral.objects.filter(service=service, status="received").count()
    results["queue_rows_waiting_in_service"] = waiting

    def worklist() -> None:
        with transaction.atomic():
            selectors.transfer_hub_worklist(user=world["hub"], agency=world["hospital"])

    results["transfer_hub_worklist"] = timed(worklist, args.repeats)
    results["worklist_rows"] = len(
        selectors.transfer_hub_worklist(user=world["hub"], agency=world["hospital"])
    )

    open_count = Referral.objects.filter(status="received").count()
    now = timezone.now()
    overdue = Referral.objects.filter(status="received", due_at__lte=now).count()
    # A sweep with nothing newly due (the steady state every minute): the scan of all open.
    Referral.objects.filter(status="received", due_at__lte=now).update(breached_at=now)
    results["breach_sweep_nothing_new"] = timed(lambda: services.sweep_breaches(now=now), 20)
    Referral.objects.filter(breached_at=now).update(breached_at=None)
    t0 = time.perf_counter()
    escalated = services.sweep_breaches(now=now)
    results["breach_sweep_escalating"] = {
        "open_referrals": open_count,
        "escalated": escalated,
        "overdue_before": overdue,
        "seconds": round(time.perf_counter() - t0, 3),
    }
    return results


def main() -> None:
    args = parse_args()
    configure_django()
    t0 = time.perf_counter()
    world = seed(args)
    seeded = round(time.perf_counter() - t0, 1)
    results = measure(args, world)
    out = {"size": vars(args), "seed_seconds": seeded, "results": results}
    print(json.dumps(out, indent=2, default=str))
    common.log(f"results in {common.save('referrals', out)}")


if __name__ == "__main__":
    main()
