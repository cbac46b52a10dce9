"""The joint assessment meeting: who must attend, the person's wishes in their own words, and
the Care Act 2014 eligibility decision computed against the ten outcomes of the 2015
Regulations and confirmed by the professional."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from assessments import services
from assessments.models import OUTCOME_KEYS, JointMeeting
from caretrust.people.models import CarerLink
from tests.factories import CaseFileFactory, PersonFactory

TEAM = [
    {"role": "nurse", "name": "Nina Kowalski"},
    {"role": "care_manager", "name": "Carol Mensah"},
    {"role": "occupational_therapist", "name": "Oscar Adeyemi"},
    {"role": "person"},
]


def _meeting(assessment, nina, hospital, **overrides):
    values = {
        "assessment": assessment,
        "held_on": dt.date(2026, 12, 1),
        "place": "ward",
        "attendees": TEAM,
        "wishes": "I want to go home and see my garden.",
        "from_impairment_or_illness": True,
        "outcomes_not_achieved": ["hygiene", "toilet"],
        "significant_impact_on_wellbeing": True,
        "eligibility_confirmed": True,
        "by": nina,
        "agency": hospital,
    }
    values.update(overrides)
    return services.record_meeting(**values)


def test_the_ten_outcomes_are_those_of_the_2015_regulations():
    assert len(OUTCOME_KEYS) == 10
    assert OUTCOME_KEYS[0] == "nutrition" and OUTCOME_KEYS[-1] == "caring_for_child"


@pytest.mark.parametrize(
    ("illness", "outcomes", "impact", "eligible"),
    [
        (True, ["hygiene", "toilet"], True, True),
        (True, ["hygiene"], True, False),  # one outcome is not enough
        (True, ["hygiene", "hygiene"], True, False),  # the same outcome twice is one
        (False, ["hygiene", "toilet", "nutrition"], True, False),  # not from impairment/illness
        (True, ["hygiene", "toilet"], False, False),  # no significant impact on wellbeing
        (True, OUTCOME_KEYS, True, True),
    ],
)
def test_eligibility_needs_illness_two_outcomes_and_a_significant_impact(
    illness, outcomes, impact, eligible
):
    assert (
        services.eligible_under_care_act(
            from_impairment_or_illness=illness,
            outcomes_not_achieved=outcomes,
            significant_impact_on_wellbeing=impact,
        )
        is eligible
    )


def test_a_meeting_is_recorded_with_the_computed_decision(assessment, hospital, nina):
    meeting = _meeting(assessment, nina, hospital)
    assert meeting.eligible_computed is True
    assert meeting.eligibility_confirmed_by == nina
    assert sorted(a.role for a in meeting.attendees.all()) == sorted(a["role"] for a in TEAM)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"wishes": "  "}, "wishes"),
        ({"held_on": dt.date.today() + dt.timedelta(days=3)}, "held_on"),
        ({"attendees": TEAM[:2]}, "attendees"),
        ({"attendees": [TEAM[1], TEAM[2]]}, "attendees"),
        ({"outcomes_not_achieved": ["flying"]}, "outcomes_not_achieved"),
        ({"eligibility_confirmed": False}, "eligibility_confirmed"),
        ({"place": "moon"}, "place"),
    ],
)
def test_a_meeting_missing_what_the_law_or_the_process_needs_is_refused(
    assessment, hospital, nina, overrides, field
):
    with pytest.raises(ValidationError) as error:
        _meeting(assessment, nina, hospital, **overrides)
    assert field in error.value.message_dict
    assert not JointMeeting.objects.exists()


def test_carers_come_from_the_persons_carer_links_the_agency_may_see(
    assessment, hospital, nina, council, carol
):
    link = CarerLink.objects.create(
        person=assessment.case_file.person,
        carer=CaseFileFactory(agency=hospital, person=PersonFactory()).person,
        relationship="daughter",
        hours_per_week=20,
    )
    stranger = CarerLink.objects.create(
        person=PersonFactory(), carer=PersonFactory(), relationship="son", hours_per_week=5
    )
    # The person's own carer, but known only to the council: the meeting would put their name
    # in front of everyone who reads the assessment, so it is refused like a stranger.
    unshared = CarerLink.objects.create(
        person=assessment.case_file.person,
        carer=CaseFileFactory(agency=council, lead_worker=carol, person=PersonFactory()).person,
        relationship="son",
        hours_per_week=5,
    )
    for refused in (stranger, unshared):
        with pytest.raises(ValidationError, match="one of the person's carers"):
            _meeting(
                assessment,
                nina,
                hospital,
                attendees=[*TEAM, {"role": "carer", "carer_link": str(refused.pk)}],
            )
    meeting = _meeting(
        assessment,
        nina,
        hospital,
        attendees=[*TEAM, {"role": "carer", "carer_link": str(link.pk)}],
        carer_assessment_requested=True,
    )
    carer = meeting.attendees.get(role="carer")
    assert carer.carer_link == link and carer.name == link.carer.full_name
    assert meeting.carer_assessment_requested
