"""The world the API-wide property tests run in (test_schemathesis.py, test_write_fuzz.py):
a person with a hospital file, one shared by the council, a break-glass basis, a referral, a
stay, assessments with meetings, care plans and addenda, pooled budgets and webhook
subscriptions with deliveries; ``World.ids`` maps each path with an {id} to ids the hospital's
client may see."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from caretrust.people.models import DataClass
from caretrust.sharing.break_glass import break_glass
from tests.api.conftest import Partner, consent, make_partner
from tests.budgets.conftest import schemathesis_ids as budgets_ids
from tests.factories import CaseFileFactory, PersonFactory


@dataclass
class World:
    partner: Partner
    # For each path with an {id}: ids the hospital may see, to use in place of generated ones.
    ids: dict[str, list[str]]
    own: Any  # the hospital's case file (its person has a referral and a stay)
    theirs: Any  # the council's case file, shared with the hospital
    nina: Any  # the hospital's nurse
    service: Any  # the hospital's discharge team service the referral was made to


def build_world(hospital: Any, council: Any, nina: Any, carol: Any) -> World:
    own = CaseFileFactory(agency=hospital, lead_worker=nina, person=PersonFactory())
    theirs = CaseFileFactory(agency=council, lead_worker=carol, person=PersonFactory())
    given = consent(own.person, holder=hospital, recipient=council, by=nina)
    received = consent(
        theirs.person, holder=council, recipient=hospital, by=carol, classes=DataClass.values
    )
    # Emergency access by a hospital nurse to the council's file: a break-glass basis, whose
    # grantor and evidence are not a person's consent.
    (glass,) = break_glass(
        person=theirs.person,
        user=nina,
        acting_agency=hospital,
        reason="Unconscious in A&E, no history available.",
    )
    persons = [str(own.person.pk), str(theirs.person.pk)]
    referral, stay, service = _referrals_world(hospital, nina, own.person)
    partner = make_partner(hospital, name="Hospital EPR (all scopes)")
    subscriptions, deliveries = _webhooks(partner)
    return World(
        own=own,
        theirs=theirs,
        nina=nina,
        service=service,
        partner=partner,
        ids={
            **_assessment_ids(own, theirs, partner, hospital, council, carol),
            "/api/v1/persons/{id}/": persons,
            "/api/v1/persons/{id}/access-report/": persons,
            "/api/v1/case-files/{id}/": [str(own.pk), str(theirs.pk)],
            "/api/v1/sharing-bases/{id}/": [str(given.pk), str(received.pk), str(glass.pk)],
            "/api/v1/sharing-bases/{id}/withdraw/": [str(given.pk), str(received.pk)],
            "/api/v1/referral-services/{id}/": [str(service.pk), str(service.pk)],
            "/api/v1/referrals/{id}/": [referral, referral],
            **{
                f"/api/v1/referrals/{{id}}/{step}/": [referral, referral]
                for step in (
                    "accept",
                    "claim",
                    "decline",
                    "end-episode",
                    "redirect",
                    "release",
                    "start-episode",
                    "withdraw",
                )
            },
            "/api/v1/hospital-stays/{id}/": [stay, stay],
            "/api/v1/hospital-stays/{id}/discharge/": [stay, stay],
            "/api/v1/hospital-stays/{id}/ready-date/": [stay, stay],
            "/api/v1/webhook-subscriptions/{id}/": subscriptions,
            "/api/v1/webhook-subscriptions/{id}/rotate-secret/": subscriptions,
            "/api/v1/webhook-deliveries/{id}/": deliveries,
            "/api/v1/webhook-deliveries/{id}/attempts/": deliveries,
            "/api/v1/webhook-deliveries/{id}/resend/": deliveries,
            **budgets_ids(hospital, council),
        },
    )


def _referrals_world(hospital: Any, nina: Any, person: Any) -> tuple[str, str, Any]:
    """A referral the hospital made to its own service, and a stay on its ward (referrals/)."""
    import datetime as dt

    from caretrust.people.validators import today_in_london
    from referrals import discharge
    from referrals import services as referral_services
    from tests.factories import TeamFactory
    from tests.referrals.factories import ServiceFactory

    service = ServiceFactory(team=TeamFactory(agency=hospital), slug="discharge-team")
    referral = referral_services.make_referral(
        agency=hospital,
        by=nina,
        person=person,
        service=service,
        source="ward",
        reason="Ready to go home",
        urgency="urgent",
    )
    stay = discharge.record_admission(
        agency=hospital,
        by=nina,
        person=person,
        ward="Ward 7",
        admitted_on=today_in_london() - dt.timedelta(days=5),
    )
    return str(referral.pk), str(stay.pk), service


def _assessment_ids(
    own: Any, theirs: Any, partner: Partner, hospital: Any, council: Any, carol: Any
) -> dict[str, list[str]]:
    """An assessment of each kind, the hospital's own (its client leads it) and one the
    council shares, with their sections, scales, meetings, care plans and addenda."""
    from tests.assessments.factories import contact_assessment, meeting_plans_addendum

    svc = partner.partner.service_user
    mine = contact_assessment(own, svc, hospital, sign_off=True)
    shared = contact_assessment(theirs, carol, council, sign_off=True)
    extra = [
        meeting_plans_addendum(mine, svc, hospital),
        meeting_plans_addendum(shared, carol, council),
    ]
    assessments = [str(mine.pk), str(shared.pk)]
    sections = [str(a.sections.get(domain__key="senses").pk) for a in (mine, shared)]
    plans = [str(e["draft"].pk) for e in extra]
    return {
        "/api/v1/assessments/{id}/": assessments,
        "/api/v1/assessments/{id}/sign-off/": assessments,
        "/api/v1/assessments/{id}/adopt/": assessments,
        "/api/v1/sections/{id}/": sections,
        "/api/v1/sections/{id}/sign/": sections,
        "/api/v1/sections/{id}/delegate/": sections,
        "/api/v1/scales/{id}/": [str(a.scales.get().pk) for a in (mine, shared)],
        "/api/v1/meetings/{id}/": [str(e["meeting"].pk) for e in extra],
        "/api/v1/care-plans/{id}/": plans,
        "/api/v1/care-plans/{id}/authorise/": plans,
        "/api/v1/care-plans/{id}/end/": [str(e["authorised"].pk) for e in extra],
        "/api/v1/addenda/{id}/": [str(e["addendum"].pk) for e in extra],
    }


def _webhooks(partner: Partner) -> tuple[list[str], list[str]]:
    """Two webhook subscriptions of the client, each with a delivery of one event."""
    from django.db import transaction

    from caretrust.events import services as events
    from caretrust.events import webhooks
    from caretrust.events.models import WebhookDelivery

    subscriptions = [
        str(
            webhooks.create_subscription(
                client=partner.partner, url=f"https://epr{n}.example/hook", event_types=["*"]
            ).subscription.pk
        )
        for n in range(2)
    ]
    with transaction.atomic():
        events.emit(
            "test.happened",
            aggregate_type="thing",
            aggregate_id="1",
            payload={},
            agencies=[partner.agency.pk],
        )
    events.dispatch_pending()
    deliveries = [str(pk) for pk in WebhookDelivery.objects.values_list("pk", flat=True)]
    return subscriptions, deliveries
