"""Demo data for Calderbridge's referrals: the service catalogue, routing rules, referrals in
every state (some overdue), and a hospital discharge worklist with delays.

Idempotent: services by slug, the rule set by version 1, each referral by its (unique) demo
reason, each stay by person and admission date. Everything goes through the services the app
uses, so case files, consent, audit and events stay consistent.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from caretrust.directory import services as directory
from caretrust.directory.models import Agency, Membership, Role, Team
from caretrust.people.models import CaseFile, Person
from caretrust.people.validators import today_in_london
from referrals import discharge, services
from referrals.delay_reasons import seed_delay_reasons
from referrals.models import (
    DischargeAgreement,
    HospitalStay,
    Referral,
    RuleSet,
    Service,
)

DEMO_PASSWORD = "caretrust-demo"  # noqa: S105 - documented demo accounts, never production

TEAMS = [
    ("calder-valley-community", "intermediate-care-beds", "Intermediate care beds"),
    ("calderbridge-council", "reablement", "Reablement team"),
    ("calderbridge-council", "community-equipment", "Community equipment service"),
]

STAFF = [
    # username, given, family, agency, role, team
    ("cath.admin", "Catherine", "Ward", "calder-valley-community", Role.AGENCY_ADMINISTRATOR, ""),
]

# slug, team (agency, slug), name, kind, fields
SERVICES: list[tuple[str, tuple[str, str], str, str, dict[str, Any]]] = [
    (
        "rapid-response",
        ("calder-valley-community", "rapid-response"),
        "Rapid response",
        "rapid_response",
        {
            "description": "Nurses, social workers and therapists who prevent an avoidable "
            "admission: seen within 2 hours, help for up to 2 weeks, then a handover.",
            "min_age": 18,
            "settings": ["home", "emergency_department", "care_home"],
            "response_hours": 2,
            "max_episode_days": 14,
            "admission_criteria": "At risk of admission within 48 hours without support; "
            "medically able to stay at home with help.",
            "discharge_criteria": "Crisis resolved; handed over to mainstream services.",
        },
    ),
    (
        "cart",
        ("calder-valley-community", "community-rehabilitation"),
        "Community assessment and rehabilitation team (CART)",
        "cart",
        {
            "description": "Nurses, OTs and physiotherapists, one lead professional chosen by "
            "the most-needed therapy; interventions up to 6 weeks.",
            "min_age": 18,
            "medically_stable_required": True,
            "response_working_days": 2,
            "max_episode_days": 42,
            "admission_criteria": "Medically stable; rehabilitation goals agreed with the person.",
            "discharge_criteria": "Goals met, or no further progress expected.",
        },
    ),
    (
        "district-nursing",
        ("calder-valley-community", "district-nursing"),
        "District nursing",
        "district_nursing",
        {"response_working_days": 1, "settings": ["home", "care_home"]},
    ),
    (
        "step-up-step-down-beds",
        ("calder-valley-community", "intermediate-care-beds"),
        "Step-up and step-down beds",
        "step_up_down_beds",
        {
            "description": "Residential rehabilitation for medically stable people who need "
            "24-hour supervision; discharge home anticipated.",
            "medically_stable_required": True,
            "response_working_days": 1,
            "max_episode_days": 42,
            "bed_capacity": 12,
            "admission_criteria": "Medically stable; needs 24-hour supervision; home expected.",
            "discharge_criteria": "Safe to return home with or without support.",
        },
    ),
    (
        "care-management",
        ("calderbridge-council", "community-care-management"),
        "Adult social care: care management",
        "care_management",
        {
            "description": "Assessment of care and support needs (Care Act 2014 s.9) and "
            "arranging care packages. The front door for what no rule routes.",
            "response_working_days": 5,
        },
    ),
    (
        "reablement",
        ("calderbridge-council", "reablement"),
        "Reablement",
        "reablement",
        {"response_working_days": 2, "max_episode_days": 42, "min_age": 18},
    ),
    (
        "equipment",
        ("calderbridge-council", "community-equipment"),
        "Community equipment and adaptations",
        "equipment",
        {"response_working_days": 5},
    ),
]

RULES: list[dict[str, Any]] = [
    {
        "name": "Falls from A&E or the ward, 65 or over",
        "sources": ["emergency_department", "ward"],
        "needs_any": ["fall"],
        "min_age": 65,
        "service": "rapid-response",
    },
    {"name": "Emergencies", "urgencies": ["emergency"], "service": "rapid-response"},
    {
        "name": "Rehabilitation after a hospital stay",
        "sources": ["ward"],
        "needs_any": ["rehabilitation", "mobility"],
        "service": "cart",
    },
    {
        "name": "Wounds and medication from GPs and district nurses",
        "sources": ["gp", "district_nurse"],
        "needs_any": ["wound_care", "medication", "continence"],
        "service": "district-nursing",
    },
    {"name": "Equipment and adaptations", "needs_any": ["equipment"], "service": "equipment"},
    {
        "name": "Personal care at home",
        "needs_any": ["personal_care", "carer_breakdown"],
        "service": "reablement",
    },
]

# reason (unique, the natural key), referrer, source, service slug or None (route), urgency,
# needs, setting, days ago received, what happens next
REFERRALS: list[tuple[str, str, str, str | None, str, list[str], str, float, str]] = [
    (
        "Fell at home, two nights on the ward, ready to go home",
        "nina.nurse",
        "ward",
        None,
        "urgent",
        ["fall"],
        "hospital_ward",
        0.02,
        "received",
    ),
    (
        "Fall in A&E, lives alone, daughter away",
        "nina.nurse",
        "emergency_department",
        None,
        "urgent",
        ["fall", "personal_care"],
        "emergency_department",
        0.5,
        "received",
    ),
    (
        "Chest infection, not coping at home",
        "gill.gp",
        "gp",
        "rapid-response",
        "urgent",
        ["infection"],
        "home",
        1.2,
        "received",
    ),
    (
        "Leg ulcer needs dressing twice a week",
        "gill.gp",
        "gp",
        None,
        "routine",
        ["wound_care"],
        "home",
        3.0,
        "received",
    ),
    (
        "After a hip replacement, needs rehabilitation",
        "nina.nurse",
        "ward",
        None,
        "routine",
        ["rehabilitation", "mobility"],
        "hospital_ward",
        6.0,
        "received",
    ),
    (
        "Needs a bath lift and grab rails",
        "dina.dn",
        "district_nurse",
        None,
        "routine",
        ["equipment"],
        "home",
        2.0,
        "accepted",
    ),
    (
        "Confused overnight, wife exhausted",
        "raj.gp",
        "gp",
        "rapid-response",
        "urgent",
        ["memory", "carer_breakdown"],
        "home",
        4.0,
        "episode_active",
    ),
    (
        "Stroke, six weeks of rehabilitation planned",
        "nina.nurse",
        "ward",
        "cart",
        "routine",
        ["rehabilitation"],
        "hospital_ward",
        30.0,
        "episode_active_long",
    ),
    (
        "Fell in the garden, bruised, wants to stay at home",
        "nina.nurse",
        "emergency_department",
        None,
        "urgent",
        ["fall"],
        "emergency_department",
        20.0,
        "episode_ended_home",
    ),
    (
        "Unable to manage stairs after pneumonia",
        "gill.gp",
        "gp",
        "rapid-response",
        "urgent",
        ["mobility"],
        "home",
        25.0,
        "episode_ended_admitted",
    ),
    (
        "Lives in another county, visiting family",
        "raj.gp",
        "gp",
        "rapid-response",
        "urgent",
        ["fall"],
        "home",
        8.0,
        "declined",
    ),
    (
        "Needs long-term support more than a crisis team",
        "dina.dn",
        "district_nurse",
        "rapid-response",
        "routine",
        ["personal_care"],
        "home",
        9.0,
        "redirected",
    ),
    (
        "Family arranged private care instead",
        "nina.nurse",
        "ward",
        "reablement",
        "routine",
        ["personal_care"],
        "hospital_ward",
        10.0,
        "withdrawn",
    ),
]

# (days ago admitted, days ago ready or None, ward, pathway, delay reason code, discharged
# days ago or None)
STAYS: list[tuple[int, int | None, str, int | None, str | None, int | None]] = [
    (34, 23, "Ward 7 (Elderly care)", 3, "pathway-3", None),
    (26, 18, "Ward 7 (Elderly care)", 1, "pathway-1", None),
    (22, 12, "Ward 9 (Orthopaedics)", 2, "pathway-2", None),
    (17, 9, "Ward 9 (Orthopaedics)", 1, "equipment-housing", None),
    (12, 5, "Ward 4 (Respiratory)", 1, "pathway-1", None),
    (9, 3, "Ward 7 (Elderly care)", 0, "transport", None),
    (8, 2, "Ward 4 (Respiratory)", 1, "family-disagreement", None),
    (6, 1, "Ward 9 (Orthopaedics)", 0, "medicines-tto", None),
    (5, None, "Ward 4 (Respiratory)", None, None, None),
    (15, 4, "Ward 7 (Elderly care)", 1, "pathway-1", 1),
    (30, 10, "Ward 9 (Orthopaedics)", 3, "pathway-3", 2),
]


def seed() -> dict[str, int]:
    made: dict[str, int] = {}

    def add(kind: str, n: int = 1) -> None:
        if n:
            made[kind] = made.get(kind, 0) + n

    seed_delay_reasons(apps)
    agencies = {a.slug: a for a in Agency.objects.all()}
    if "calder-valley-community" not in agencies:
        return made  # the people app's demo area is not there to build on
    with transaction.atomic():
        _teams_and_staff(agencies, add)
        catalogue = _services(agencies, add)
        _rules(agencies, catalogue, add)
        _referrals(agencies, catalogue, add)
        _stays(agencies, add)
        _, created = DischargeAgreement.objects.get_or_create(
            hospital_agency=agencies["calderbridge-hospitals"],
            council_agency=agencies["calderbridge-council"],
            defaults={"enabled": False, "rate_pence": discharge.RATE_PENCE},
        )
        add("2003 Act agreements (switched off)", int(created))
    return made


def _user(username: str) -> Any:
    return get_user_model().objects.get(username=username)


def _teams_and_staff(agencies: dict[str, Agency], add: Any) -> None:
    for agency_slug, slug, name in TEAMS:
        _, created = Team.objects.get_or_create(
            agency=agencies[agency_slug], slug=slug, defaults={"name": name}
        )
        add("teams", int(created))
    user_model = get_user_model()
    for username, given, family, agency_slug, role, team_slug in STAFF:
        user, created = user_model.objects.get_or_create(
            username=username,
            defaults={
                "first_name": given,
                "last_name": family,
                "password": make_password(DEMO_PASSWORD),
                "email": f"{username}@calderbridge.example",
            },
        )
        add("staff", int(created))
        agency = agencies[agency_slug]
        if not Membership.objects.current().filter(user=user, agency=agency, role=role).exists():
            team = Team.objects.filter(agency=agency, slug=team_slug).first()
            directory.add_membership(user=user, agency=agency, role=role, team=team)
    # The council's own team manager for its services (escalations need one).
    council = agencies["calderbridge-council"]
    alan = user_model.objects.filter(username="alan.admin").first()
    if (
        alan is not None
        and not Membership.objects.current().filter(agency=council, role=Role.TEAM_MANAGER).exists()
    ):
        directory.add_membership(
            user=alan,
            agency=council,
            role=Role.TEAM_MANAGER,
            team=Team.objects.get(agency=council, slug="community-care-management"),
        )


def _services(agencies: dict[str, Agency], add: Any) -> dict[str, Service]:
    admins = {
        "calder-valley-community": _user("cath.admin"),
        "calderbridge-council": _user("alan.admin"),
    }
    for slug, (agency_slug, team_slug), name, kind, fields in SERVICES:
        if Service.objects.filter(slug=slug).exists():
            continue
        agency = agencies[agency_slug]
        services.create_service(
            agency=agency,
            by=admins[agency_slug],
            team=Team.objects.get(agency=agency, slug=team_slug),
            name=name,
            slug=slug,
            kind=kind,
            **fields,
        )
        add("services")
    return {s.slug: s for s in Service.objects.select_related("team__agency")}


def _rules(agencies: dict[str, Agency], catalogue: dict[str, Service], add: Any) -> None:
    if RuleSet.objects.exists():
        return
    admin = _user("cath.admin")
    agency = agencies["calder-valley-community"]
    draft = services.draft_ruleset(
        agency=agency,
        by=admin,
        fallback_service=catalogue["care-management"],
        rules=[{**rule, "service": catalogue[str(rule["service"])]} for rule in RULES],
        note="Calderbridge routing, first version",
    )
    services.publish_ruleset(ruleset=draft, agency=agency, by=admin)
    add("routing rules", len(RULES))


def _people_with_files(agency: Agency) -> list[Person]:
    return list(
        Person.objects.filter(case_files__agency=agency, date_of_birth__year__lt=1960)
        .order_by("nhs_number")
        .distinct()
    )


def _referrals(agencies: dict[str, Agency], catalogue: dict[str, Service], add: Any) -> None:
    by_agency = {
        "nina.nurse": agencies["calderbridge-hospitals"],
        "gill.gp": agencies["northgate-surgery"],
        "raj.gp": agencies["riverside-health-centre"],
        "dina.dn": agencies["calder-valley-community"],
    }
    used = set(
        Referral.objects.exclude(case_file__isnull=True).values_list(
            "case_file__person_id", flat=True
        )
    )
    pools: dict[str, list[Person]] = {}
    for i, (reason, username, source, slug, urgency, needs, setting, days, then) in enumerate(
        REFERRALS
    ):
        if Referral.objects.filter(reason=reason).exists():
            continue
        referrer = _user(username)
        agency = by_agency[username]
        pool_key = "calderbridge-hospitals" if agency.slug == "calderbridge-hospitals" else "any"
        if pool_key not in pools:
            pools[pool_key] = [
                p
                for p in (
                    _people_with_files(agencies["calderbridge-hospitals"])
                    if pool_key != "any"
                    else list(
                        Person.objects.filter(date_of_birth__year__lt=1960).order_by("-nhs_number")
                    )
                )
                if p.pk not in used
            ]
        person = pools[pool_key].pop(i % max(1, len(pools[pool_key]) // 2))
        used.add(person.pk)
        referral = services.make_referral(
            agency=agency,
            by=referrer,
            source=source,
            reason=reason,
            urgency=urgency,
            needs=needs,
            setting=setting,
            person=person,
            service=catalogue[slug] if slug else None,
            consent=services.ConsentAtReferral(),
            received_at=timezone.now() - dt.timedelta(days=days),
        )
        _then(referral, then, catalogue)
        add("referrals")
    if not Referral.objects.filter(unverified=True).exists():
        services.submit_public_referral(
            source="family_carer",
            person={
                "given_name": "Elsie",
                "family_name": "Haworth",
                "date_of_birth": dt.date(1938, 6, 14),
                "address_line_1": "12 Canal Street",
                "town": "Calderbridge",
                "postcode": "HX1 4QT",
            },
            reason="Mum is not eating and keeps forgetting her tablets",
            needs=["nutrition", "medication", "personal_care"],
            urgency="urgent",
            referrer_name="Joanne Haworth",
            referrer_phone="07700 900456",
            referrer_relationship="Daughter",
        )
        add("referrals")


def _then(referral: Referral, then: str, catalogue: dict[str, Service]) -> None:
    agency = referral.agency
    worker = _worker_for(referral)
    kw = {"referral": referral, "agency": agency, "by": worker}
    today = today_in_london()
    if then == "received":
        return
    if then == "declined":
        services.decline_referral(**kw, reason_code="not_eligible", reason="Lives outside the area")
        return
    if then == "redirected":
        services.redirect_referral(
            **kw, to_service=catalogue["district-nursing"], reason="Ongoing nursing, not a crisis"
        )
        return
    if then == "withdrawn":
        assert referral.referring_agency is not None
        services.withdraw_referral(
            referral=referral,
            agency=referral.referring_agency,
            by=referral.referrer_user,
            reason="The family arranged private care",
        )
        return
    services.accept_referral(**kw, first_contact_at=referral.received_at + dt.timedelta(hours=1))
    if then == "accepted":
        return
    started = today - dt.timedelta(days=12 if then == "episode_active" else 38)
    if then.startswith("episode_ended"):
        started = (referral.received_at + dt.timedelta(days=1)).date()
    services.start_episode(**kw, started_on=min(started, today))
    if then == "episode_ended_home":
        services.end_episode(
            **kw, outcome="home_independent", ended_on=today - dt.timedelta(days=8)
        )
    elif then == "episode_ended_admitted":
        services.end_episode(
            **kw, outcome="admitted_to_hospital", ended_on=today - dt.timedelta(days=20)
        )


def _worker_for(referral: Referral) -> Any:
    member = (
        Membership.objects.current()
        .filter(agency=referral.agency, team=referral.service.team)
        .exclude(role__in=[Role.TEAM_MANAGER, Role.AGENCY_ADMINISTRATOR])
        .select_related("user")
        .order_by("user__username")
        .first()
    ) or (
        Membership.objects.current()
        .filter(agency=referral.agency, role__in=services.TRIAGE_ROLES)
        .select_related("user")
        .order_by("user__username")
        .first()
    )
    assert member is not None, f"no worker at {referral.agency}"
    return member.user


def _stays(agencies: dict[str, Agency], add: Any) -> None:
    hospital = agencies["calderbridge-hospitals"]
    council = agencies["calderbridge-council"]
    nina = _user("nina.nurse")
    hana = _user("hana.hub")
    today = today_in_london()
    people = [
        f.person
        for f in CaseFile.objects.filter(agency=hospital)
        .select_related("person")
        .order_by("-person__nhs_number")[: len(STAYS)]
    ]
    for person, (admitted, ready, ward, pathway, reason, gone) in zip(people, STAYS, strict=False):
        admitted_on = today - dt.timedelta(days=admitted)
        if HospitalStay.objects.filter(case_file__person=person, admitted_on=admitted_on).exists():
            continue
        stay = discharge.record_admission(
            agency=hospital,
            by=nina,
            person=person,
            ward=ward,
            admitted_on=admitted_on,
            council_agency=council,
        )
        if ready is not None:
            # Two board rounds: the first estimate, then the date it was met.
            discharge.review_ready_date(
                stay=stay,
                agency=hospital,
                by=nina,
                discharge_ready_on=today - dt.timedelta(days=ready - 1),
                note="expected at the board round",
            )
            discharge.review_ready_date(
                stay=stay,
                agency=hospital,
                by=hana,
                discharge_ready_on=today - dt.timedelta(days=ready),
                note="no longer meets the criteria to reside",
            )
        if pathway is not None or reason is not None:
            discharge.update_stay(
                stay=stay, agency=hospital, by=hana, pathway=pathway, delay_reason=reason
            )
        if gone is not None:
            discharge.record_discharge(
                stay=stay, agency=hospital, by=hana, discharged_on=today - dt.timedelta(days=gone)
            )
        add("hospital stays")
