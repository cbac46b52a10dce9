"""The service catalogue: edited by the agency's administrator, validated, never silently
overwritten."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from referrals import services

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
