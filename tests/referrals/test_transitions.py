"""The triage steps: each audited, an illegal one refused with a clear message, the referrer
withdraws before acceptance and sees the outcome, and a short-term episode hands over."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from caretrust.audit.models import AuditEvent
from caretrust.events.models import OutboxEvent
from referrals import selectors, services
from referrals.models import Referral, Status
from tests.factories import CaseFileFactory, share
from tests.referrals.factories import ServiceFactory
from tests.referrals.helpers import internal_referral

pytestmark = pytest.mark.django_db


def test_an_illegal_step_says_what_state_it_is_in_and_what_it_may_do(
    community: Any, rapid: Any, rita: Any
) -> None:
    referral = internal_referral(community, rita, rapid)
    services.decline_referral(
        referral=referral, agency=community, by=rita, reason_code="no_capacity"
    )
    with pytest.raises(services.IllegalTransition) as caught:
        services.accept_referral(referral=referral, agency=community, by=rita)
    assert "This referral is declined, so it cannot be accepted" in str(caught.value)


def test_every_step_is_audited_and_announced(community: Any, rapid: Any, rita: Any) -> None:
    referral = internal_referral(community, rita, rapid)
    services.accept_referral(referral=referral, agency=community, by=rita)
    services.start_episode(referral=referral, agency=community, by=rita)
    services.end_episode(referral=referral, agency=community, by=rita, outcome="home_independent")
    steps = AuditEvent.objects.filter(action="referral.transition", object_id=str(referral.pk))
    assert [e.detail["to"] for e in steps.order_by("id")] == [
        "accepted",
        "episode_active",
        "episode_ended",
    ]
    types = list(
        OutboxEvent.objects.filter(aggregate_id=str(referral.pk)).values_list("type", flat=True)
    )
    assert types == [
        "referral.received",
        "referral.accepted",
        "referral.episode_started",
        "referral.episode_ended",
    ]


def test_a_decline_needs_a_reason_from_the_vocabulary(
    community: Any, rapid: Any, rita: Any
) -> None:
    referral = internal_referral(community, rita, rapid)
    with pytest.raises(ValidationError):
        services.decline_referral(referral=referral, agency=community, by=rita, reason_code="meh")
    assert Referral.objects.get(pk=referral.pk).status == Status.RECEIVED


def test_the_referrer_withdraws_before_acceptance_and_sees_the_outcome(
    nina: Any, hospital: Any, community: Any, rapid: Any, rita: Any, ward_person: Any
) -> None:
    CaseFileFactory(person=ward_person, agency=hospital, lead_worker=nina)
    referral = services.make_referral(
        agency=hospital,
        by=nina,
        source="ward",
        reason="Ready to go home",
        urgency="urgent",
        person=ward_person,
        service=rapid,
        consent=services.ConsentAtReferral(),
    )
    with pytest.raises(PermissionDenied):
        services.withdraw_referral(referral=referral, agency=community, by=rita, reason="oops")
    services.withdraw_referral(referral=referral, agency=hospital, by=nina, reason="Went home")
    seen = selectors.get_visible_referral(user=nina, agency=hospital, referral_id=referral.pk)
    assert seen.status == Status.WITHDRAWN


def test_no_withdrawal_after_acceptance(community: Any, rapid: Any, rita: Any) -> None:
    referral = internal_referral(community, rita, rapid)
    services.accept_referral(referral=referral, agency=community, by=rita)
    with pytest.raises(services.IllegalTransition):
        services.withdraw_referral(referral=referral, agency=community, by=rita, reason="changed")


def test_redirecting_opens_a_new_referral_at_the_other_service(
    community: Any, rapid: Any, rita: Any
) -> None:
    cart = ServiceFactory(
        team=rapid.team,
        name="CART",
        slug="cart",
        kind="cart",
        response_working_days=2,
        response_hours=None,
    )
    referral = internal_referral(community, rita, rapid)
    redirected = services.redirect_referral(
        referral=referral,
        agency=community,
        by=rita,
        to_service=cart,
        reason="Needs rehab, not crisis",
    )
    assert redirected.status == Status.REDIRECTED
    assert redirected.redirected_to.service == cart
    assert redirected.redirected_to.status == Status.RECEIVED


def test_an_episode_has_an_end_by_date_and_warns_near_it(
    community: Any, rapid: Any, rita: Any
) -> None:
    rapid.max_episode_days = 14
    rapid.save()
    referral = internal_referral(community, rita, rapid)
    services.accept_referral(referral=referral, agency=community, by=rita)
    start = dt.date.today() - dt.timedelta(days=12)
    active = services.start_episode(referral=referral, agency=community, by=rita, started_on=start)
    assert active.episode_ends_by == start + dt.timedelta(days=14)
    clock = selectors.episode_clock(active, today=start + dt.timedelta(days=12))
    assert clock is not None and clock.ending_soon and clock.days_left == 2


def test_ending_a_short_term_episode_hands_over_with_the_signed_assessment(
    community: Any, rapid: Any, rita: Any, council: Any, carol: Any
) -> None:
    from tests.factories import TeamFactory

    care_management = ServiceFactory(
        team=TeamFactory(agency=council), name="Care management", slug="cm", kind="care_management"
    )
    referral = internal_referral(community, rita, rapid)
    share(
        referral.case_file.person,
        holder=community,
        recipient=council,
        by=rita,
        classes=["referrals"],
    )
    services.accept_referral(referral=referral, agency=community, by=rita)
    services.start_episode(referral=referral, agency=community, by=rita)
    assessment = uuid.uuid4()
    services.end_episode(
        referral=referral,
        agency=community,
        by=rita,
        outcome="home_with_package",
        handover_to=care_management,
        assessment_id=assessment,
    )
    onward = Referral.objects.get(handed_over_from=referral)
    assert onward.agency == council and onward.assessment_id == assessment
    event = OutboxEvent.objects.get(type="referral.handed_over")
    assert event.payload == {
        "referral_id": str(onward.pk),
        "from_referral_id": str(referral.pk),
        "assessment_id": str(assessment),
        "person_id": str(referral.case_file.person_id),
        "receiving_agency_id": council.pk,
        "receiving_service_id": str(care_management.pk),
    }
