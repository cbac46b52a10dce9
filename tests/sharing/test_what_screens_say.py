"""Every screen says the state the rule applies: a best-interests decision past its review date
reads "Lapsed" and a consent past its end "Expired" before any sweeper runs; emergency access
says it is on and until when; and the access report names people by name, role and agency,
with times in their zone."""

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from caretrust.api.serializers import SharingBasisSerializer
from caretrust.people.models import DataClass
from caretrust.people.validators import today_in_london
from caretrust.sharing import services as sharing
from caretrust.sharing.models import Purpose, SharingBasis, Status
from tests.sharing.test_break_glass import REASON

LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def lapsed_decision(council_file, council, hospital, carol):
    """A best-interests decision whose review fell due a month ago; no sweeper has run."""
    basis = sharing.record_best_interests(
        person=council_file.person,
        holding_agency=council,
        recipient_agency=hospital,
        data_classes=[DataClass.DEMOGRAPHICS, DataClass.CARE_PLANS],
        purpose=Purpose.DISCHARGE,
        capacity_assessed_by="Dr A Patel, consultant geriatrician",
        capacity_assessed_on=today_in_london(),
        review_on=today_in_london(),
        by=carol,
    )
    review_on = today_in_london() - dt.timedelta(days=30)
    SharingBasis.objects.filter(pk=basis.pk).update(review_on=review_on)
    basis.refresh_from_db()
    return basis


def _sharing_row(page: str, recipient: str) -> str:
    rows = [r for r in re.findall(r"<tr class=\"nhsuk-table__row\">(.*?)</tr>", page, re.S)]
    (row,) = [r for r in rows if recipient in r]
    return row


def test_a_decision_past_its_review_date_reads_lapsed_not_active(
    lapsed_decision, carol_client, council_file, hospital
):
    assert lapsed_decision.status == Status.ACTIVE  # as stored: the sweeper has not run

    page = carol_client.get(reverse("person_detail", args=[council_file.person.pk]))

    row = _sharing_row(page.content.decode(), hospital.name)
    due = f"{lapsed_decision.review_on:%-d %b %Y}"
    assert f"Lapsed: review was due {due}" in row
    assert "Active" not in row
    assert "Withdraw" not in row  # nothing left to withdraw


def test_the_api_reports_the_lapsed_decision_as_expired(lapsed_decision):
    assert SharingBasisSerializer(lapsed_decision).data["status"] == Status.EXPIRED


def test_a_consent_past_its_end_reads_expired(consent_to_hospital, carol_client, hospital):
    now = timezone.now()
    SharingBasis.objects.filter(pk=consent_to_hospital.pk).update(
        period_start=now - dt.timedelta(days=30), period_end=now - dt.timedelta(minutes=1)
    )

    page = carol_client.get(reverse("person_detail", args=[consent_to_hospital.person_id]))

    row = _sharing_row(page.content.decode(), hospital.name)
    assert "Expired" in row
    assert "Active" not in row


def test_a_current_consent_still_reads_active(consent_to_hospital, carol_client, hospital):
    page = carol_client.get(reverse("person_detail", args=[consent_to_hospital.person_id]))

    row = _sharing_row(page.content.decode(), hospital.name)
    assert "Active" in row
    assert "Withdraw" in row


def test_the_page_after_breaking_the_glass_says_emergency_access_is_on_and_until_when(
    nina_client, council_file
):
    response = nina_client.post(
        reverse("break_glass"), {"nhs_number": council_file.person.nhs_number, "reason": REASON}
    )
    page = nina_client.get(response.url).content.decode()

    basis = SharingBasis.objects.get(person=council_file.person, kind="break_glass")
    ends = basis.period_end.astimezone(LONDON)
    assert "Emergency access is on" in page
    assert f"until <strong>{ends:%H:%M %Z}" in page  # GMT or BST, as the clock reads


def test_without_break_glass_the_page_says_nothing_of_emergency_access(
    consent_to_hospital, nina_client
):
    page = nina_client.get(reverse("person_detail", args=[consent_to_hospital.person_id]))

    assert "Emergency access is on" not in page.content.decode()


def test_the_access_report_names_who_looked_by_name_role_and_agency_in_uk_time(
    grace_client, nina, nina_client, hospital, consent_to_hospital
):
    person_id = consent_to_hospital.person_id
    nina_client.get(reverse("person_detail", args=[person_id]))

    page = grace_client.get(reverse("access_report", args=[person_id])).content.decode()

    assert f"{nina.get_full_name()}, nurse, {hospital.name}" in page
    assert f"({nina.get_username()})" in page
    zone = timezone.now().astimezone(LONDON).strftime("%Z")
    assert re.search(rf"\d\d:\d\d:\d\d {zone}</time>", page)
