"""Demo data for one fictional area, Calderbridge: its agencies, teams, staff, people, carers
and case files. Deterministic and idempotent: every record has a natural key (agency slug,
username, NHS number, person+agency) and is created only when missing, through the same
services the app uses, so groups and the audit trail stay consistent."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from caretrust.directory import services as directory
from caretrust.directory.models import Agency, AgencyKind, Membership, Role, Team
from caretrust.people import services as people
from caretrust.people.models import CarerLink, CarerRelationship, CaseFile, Person
from caretrust.people.validators import nth_test_nhs_number, today_in_london

DEMO_PASSWORD = "caretrust-demo"  # noqa: S105 - documented demo accounts, never production

AGENCIES = [
    ("calderbridge-council", "Calderbridge Council Adult Social Care", AgencyKind.COUNCIL_ASC, ""),
    (
        "calderbridge-hospitals",
        "Calderbridge Royal Hospitals NHS Foundation Trust",
        AgencyKind.ACUTE_TRUST,
        "RCB",
    ),
    (
        "calder-valley-community",
        "Calder Valley Community Health NHS Trust",
        AgencyKind.COMMUNITY_HEALTH,
        "RCV",
    ),
    ("westvale-care-trust", "Westvale Care Trust", AgencyKind.CARE_TRUST, "RWV"),
    ("northgate-surgery", "Northgate Surgery", AgencyKind.GP_PRACTICE, "B86001"),
    ("riverside-health-centre", "Riverside Health Centre", AgencyKind.GP_PRACTICE, "B86002"),
    ("brightside-home-care", "Brightside Home Care Ltd", AgencyKind.INDEPENDENT_PROVIDER, ""),
    ("calderbridge-homes", "Calderbridge Homes", AgencyKind.HOUSING, ""),
]

TEAMS = [
    ("calderbridge-council", "hospital-social-work", "Hospital social work team"),
    ("calderbridge-council", "community-care-management", "Community care management team"),
    ("calderbridge-hospitals", "discharge", "Integrated discharge team"),
    ("calder-valley-community", "rapid-response", "Rapid response team"),
    ("calder-valley-community", "community-rehabilitation", "Community rehabilitation team"),
    ("calder-valley-community", "district-nursing", "District nursing team"),
    ("westvale-care-trust", "westvale-rapid-response", "Westvale rapid response team"),
]

# username, given name, family name, [(agency slug, role, team slug)], superuser
STAFF: list[tuple[str, str, str, list[tuple[str, str, str]]]] = [
    (
        "carol.cm",
        "Carol",
        "Mensah",
        [("calderbridge-council", Role.CARE_MANAGER, "hospital-social-work")],
    ),
    ("nina.nurse", "Nina", "Kowalski", [("calderbridge-hospitals", Role.NURSE, "discharge")]),
    (
        "oscar.ot",
        "Oscar",
        "Adeyemi",
        [("calder-valley-community", Role.OCCUPATIONAL_THERAPIST, "community-rehabilitation")],
    ),
    (
        "fiona.finance",
        "Fiona",
        "Brennan",
        [
            ("calderbridge-council", Role.FINANCE_OFFICER, ""),
            ("calderbridge-council", Role.POOL_MANAGER, ""),
        ],
    ),
    ("grace.caldicott", "Grace", "Okafor", [("calderbridge-council", Role.CALDICOTT_GUARDIAN, "")]),
    (
        "sam.sw",
        "Samuel",
        "Hirst",
        [("calderbridge-council", Role.SOCIAL_WORKER, "community-care-management")],
    ),
    (
        "ola.ot",
        "Olamide",
        "Bello",
        [("calderbridge-council", Role.OCCUPATIONAL_THERAPIST, "community-care-management")],
    ),
    ("alan.admin", "Alan", "Pickles", [("calderbridge-council", Role.AGENCY_ADMINISTRATOR, "")]),
    (
        "priya.physio",
        "Priya",
        "Sharma",
        [("calderbridge-hospitals", Role.PHYSIOTHERAPIST, "discharge")],
    ),
    ("harry.caldicott", "Harry", "Lund", [("calderbridge-hospitals", Role.CALDICOTT_GUARDIAN, "")]),
    (
        "dina.dn",
        "Dina",
        "Rahman",
        [("calder-valley-community", Role.DISTRICT_NURSE, "district-nursing")],
    ),
    (
        "rita.rapid",
        "Rita",
        "Fairclough",
        [("calder-valley-community", Role.NURSE, "rapid-response")],
    ),
    (
        "peter.physio",
        "Peter",
        "Lindqvist",
        [("calder-valley-community", Role.PHYSIOTHERAPIST, "community-rehabilitation")],
    ),
    (
        "mo.manager",
        "Maureen",
        "Oldroyd",
        [("calder-valley-community", Role.TEAM_MANAGER, "rapid-response")],
    ),
    (
        "hana.hub",
        "Hana",
        "Sorensen",
        [("calderbridge-hospitals", Role.TRANSFER_HUB_COORDINATOR, "discharge")],
    ),
    ("ian.finance", "Ian", "Crowther", [("calder-valley-community", Role.FINANCE_OFFICER, "")]),
    (
        "wendy.ct",
        "Wendy",
        "Achebe",
        [
            ("westvale-care-trust", Role.CARE_MANAGER, "westvale-rapid-response"),
            ("westvale-care-trust", Role.NURSE, "westvale-rapid-response"),
        ],
    ),
    ("gill.gp", "Gillian", "Marsh", [("northgate-surgery", Role.GP, "")]),
    ("raj.gp", "Rajesh", "Iyer", [("riverside-health-centre", Role.GP, "")]),
    ("hannah.carer", "Hannah", "Booth", [("brightside-home-care", Role.CARE_WORKER, "")]),
    ("hugo.housing", "Hugo", "Tate", [("calderbridge-homes", Role.OCCUPATIONAL_THERAPIST, "")]),
    # Works for two agencies: chooses one at sign-in.
    (
        "tom.rehab",
        "Tom",
        "Greenwood",
        [
            ("calder-valley-community", Role.PHYSIOTHERAPIST, "rapid-response"),
            ("westvale-care-trust", Role.PHYSIOTHERAPIST, ""),
        ],
    ),
]

OLDER_WOMEN = [
    "Margaret",
    "Dorothy",
    "Joan",
    "Betty",
    "Jean",
    "Patricia",
    "Doreen",
    "Elsie",
    "Irene",
    "Sheila",
    "Barbara",
    "Brenda",
    "Maureen",
    "Eileen",
    "Edna",
    "Mavis",
    "Kathleen",
    "Audrey",
    "Valerie",
    "Gwendoline",
    "Winifred",
    "Sylvia",
    "Pamela",
    "Shirley",
    "Hilda",
    "Nasreen",
    "Gurmeet",
    "Bridget",
]
OLDER_MEN = [
    "Arthur",
    "George",
    "Harold",
    "Kenneth",
    "Albert",
    "Frederick",
    "Ernest",
    "Leonard",
    "Dennis",
    "Raymond",
    "Stanley",
    "Walter",
    "Derek",
    "Roy",
    "Norman",
    "Ronald",
    "Brian",
    "Gordon",
    "Cyril",
    "Eric",
    "Mohammed",
    "Tariq",
    "Desmond",
    "Clifford",
]
YOUNGER = [
    "Susan",
    "Karen",
    "Julie",
    "Paul",
    "Mark",
    "Andrew",
    "Claire",
    "Helen",
    "Gary",
    "Lisa",
    "Stephen",
    "Nicola",
    "Darren",
    "Sarah",
    "Imran",
    "Joanne",
    "Neil",
    "Amanda",
]
FAMILY = [
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
    "Wright",
    "Thompson",
    "Evans",
    "Walker",
    "White",
    "Roberts",
    "Green",
    "Hall",
    "Wood",
    "Jackson",
    "Clarke",
    "Khan",
    "Hughes",
    "Turner",
    "Hill",
    "Moore",
    "Cooper",
    "Ward",
    "Morris",
    "King",
    "Baker",
    "Harrison",
    "Sutcliffe",
    "Ackroyd",
    "Ahmed",
    "Begum",
    "Kaur",
    "Singh",
    "O'Brien",
    "Holroyd",
    "Barraclough",
    "Greenwood",
]
STREETS = [
    "Mill Lane",
    "Church Street",
    "Station Road",
    "Victoria Terrace",
    "Park Avenue",
    "Moorside Road",
    "Canal Walk",
    "Albert Street",
    "Hebble View",
    "Queens Road",
    "Rose Court",
    "Chapel Fold",
    "Birch Close",
    "Heath Lane",
    "Well Royd",
]
TOWNS = [
    ("Calderbridge", "HX1"),
    ("Calderbridge", "HX3"),
    ("Sowerby Bridge", "HX6"),
    ("Brighouse", "HD6"),
    ("Elland", "HX5"),
    ("Westvale", "HX7"),
]
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"

ELDERLY_COUNT = 220
CARER_COUNT = 60


@dataclass
class SeedReport:
    created: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, n: int = 1) -> None:
        self.created[kind] = self.created.get(kind, 0) + n


def _postcode(rng: random.Random, outward: str) -> str:
    return f"{outward} {rng.randint(1, 9)}{rng.choice(INWARD_LETTERS)}{rng.choice(INWARD_LETTERS)}"


def _agencies(report: SeedReport) -> dict[str, Agency]:
    agencies = {a.slug: a for a in Agency.objects.all()}
    for slug, name, kind, ods in AGENCIES:
        if slug not in agencies:
            agencies[slug] = directory.create_agency(name=name, slug=slug, kind=kind, ods_code=ods)
            report.add("agencies")
    for agency_slug, slug, name in TEAMS:
        _, created = Team.objects.get_or_create(
            agency=agencies[agency_slug], slug=slug, defaults={"name": name}
        )
        if created:
            report.add("teams")
    return agencies


def _staff(agencies: dict[str, Agency], report: SeedReport) -> None:
    from django.contrib.auth.hashers import make_password

    user_model = get_user_model()
    password = make_password(DEMO_PASSWORD)
    teams = {(t.agency.slug, t.slug): t for t in Team.objects.select_related("agency")}
    for username, given, family, roles in STAFF:
        user, created = user_model.objects.get_or_create(
            username=username,
            defaults={
                "first_name": given,
                "last_name": family,
                "password": password,
                "email": f"{username}@calderbridge.example",
            },
        )
        if created:
            report.add("staff")
        for agency_slug, role, team_slug in roles:
            agency = agencies[agency_slug]
            if (
                not Membership.objects.current()
                .filter(user=user, agency=agency, role=role)
                .exists()
            ):
                directory.add_membership(
                    user=user, agency=agency, role=role, team=teams.get((agency_slug, team_slug))
                )
    if not user_model.objects.filter(username="admin").exists():
        user_model.objects.create_superuser("admin", "admin@calderbridge.example", DEMO_PASSWORD)
        report.add("staff")


def _workers(agencies: dict[str, Agency]) -> dict[str, list[Membership]]:
    """Who can lead a file at each agency: the professional roles, not finance or governance."""
    leading = {
        Role.CARE_MANAGER,
        Role.SOCIAL_WORKER,
        Role.NURSE,
        Role.DISTRICT_NURSE,
        Role.OCCUPATIONAL_THERAPIST,
        Role.PHYSIOTHERAPIST,
        Role.GP,
        Role.CARE_WORKER,
    }
    workers: dict[str, list[Membership]] = {slug: [] for slug in agencies}
    for m in (
        Membership.objects.current()
        .filter(role__in=leading)
        .select_related("user", "agency", "team")
        .order_by("user__username", "role")
    ):
        workers[m.agency.slug].append(m)
    return workers


def _person_fields(
    rng: random.Random,
    *,
    elderly: bool,
    gp_practices: list[Agency],
    today: dt.date,
    family: str | None = None,
    address: tuple[str, str, str] | None = None,
) -> dict[str, Any]:
    if elderly:
        woman = rng.random() < 0.58  # more older women than men, as in the population
        given = rng.choice(OLDER_WOMEN if woman else OLDER_MEN)
        age = min(101, int(rng.triangular(58, 99, 82)))
    else:
        given = rng.choice(YOUNGER)
        age = rng.randint(38, 72)
    dob = dt.date(today.year - age, 1, 1) + dt.timedelta(days=rng.randint(0, 364))
    if dob > today:
        dob = dob.replace(year=dob.year - 1)
    if address is None:
        town, outward = rng.choice(TOWNS)
        address = (f"{rng.randint(1, 140)} {rng.choice(STREETS)}", town, _postcode(rng, outward))
    return {
        "given_name": given,
        "family_name": family or rng.choice(FAMILY),
        "date_of_birth": dob,
        "address_line_1": address[0],
        "town": address[1],
        "postcode": address[2],
        "gp_practice": rng.choice(gp_practices),
    }


def seed(*, verbosity: int = 1) -> SeedReport:
    """Create whatever of the demo area is missing. Safe to run any number of times."""
    rng = random.Random(2026)  # noqa: S311 - demo data, not security
    report = SeedReport()
    today = today_in_london()
    with transaction.atomic():
        agencies = _agencies(report)
        _staff(agencies, report)
        workers = _workers(agencies)
        gp_practices = [agencies["northgate-surgery"], agencies["riverside-health-centre"]]
        existing = set(Person.objects.values_list("nhs_number", flat=True))
        files = set(CaseFile.objects.values_list("person__nhs_number", "agency__slug"))
        carer_links = set(CarerLink.objects.values_list("person__nhs_number", "carer__nhs_number"))
        council = agencies["calderbridge-council"]
        carol = next(m for m in workers[council.slug] if m.user.username == "carol.cm")

        # Each person's random draws happen whether or not they already exist, so a second run
        # makes the same decisions and creates nothing.
        elderly: list[tuple[Person | None, dict[str, Any]]] = []
        for n in range(ELDERLY_COUNT):
            nhs = nth_test_nhs_number(n)
            fields = _person_fields(rng, elderly=True, gp_practices=gp_practices, today=today)
            plan = {
                "council": rng.random() < 0.7 or n < 30,
                "hospital": rng.random() < 0.4,
                "community": rng.random() < 0.45,
                "care_trust": fields["town"] == "Westvale" or rng.random() < 0.05,
                "gp": rng.random() < 0.35,
                "home_care": rng.random() < 0.15,
                "closed": rng.random() < 0.1,
                "days_open": rng.randint(3, 700),
                "lead": rng.random(),
            }
            if n < 30:
                plan["lead"] = -1.0  # carol.cm leads the first thirty council files
            lead_agency = {
                "council": council.slug,
                "hospital": "calderbridge-hospitals",
                "community": "calder-valley-community",
                "care_trust": "westvale-care-trust",
                "gp": str(getattr(fields["gp_practice"], "slug", "")),
                "home_care": "brightside-home-care",
            }
            wanted = [slug for key, slug in lead_agency.items() if plan[key]]
            if not wanted:
                wanted = [council.slug]
            opened: list[CaseFile] = []
            if nhs in existing:
                person = None
            else:
                first = agencies[wanted[0]]
                lead = _pick(workers[first.slug], plan["lead"], carol if first == council else None)
                person = people.register_person(
                    agency=first,
                    by=None,
                    lead_worker=lead.user,
                    team=lead.team,
                    opened_on=today - dt.timedelta(days=int(plan["days_open"])),
                    nhs_number=nhs,
                    **fields,
                )
                opened.append(person.case_files.get())
                report.add("persons")
                files.add((nhs, first.slug))
                report.add("case files")
            for slug in wanted:
                if (nhs, slug) in files:
                    continue
                person = person or Person.objects.get(nhs_number=nhs)
                lead = _pick(workers[slug], plan["lead"], carol if slug == council.slug else None)
                opened.append(
                    people.open_case_file(
                        person=person,
                        agency=agencies[slug],
                        lead_worker=lead.user,
                        team=lead.team,
                        opened_on=today - dt.timedelta(days=int(plan["days_open"])),
                        by=None,
                    )
                )
                files.add((nhs, slug))
                report.add("case files")
            # About one person in ten has a finished episode: close a file opened just now
            # (never carol.cm's), so a re-run, which opens nothing, closes nothing either.
            closable = [
                f for f in opened if f.lead_worker_id != carol.user_id and f.opened_on < today
            ]
            if plan["closed"] and closable:
                people.close_case_file(
                    case_file=closable[-1],
                    closed_on=today,
                    reason="Episode of care completed",
                    by=None,
                )
                report.add("closed files")
            elderly.append((person, fields))

        for n in range(CARER_COUNT):
            nhs = nth_test_nhs_number(ELDERLY_COUNT + n)
            cared_for_index = rng.randrange(ELDERLY_COUNT)
            _, cared_fields = elderly[cared_for_index]
            relationship = rng.choice(list(CarerRelationship.values))
            same_household = relationship == CarerRelationship.SPOUSE_OR_PARTNER
            address = (
                (
                    str(cared_fields["address_line_1"]),
                    str(cared_fields["town"]),
                    str(cared_fields["postcode"]),
                )
                if same_household
                else None
            )
            fields = _person_fields(
                rng,
                elderly=same_household,
                gp_practices=gp_practices,
                today=today,
                family=str(cared_fields["family_name"]) if relationship != "friend" else None,
                address=address,
            )
            hours = (
                rng.choice([4, 10, 20, 35, 50, 70])
                if not same_household
                else rng.choice([35, 50, 70, 100])
            )
            if nhs not in existing:
                gp = fields["gp_practice"]
                assert isinstance(gp, Agency)
                lead = workers[gp.slug][0]
                people.register_person(
                    agency=gp, by=None, lead_worker=lead.user, nhs_number=nhs, **fields
                )
                report.add("persons")
                report.add("case files")
            cared_nhs = nth_test_nhs_number(cared_for_index)
            if (cared_nhs, nhs) not in carer_links:
                people.link_carer(
                    person=Person.objects.get(nhs_number=cared_nhs),
                    carer=Person.objects.get(nhs_number=nhs),
                    relationship=relationship,
                    hours_per_week=hours,
                    by=None,
                )
                carer_links.add((cared_nhs, nhs))
                report.add("carer links")
    return report


def _pick(candidates: list[Membership], draw: float, preferred: Membership | None) -> Membership:
    if draw < 0 and preferred is not None:
        return preferred
    return candidates[int(abs(draw) * len(candidates)) % len(candidates)]
