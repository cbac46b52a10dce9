"""The browser pages: each renders for the agency that may see it, answers 404 to an outsider,
shows a refused step as a message, and lists with a query count that does not grow."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from referrals.models import Referral, Status
from tests.conftest import signed_in
from tests.factories import PersonFactory
from tests.referrals.helpers import internal_referral

pytestmark = pytest.mark.django_db


def test_the_queue_shows_waiting_referrals_and_its_query_count_does_not_grow(
    community: Any, rapid: Any, rita: Any, django_assert_max_num_queries: Any
) -> None:
    client = signed_in(rita)
    internal_referral(community, rita, rapid)
    url = reverse("referrals:queue", args=[rapid.slug])
    with django_assert_max_num_queries(60) as few:
        response = client.get(url)
    assert response.status_code == 200
    for _ in range(8):
        internal_referral(community, rita, rapid)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(url)
    assert response.content.decode().count("Claim<span") == 9


def test_the_detail_page_shows_the_routing_explanation(
    nina: Any, hospital: Any, rapid: Any, rita: Any, ruleset: Any, community: Any
) -> None:
    import datetime as dt

    from referrals import services
    from tests.factories import CaseFileFactory

    person = PersonFactory(date_of_birth=dt.date(1940, 1, 1))
    CaseFileFactory(person=person, agency=hospital, lead_worker=nina)
    referral = services.make_referral(
        agency=hospital,
        by=nina,
        source="ward",
        reason="Fell on the ward",
        urgency="urgent",
        needs=["fall"],
        setting="hospital_ward",
        person=person,
        consent=services.ConsentAtReferral(),
    )
    page = signed_in(rita).get(reverse("referrals:detail", args=[referral.pk])).content.decode()
    assert "rule 1 matched" in page
    assert signed_in(nina).get(reverse("referrals:detail", args=[referral.pk])).status_code == 200


def test_an_outsider_gets_404_for_a_referral(
    community: Any, rapid: Any, rita: Any, oscar: Any
) -> None:
    referral = internal_referral(community, rita, rapid)
    assert signed_in(oscar).get(reverse("referrals:detail", args=[referral.pk])).status_code == 404


def test_an_illegal_step_in_the_browser_is_a_clear_message(
    community: Any, rapid: Any, rita: Any
) -> None:
    referral = internal_referral(community, rita, rapid)
    client = signed_in(rita)
    client.post(reverse("referrals:action", args=[referral.pk, "accept"]))
    response = client.post(reverse("referrals:action", args=[referral.pk, "accept"]), follow=True)
    assert "This referral is accepted, so it cannot be accepted" in response.content.decode()
    assert Referral.objects.get(pk=referral.pk).status == Status.ACCEPTED


def test_a_claim_someone_else_won_tells_who(
    community: Any, rapid: Any, rita: Any, ruth: Any
) -> None:
    referral = internal_referral(community, rita, rapid)
    signed_in(rita).post(reverse("referrals:action", args=[referral.pk, "claim"]))
    response = signed_in(ruth).post(
        reverse("referrals:action", args=[referral.pk, "claim"]), follow=True
    )
    assert "has already claimed this referral" in response.content.decode()


def test_the_public_form_needs_no_sign_in_and_says_the_same_whoever_it_is_about(
    client: Any, ruleset: Any
) -> None:
    known = PersonFactory()
    form = {
        "source": "family_carer",
        "given_name": known.given_name,
        "family_name": known.family_name,
        "date_of_birth": known.date_of_birth.isoformat(),
        "address_line_1": "1 Mill Lane",
        "town": "Calderbridge",
        "postcode": "HX1 2AB",
        "reason": "Not coping at home",
        "urgency": "urgent",
        "referrer_name": "Sam",
        "referrer_phone": "07700 900123",
    }
    first = client.post(reverse("referrals:public"), form).content.decode()
    second = client.post(
        reverse("referrals:public"), {**form, "given_name": "Nobody", "family_name": "Known"}
    ).content.decode()
    assert "we have your request" in first and "we have your request" in second

    def main(page: str) -> str:
        return page.split("<main")[1].split("Your reference is")[0]

    assert main(first) == main(second)
    assert Referral.objects.filter(unverified=True).count() == 2


def test_the_public_form_honeypot_keeps_nothing(client: Any, ruleset: Any) -> None:
    response = client.post(
        reverse("referrals:public"),
        {
            "source": "self",
            "given_name": "A",
            "family_name": "B",
            "date_of_birth": "1950-01-01",
            "address_line_1": "1",
            "town": "T",
            "postcode": "HX1 2AB",
            "reason": "help me",
            "urgency": "routine",
            "referrer_name": "A",
            "referrer_phone": "1",
            "website": "spam",
        },
    )
    assert response.status_code == 200 and Referral.objects.count() == 0


def test_the_public_form_is_rate_limited(client: Any, ruleset: Any) -> None:
    from django.core.cache import cache

    cache.clear()
    for _ in range(5):
        client.post(reverse("referrals:public"), {"source": "self"})
    assert client.post(reverse("referrals:public"), {"source": "self"}).status_code == 429
    cache.clear()


def test_a_public_referral_with_no_contact_details_is_a_form_error(
    client: Any, ruleset: Any
) -> None:
    from django.core.cache import cache

    cache.clear()
    response = client.post(
        reverse("referrals:public"),
        {
            "source": "self",
            "given_name": "A",
            "family_name": "B",
            "date_of_birth": "1950-01-01",
            "address_line_1": "1",
            "town": "T",
            "postcode": "HX1 2AB",
            "reason": "help me",
            "urgency": "routine",
            "referrer_name": "A",
        },
    )
    assert response.status_code == 400
    assert "telephone number or an email address" in response.content.decode()


@pytest.mark.parametrize(
    "name",
    [
        "referrals:home",
        "referrals:sent",
        "referrals:new",
        "referrals:notifications",
        "referrals:catalogue",
        "referrals:outcomes",
        "referrals:worklist",
    ],
)
def test_each_page_renders(name: str, community: Any, rapid: Any, rita: Any) -> None:
    internal_referral(community, rita, rapid)
    assert signed_in(rita).get(reverse(name)).status_code == 200


@pytest.mark.parametrize(
    "measure",
    [
        "sources",
        "accepted",
        "within-target",
        "first-contact",
        "episode-length",
        "outcome-mix",
        "admissions-avoided",
        "delayed-days",
    ],
)
def test_each_outcome_has_a_chart_a_table_and_an_audited_csv(
    measure: str, community: Any, rapid: Any, rita: Any
) -> None:
    from caretrust.audit.models import AuditEvent
    from referrals import services

    referral = internal_referral(community, rita, rapid)
    services.accept_referral(referral=referral, agency=community, by=rita)
    client = signed_in(rita)
    page = client.get(reverse("referrals:outcomes_measure", args=[measure])).content.decode()
    assert "<table" in page
    csv = client.get(reverse("referrals:outcomes_measure", args=[measure]) + "?format=csv")
    assert csv["Content-Type"] == "text/csv"
    assert AuditEvent.objects.filter(action="referral_outcomes.exported").count() == 1


def test_the_catalogue_and_rules_are_for_administrators(
    community: Any, rapid: Any, rita: Any, adam: Any, ruleset: Any
) -> None:
    assert (
        signed_in(rita).get(reverse("referrals:service_edit", args=[rapid.slug])).status_code == 403
    )
    assert (
        signed_in(adam).get(reverse("referrals:service_edit", args=[rapid.slug])).status_code == 200
    )
    assert signed_in(adam).get(reverse("referrals:rules")).status_code == 200
    assert signed_in(rita).get(reverse("referrals:rules")).status_code == 403


def test_an_administrator_changes_a_service_in_the_browser(
    community: Any, rapid: Any, adam: Any
) -> None:
    url = reverse("referrals:service_edit", args=[rapid.slug])
    form = {
        "version": rapid.version,
        "name": "Rapid response (24/7)",
        "kind": "rapid_response",
        "response_hours": "2",
        "max_episode_days": "14",
        "settings": ["home"],
        "districts": "hx1 HX2",
        "active": "on",
    }
    response = signed_in(adam).post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    rapid.refresh_from_db()
    assert rapid.name == "Rapid response (24/7)" and rapid.postcode_districts == ["HX1", "HX2"]
    assert rapid.settings == ["home"] and rapid.version == 2
    stale = signed_in(adam).post(url, {**form, "name": "Older edit"})
    assert stale.status_code == 400 and "Someone changed this service" in stale.content.decode()


def test_the_dashboard_shows_beds_occupied(community: Any, rapid_team: Any, rita: Any) -> None:
    from referrals import services
    from tests.referrals.factories import ServiceFactory

    beds = ServiceFactory(
        team=rapid_team, name="Beds", slug="beds", kind="step_up_down_beds", bed_capacity=12
    )
    referral = internal_referral(community, rita, beds)
    services.accept_referral(referral=referral, agency=community, by=rita)
    services.start_episode(referral=referral, agency=community, by=rita)
    page = signed_in(rita).get(reverse("referrals:home")).content.decode()
    assert "1 of 12 beds" in page
