"""The assessments demo: every state, the joint comprehensive assessment by nina.nurse,
oscar.ot and carol.cm on the person's consent, a Barthel trend over three assessments, a
meeting and an authorised care plan whose letter was sent; a second run adds nothing."""

from __future__ import annotations

from io import StringIO

from django.core.management import call_command

from assessments import selectors
from assessments.demo import JOINT
from assessments.models import (
    Assessment,
    CarePlan,
    JointMeeting,
    ScaleResult,
    Section,
)
from caretrust.directory.models import Agency


def _counts():
    return tuple(
        m.objects.count() for m in (Assessment, Section, ScaleResult, CarePlan, JointMeeting)
    )


def test_the_demo_has_the_joint_assessment_and_every_state_and_is_idempotent(db):
    call_command("seed_demo", stdout=StringIO())
    first = _counts()

    assert set(Assessment.objects.values_list("status", flat=True)) == {
        "draft",
        "in_progress",
        "signed_off",
    }
    joint = Assessment.objects.get(episode=JOINT)
    assert (joint.depth, joint.status, joint.lead.username) == (
        "comprehensive",
        "signed_off",
        "nina.nurse",
    )
    authors = set(
        Section.objects.filter(assessment=joint).values_list("author__username", flat=True)
    )
    assert authors == {"nina.nurse", "oscar.ot", "carol.cm"}
    assert not Section.objects.filter(assessment=joint).exclude(status="signed").exists()

    trend = ScaleResult.objects.filter(case_file=joint.case_file, scale="barthel").order_by(
        "assessed_on"
    )
    assert trend.count() == 3
    assert len({r.assessment_id for r in trend}) == 3
    assert [r.total for r in trend] == [11, 13, 15]

    meeting = JointMeeting.objects.get(assessment=joint)
    assert meeting.wishes and meeting.eligible_computed
    plan = CarePlan.objects.get(assessment=joint)
    assert plan.status == "authorised" and plan.letter_sent_at is not None
    assert plan.weekly_cost_pence == 7 * 2150

    # oscar.ot's and carol.cm's agencies may see it (consent), through the one rule.
    from django.contrib.auth import get_user_model

    oscar = get_user_model().objects.get(username="oscar.ot")
    community = Agency.objects.get(slug="calder-valley-community")
    assert selectors.get_assessment(user=oscar, agency=community, assessment_id=joint.pk)

    call_command("seed_demo", stdout=StringIO())
    assert _counts() == first
