"""The referrals cast: a community trust running a rapid response service (rita works it, mo
manages the team, adam administers the trust), the hospital (nina refers) and the council."""

from __future__ import annotations

from typing import Any

import pytest

from caretrust.directory import services as directory
from caretrust.directory.models import AgencyKind, Role
from tests.factories import AgencyFactory, PersonFactory, TeamFactory, UserFactory
from tests.referrals.factories import RuleSetFactory, ServiceFactory


def staff(username: str, agency: Any, role: str, team: Any = None) -> Any:
    user = UserFactory(username=username, email=f"{username}@example.org")
    directory.add_membership(user=user, agency=agency, role=role, team=team)
    return user


@pytest.fixture
def community(db: Any) -> Any:
    return AgencyFactory(
        name="Calder Valley Community Health", slug="community", kind=AgencyKind.COMMUNITY_HEALTH
    )


@pytest.fixture
def rapid_team(community: Any) -> Any:
    return TeamFactory(agency=community, name="Rapid response team", slug="rapid-response")


@pytest.fixture
def rapid(rapid_team: Any) -> Any:
    return ServiceFactory(team=rapid_team, name="Rapid response", slug="rapid", response_hours=2)


@pytest.fixture
def rita(community: Any, rapid_team: Any) -> Any:
    return staff("rita", community, Role.NURSE, rapid_team)


@pytest.fixture
def ruth(community: Any, rapid_team: Any) -> Any:
    return staff("ruth", community, Role.NURSE, rapid_team)


@pytest.fixture
def mo(community: Any, rapid_team: Any) -> Any:
    return staff("mo", community, Role.TEAM_MANAGER, rapid_team)


@pytest.fixture
def adam(community: Any) -> Any:
    return staff("adam", community, Role.AGENCY_ADMINISTRATOR)


@pytest.fixture
def ward_person(db: Any) -> Any:
    return PersonFactory(postcode="HX1 2AB")


@pytest.fixture
def front_door(council: Any, carol: Any) -> Any:
    team = TeamFactory(agency=council, name="Front door", slug="front-door")
    return ServiceFactory(
        team=team,
        name="Adult social care front door",
        slug="front-door",
        kind="care_management",
        response_hours=None,
        response_working_days=2,
    )


@pytest.fixture
def ruleset(rapid: Any, front_door: Any) -> Any:
    """Published: A&E or ward + fall + 65 or over -> rapid response; else the front door."""
    return RuleSetFactory(
        fallback=front_door,
        rules=[
            {
                "name": "Falls from hospital",
                "sources": ["emergency_department", "ward"],
                "needs_any": ["fall"],
                "min_age": 65,
                "service": rapid,
            },
            {"name": "Emergencies", "urgencies": ["emergency"], "service": rapid},
        ],
    )
