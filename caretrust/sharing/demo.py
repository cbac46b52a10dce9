"""Demo sharing for the Calderbridge area (run after ``caretrust.people.demo.seed``).

Most people have consent between the council and the health agencies involved in their care,
both ways; some consents have been withdrawn; one person has refused; one best-interests
decision is past its review date; one break-glass access awaits its Caldicott guardian's
review; carers giving 20 hours a week or more have let their GP share their details with the
council; and files carry a few notes, some restricted. Idempotent: a person who already has
any basis, or a file that already has notes, is left alone. Each person's choices come from a
generator seeded by their NHS number, so a re-run makes the same choices.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from caretrust.directory.models import Agency, AgencyKind, Membership, Role
from caretrust.people import services as people
from caretrust.people.models import CarerLink, CaseFile, CaseNote, DataClass, Person
from caretrust.people.validators import today_in_london
from caretrust.sharing import services
from caretrust.sharing.models import SharingBasis
from caretrust.sharing.need_to_know import role_classes

HEALTH_KINDS = {
    AgencyKind.ACUTE_TRUST,
    AgencyKind.COMMUNITY_HEALTH,
    AgencyKind.GP_PRACTICE,
    AgencyKind.CARE_TRUST,
}
COUNCIL_TO_HEALTH = [
    DataClass.DEMOGRAPHICS,
    DataClass.ASSESSMENTS,
    DataClass.CARE_PLANS,
    DataClass.REFERRALS,
]
HEALTH_TO_COUNCIL = [
    DataClass.DEMOGRAPHICS,
    DataClass.ASSESSMENTS,
    DataClass.CARE_PLANS,
    DataClass.REFERRALS,
    DataClass.CLINICAL_NOTES,
]
NOTES = [
    (
        DataClass.ASSESSMENTS,
        "Mobility reduced since the fall; walks with a frame indoors. "
        "Needs help with stairs and bathing.",
        False,
    ),
    (
        DataClass.CARE_PLANS,
        "Agreed at the joint assessment meeting: morning and evening calls "
        "for personal care, 6 weeks of reablement, review at week 4.",
        False,
    ),
    (
        DataClass.CLINICAL_NOTES,
        "Blood pressure stable on current medication. Pressure areas "
        "intact. District nurse to review leg ulcer weekly.",
        False,
    ),
    (DataClass.REFERRALS, "Referred to community rehabilitation for falls prevention.", False),
    (
        DataClass.CLINICAL_NOTES,
        "Disclosed a history of domestic abuse by a former partner; "
        "do not share outside this agency.",
        True,
    ),
    (DataClass.FINANCE, "Financial assessment complete: contributes towards home care.", False),
]


def _recorder(agency: Agency) -> Any:
    """A member of the agency whose role lets them record sharing."""
    membership = (
        Membership.objects.current()
        .filter(agency=agency, role__in=services.RECORDING_ROLES)
        .select_related("user")
        .order_by("user__username")
        .first()
    )
    return membership.user if membership else None


def seed_sharing() -> dict[str, int]:
    made: dict[str, int] = {}

    def add(kind: str) -> None:
        made[kind] = made.get(kind, 0) + 1

    today = today_in_london()
    council = Agency.objects.get(slug="calderbridge-council")
    acute = Agency.objects.get(slug="calderbridge-hospitals")
    recorders = {a.pk: _recorder(a) for a in Agency.objects.all()}
    with_bases = set(SharingBasis.objects.values_list("person_id", flat=True))
    files_by_person: dict[Any, list[CaseFile]] = {}
    for f in CaseFile.objects.select_related("agency", "person", "lead_worker").order_by(
        "person__nhs_number", "agency__slug"
    ):
        files_by_person.setdefault(f.person_id, []).append(f)
    with_notes = set(CaseNote.objects.values_list("case_file_id", flat=True).distinct())
    reads: dict[tuple[Any, Any], tuple[set[str], set[str]]] = {}

    people_with_council = [
        fs for fs in files_by_person.values() if any(f.agency_id == council.pk for f in fs)
    ]
    with transaction.atomic():
        for index, files in enumerate(people_with_council):
            person = files[0].person
            rng = random.Random(f"sharing:{person.nhs_number}")  # noqa: S311 - demo data
            # Every choice is drawn before looking at what exists, so a re-run draws the same.
            note_plan = [(rng.random() < 0.6, rng.sample(NOTES, 2)) for _ in files]
            shares = rng.random() <= 0.8
            evidence = [rng.choice(["verbal", "written", "electronic"]) for _ in range(8)]
            withdrawals = [rng.random() < 0.06 for _ in range(8)]
            # A person with bases already was seeded on an earlier run; files opened since
            # (by another app's demo, such as a referral's) get no notes of this demo's.
            for f, (writes, picked) in zip(files, note_plan, strict=True):
                if writes and f.pk not in with_notes and person.pk not in with_bases:
                    key = (f.agency_id, f.lead_worker_id)
                    if key not in reads:
                        reads[key] = role_classes(f.agency, f.lead_worker)
                    needed, restricted_classes = reads[key]
                    for data_class, text, restricted in picked:
                        if data_class not in needed or (
                            restricted and data_class not in restricted_classes
                        ):
                            continue  # need to know: a worker writes only what they may read
                        people.write_note(
                            agency=f.agency,
                            by=f.lead_worker,
                            case_file=f.pk,
                            data_class=data_class,
                            text=text,
                            restricted=restricted,
                        )
                        add("case notes")
            if person.pk in with_bases:
                continue
            health = [f.agency for f in files if f.agency.kind in HEALTH_KINDS]
            if not health or not shares:
                continue
            refuses = index == 7  # one person refuses the hospital outright
            k = 0
            for other in health:
                if refuses and other == acute:
                    services.record_refusal(
                        person=person,
                        holding_agency=council,
                        recipient_agency=acute,
                        data_classes=DataClass.values,
                        purpose="direct_care",
                        grantor="person",
                        grantor_name=person.full_name,
                        evidence="written",
                        by=recorders[council.pk],
                    )
                    add("refusals")
                    continue
                pairs = [(council, other, COUNCIL_TO_HEALTH), (other, council, HEALTH_TO_COUNCIL)]
                for holder, recipient, classes in pairs:
                    if recorders.get(holder.pk) is None:
                        continue
                    basis = services.record_consent(
                        person=person,
                        holding_agency=holder,
                        recipient_agency=recipient,
                        data_classes=classes,
                        purpose="direct_care",
                        grantor="person",
                        grantor_name=person.full_name,
                        evidence=evidence[k % len(evidence)],
                        by=recorders[holder.pk],
                    )
                    add("consents")
                    withdraw, k = withdrawals[k % len(withdrawals)], k + 1
                    if withdraw:
                        services.withdraw_basis(
                            basis=basis,
                            by=recorders[holder.pk],
                            acting_agency=holder,
                            reason="The person asked us to stop sharing.",
                        )
                        add("withdrawn")

        _best_interests_past_review(council, acute, recorders, today, with_bases, add)
        _break_glass_awaiting_review(council, acute, add)
        _carers_known_to_the_council(council, recorders, add)
    return made


def _best_interests_past_review(
    council: Agency,
    acute: Agency,
    recorders: dict[int, Any],
    today: dt.date,
    with_bases: set[Any],
    add: Any,
) -> None:
    """A decision recorded months ago whose review date has passed: it no longer counts."""
    if SharingBasis.objects.filter(kind="best_interests").exists():
        return
    person = (
        Person.objects.filter(case_files__agency=council)
        .filter(case_files__agency=acute)
        .exclude(pk__in=with_bases)
        .order_by("nhs_number")
        .first()
    )
    if person is None:
        return
    basis = services.record_best_interests(
        person=person,
        holding_agency=council,
        recipient_agency=acute,
        data_classes=[DataClass.DEMOGRAPHICS, DataClass.ASSESSMENTS],
        purpose="discharge",
        capacity_assessed_by="Dr A. Hussain, consultant geriatrician",
        capacity_assessed_on=today - dt.timedelta(days=120),
        review_on=today,
        by=recorders[council.pk],
    )
    # Back-date it, as if recorded four months ago with a review date that has since passed.
    SharingBasis.objects.filter(pk=basis.pk).update(
        review_on=today - dt.timedelta(days=30),
        period_start=timezone.now() - dt.timedelta(days=120),
    )
    services.apply_projection(person_id=person.pk, holding_agency=council, recipient_agency=acute)
    add("best interests decisions")


# A carer giving this much care a week has agreed to be contacted about a carer's assessment.
CARER_CONSENT_HOURS = 20


def _carers_known_to_the_council(council: Agency, recorders: dict[int, Any], add: Any) -> None:
    """A carer is a person in their own right, and a person's page names a carer only where
    the council may see them. Carers giving 20 hours or more a week to someone the council
    works with have agreed that their GP share their details with it (for a carer's
    assessment); the others are shown as a carer whose record is not shared."""
    known = Person.objects.visible_to(council).values("pk")
    links = (
        CarerLink.objects.filter(person__case_files__agency=council)
        .filter(hours_per_week__gte=CARER_CONSENT_HOURS)
        .exclude(carer__in=known)
        .exclude(carer__sharing_bases__recipient_agency=council)  # a re-run, or a refusal
        .select_related("carer")
        .order_by("carer__nhs_number")
        .distinct()
    )
    for link in links:
        holder = (
            CaseFile.objects.filter(person=link.carer)
            .exclude(agency=council)
            .select_related("agency")
            .order_by("agency__slug")
            .first()
        )
        if holder is None or recorders.get(holder.agency_id) is None:
            continue
        services.record_consent(
            person=link.carer,
            holding_agency=holder.agency,
            recipient_agency=council,
            data_classes=[DataClass.DEMOGRAPHICS],
            purpose="direct_care",
            grantor="person",
            grantor_name=link.carer.full_name,
            evidence="verbal",
            by=recorders[holder.agency_id],
        )
        add("carers' consents")


def _break_glass_awaiting_review(council: Agency, acute: Agency, add: Any) -> None:
    """Nina, in A&E, opened the council's file on an unconscious person with no consent."""
    if SharingBasis.objects.filter(kind="break_glass").exists():
        return
    nina = get_user_model().objects.get(username="nina.nurse")
    shared = SharingBasis.objects.filter(recipient_agency=acute).values("person_id")
    person = (
        Person.objects.filter(case_files__agency=council)
        .exclude(pk__in=shared)
        .exclude(case_files__agency=acute)
        .order_by("nhs_number")
        .first()
    )
    if person is None:
        return
    if not Membership.objects.current().filter(user=nina, agency=acute, role=Role.NURSE).exists():
        return
    services.break_glass(
        person=person,
        user=nina,
        acting_agency=acute,
        reason="Brought into A&E unconscious after a fall at home; need "
        "medication history and next of kin.",
    )
    add("break-glass accesses")
