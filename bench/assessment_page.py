"""The assessment page and a section's autosave, server-side, with auditing on.

    .venv/bin/python bench/assessment_page.py [--rounds 5] [--samples 40]

An assessment with 9 sections written by 5 contributors from 3 agencies, 50 saved versions
between them (the issue's size), on its own small bench database (``--database``; seeded
afresh each run through the services). Measured through Django's test client in this process
(the whole request: middleware, session, the rule, the audit rows, the template), so the
figures are the server's time without a network. Targets (issue 11): page p95 <= 60 ms,
autosave p95 <= 30 ms. Exit status 1 if either is missed.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import common

TARGETS = {"page": 60.0, "autosave": 30.0}


def seed() -> dict[str, Any]:
    """Three agencies; the lead (a hospital nurse) and four colleagues; the person's consent to
    share assessments with the other two; the assessment; 50 saves spread over its sections."""
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from assessments import services
    from assessments.models import Section
    from caretrust.directory import services as directory
    from caretrust.directory.models import AgencyKind, Role
    from caretrust.people import services as people
    from caretrust.people.models import DataClass
    from caretrust.sharing import services as sharing
    from caretrust.sharing.models import Evidence, Grantor, Purpose

    user_model = get_user_model()
    with transaction.atomic():
        hospital = directory.create_agency(
            name="Bench hospital", slug="bench-hospital", kind=AgencyKind.ACUTE_TRUST
        )
        council = directory.create_agency(
            name="Bench council", slug="bench-council", kind=AgencyKind.COUNCIL_ASC
        )
        community = directory.create_agency(
            name="Bench community", slug="bench-community", kind=AgencyKind.COMMUNITY_HEALTH
        )
        staff = {}
        for username, agency, role in (
            ("lead", hospital, Role.NURSE),
            ("physio", hospital, Role.PHYSIOTHERAPIST),
            ("cm", council, Role.CARE_MANAGER),
            ("sw", council, Role.SOCIAL_WORKER),
            ("ot", community, Role.OCCUPATIONAL_THERAPIST),
        ):
            user = user_model.objects.create_user(username=f"bench.{username}", password=None)
            directory.add_membership(user=user, agency=agency, role=role)
            staff[username] = (user, agency)
        lead = staff["lead"][0]
        person = people.register_person(
            agency=hospital,
            by=lead,
            nhs_number="9990000018",
            given_name="Bench",
            family_name="Person",
            date_of_birth="1940-01-01",
            address_line_1="1 Mill Lane",
            town="Calderbridge",
            postcode="HX1 2AB",
        )
        for recipient in (council, community):
            sharing.record_consent(
                person=person,
                holding_agency=hospital,
                recipient_agency=recipient,
                data_classes=[DataClass.DEMOGRAPHICS, DataClass.ASSESSMENTS],
                purpose=Purpose.DIRECT_CARE,
                grantor=Grantor.PERSON,
                grantor_name="Bench Person",
                evidence=Evidence.VERBAL,
                by=lead,
            )
        case_file = person.case_files.get()
        assessment = services.start_assessment(
            case_file=case_file,
            depth="comprehensive",
            reason="Bench",
            episode="Bench episode",
            by=lead,
            agency=hospital,
        )
        sections = list(Section.objects.filter(assessment=assessment).order_by("domain__order"))
        authors = ["lead", "physio", "cm", "sw", "ot", "lead", "physio", "cm", "ot"]
        for section, who in zip(sections, authors, strict=True):
            user, agency = staff[who]
            services.delegate_section(
                section=section, author=user, author_agency=agency, by=lead, agency=hospital
            )
        versions = 0
        while versions < 50:
            for section, who in zip(sections, authors, strict=True):
                if versions == 50:
                    break
                user, agency = staff[who]
                section.refresh_from_db()
                services.save_section(
                    section_id=section.pk,
                    answers={},
                    narrative=f"Version {versions} of {section.domain.key}, " + "text " * 40,
                    based_on_version=section.version,
                    by=user,
                    agency=agency,
                )
                versions += 1
    ot_section = next(s for s in sections if s.domain.key == "environment")  # oscar's
    return {
        "assessment": str(assessment.pk),
        "lead": lead.pk,
        "ot": staff["ot"][0].pk,
        "ot_section": str(ot_section.pk),
    }


def measure(world: dict[str, Any], rounds: int, samples: int) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from assessments.models import Section

    users = get_user_model().objects.in_bulk([world["lead"], world["ot"]])
    lead, ot = Client(), Client()
    lead.force_login(users[world["lead"]], backend="django.contrib.auth.backends.ModelBackend")
    ot.force_login(users[world["ot"]], backend="django.contrib.auth.backends.ModelBackend")
    page_url = f"/assessments/{world['assessment']}/"
    save_url = f"/sections/{world['ot_section']}/"
    version = {"n": Section.objects.get(pk=world["ot_section"]).version}
    count = {"n": 0}

    def page() -> None:
        response = lead.get(page_url)
        assert response.status_code == 200, response.status_code

    def autosave() -> None:
        count["n"] += 1
        response = ot.post(
            save_url,
            {
                "housing": "flat",
                "money_worries": f"Draft {count['n']}",
                "narrative": "",
                "version": version["n"],
            },
            HTTP_HX_REQUEST="true",
        )
        assert response.status_code == 200 and b"Saved at" in response.content, response
        version["n"] += 1

    queries = {}
    for name, call in (("page", page), ("autosave", autosave)):
        with CaptureQueriesContext(connection) as ctx:
            call()
        queries[name] = len(ctx.captured_queries)
    results: dict[str, Any] = {}
    for name, call in (("page", page), ("autosave", autosave)):
        per_round = []
        for r in range(rounds):
            common.log(f"{name}: round {r + 1} of {rounds}")
            per_round.append(common.timed(call, samples))
        results[name] = {
            **common.summary(per_round),
            "target_p95": TARGETS[name],
            "queries": queries[name],
        }
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database", default="caretrust_bench_assessments")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--samples", type=int, default=40)
    args = parser.parse_args()

    url = common.database_url(args.database)
    common.create_database(url, drop=True)  # this benchmark seeds its own world afresh
    common.setup_django(url)
    from django.core.management import call_command

    common.log("migrating")
    call_command("migrate", verbosity=0)
    common.log("seeding: 9 sections, 5 contributors from 3 agencies, 50 versions")
    world = seed()
    results = measure(world, args.rounds, args.samples)
    path = common.save("assessment_page", results)
    for name, r in results.items():
        print(
            f"{name:9} p50 {r['p50']:6.2f} ms  p95 {r['p95']:6.2f} ms (rounds' p95 "
            f"{r['p95_rounds']})  max {r['max']:6.2f} ms  target p95 <= {r['target_p95']} ms"
            f"  queries {r['queries']}"
        )
    print(f"results: {path}")
    return 0 if all(r["p95"] <= r["target_p95"] for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
