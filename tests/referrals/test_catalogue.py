"""The service catalogue: edited by the agency's administrator, validated, never silently
overwritten."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from referrals import services
from referrals.forms import ServiceForm
from referrals.models import RuleSet
from tests.conftest import signed_in

pytestmark = pytest.mark.django_db


def test_an_administrator_adds_a_service_to_the_catalogue(
    community: Any, rapid_team: Any, adam: Any
) -> None:
    service = services.create_service(
        agency=community,
        by=adam,
        team=rapid_team,
        name="CART",
        slug="cart",
        kind="cart",
        response_working_days=2,
        max_episode_days=42,
        min_age=18,
        postcode_districts=["hx1 "],
    )
    assert service.postcode_districts == ["HX1"]
    assert service.response_target_display == "2 working days"


def test_a_service_needs_exactly_one_response_target(
    community: Any, rapid_team: Any, adam: Any
) -> None:
    with pytest.raises(ValidationError) as caught:
        services.create_service(
            agency=community,
            by=adam,
            team=rapid_team,
            name="X",
            slug="x",
            kind="cart",
            response_hours=2,
            response_working_days=1,
        )
    assert "response_hours" in caught.value.message_dict


def test_a_worker_cannot_change_the_catalogue(community: Any, rapid_team: Any, rita: Any) -> None:
    with pytest.raises(PermissionDenied):
        services.create_service(
            agency=community,
            by=rita,
            team=rapid_team,
            name="X",
            slug="x",
            kind="cart",
            response_hours=2,
        )


def test_an_edit_from_a_stale_read_is_refused(community: Any, rapid: Any, adam: Any) -> None:
    services.update_service(
        service=rapid,
        expected_version=1,
        changes={"max_episode_days": 3},
        agency=community,
        by=adam,
    )
    with pytest.raises(services.StaleVersion):
        services.update_service(
            service=rapid,
            expected_version=1,
            changes={"max_episode_days": 5},
            agency=community,
            by=adam,
        )


def test_eligibility_explains_what_the_person_does_not_meet(community: Any, rapid: Any) -> None:
    rapid.min_age = 65
    rapid.settings = ["home"]
    rapid.medically_stable_required = True
    rapid.postcode_districts = ["HX2"]
    problems = services.eligibility_problems(
        rapid,
        age=40,
        setting="hospital_ward",
        medically_stable=False,
        gp_practice_id=None,
        postcode="HX1 2AB",
    )
    assert len(problems) == 4
    assert "aged 65 or over" in problems[0]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"min_age": 99_999}, "min_age"),  # beyond the column's small integer
        ({"max_age": -1}, "max_age"),
        ({"name": "x" * 201}, "name"),
        ({"postcode_districts": ["HX12345"]}, "postcode_districts"),
    ],
)
def test_a_rule_the_columns_cannot_hold_is_refused_before_the_database(
    community: Any, rapid: Any, adam: Any, change: dict[str, Any], field: str
) -> None:
    """Found by tests/test_browser_form_fuzz.py (these were 500s from PostgreSQL): a rule is
    checked by the model's own field rules, and the message names the rule."""
    rule = {"name": "Falls", "service": rapid, **change}
    with pytest.raises(ValidationError) as caught:
        services.draft_ruleset(agency=community, by=adam, fallback_service=rapid, rules=[rule])
    assert caught.value.message_dict[field][0].startswith("Rule 1: ")
    assert not RuleSet.objects.exists()


def test_the_rules_page_reads_typed_numbers_by_the_one_digit_rule(
    community: Any, rapid: Any, adam: Any, ruleset: Any
) -> None:
    """Position and ages typed as "²" or words were int()'s ValueError (a 500): now a
    position that is no number puts the rule last, and an age that is none is no bound."""
    client = signed_in(adam)
    response = client.post(
        reverse("referrals:rules_copy", args=[ruleset.version]),
        {"service": rapid.slug, "name": "Typed", "position": "two", "min_age": "²"},
    )
    assert response.status_code == 302
    draft = RuleSet.objects.order_by("-version").first()
    typed = draft.rules.order_by("position").last()
    assert (typed.name, typed.min_age) == ("Typed", None)


def test_a_service_edit_without_its_version_saves_nothing(
    community: Any, rapid: Any, adam: Any
) -> None:
    """The hidden version was int()'d (a 500 when tampered with); now it is a form error."""
    data = {k: v for k, v in ServiceForm(instance=rapid).initial.items() if v not in (None, [])}
    client = signed_in(adam)
    response = client.post(
        reverse("referrals:service_edit", args=[rapid.slug]),
        {**data, "name": "Renamed", "version": "²"},
    )
    assert response.status_code == 400
    assert "did not say which version" in response.content.decode()
    rapid.refresh_from_db()
    assert rapid.name == "Rapid response" and rapid.version == 1
