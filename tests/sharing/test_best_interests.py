"""A best interests decision (Mental Capacity Act 2005) lasts until the end of its review
day in Europe/London, and not a moment longer, whether or not the sweeper has run."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.functions import Now
from django.urls import reverse

from caretrust.audit.models import Action
from caretrust.people.models import CaseFile, CaseFileGroupObjectPermission, DataClass
from caretrust.people.validators import today_in_london
from caretrust.sharing import services as sharing
from caretrust.sharing.models import BasisKind, Purpose, SharingBasis, Status
from tests.sharing.conftest import events, share

LONDON = ZoneInfo("Europe/London")


def _best_interests(council_file, council, hospital, carol, review_on):
    return sharing.record_best_interests(
        person=council_file.person,
        holding_agency=council,
        recipient_agency=hospital,
        data_classes=[DataClass.DEMOGRAPHICS, DataClass.CARE_PLANS],
        purpose=Purpose.DISCHARGE,
        capacity_assessed_by="Dr A Patel, consultant geriatrician",
        capacity_assessed_on=today_in_london(),
        review_on=review_on,
        by=carol,
    )


@pytest.fixture
def decision(council_file, council, hospital, carol):
    return _best_interests(council_file, council, hospital, carol, review_on=today_in_london())


def _visible(hospital, council_file, data_class=DataClass.DEMOGRAPHICS):
    return CaseFile.objects.visible_to(hospital, data_class).filter(pk=council_file.pk).exists()


def test_a_decision_due_for_review_today_still_counts_today(
    decision, nina_client, hospital, council_file
):
    assert _visible(hospital, council_file)
    assert _visible(hospital, council_file, DataClass.CARE_PLANS)
    assert not _visible(hospital, council_file, DataClass.CLINICAL_NOTES)
    assert (
        nina_client.get(reverse("person_detail", args=[council_file.person.pk])).status_code == 200
    )


def test_its_permission_rows_last_until_the_end_of_the_review_day_in_london(decision):
    end_of_day = dt.datetime.combine(
        today_in_london() + dt.timedelta(days=1), dt.time.min, tzinfo=LONDON
    )

    rows = CaseFileGroupObjectPermission.objects.all()
    assert rows.count() == 2
    assert {r.valid_until for r in rows} == {end_of_day}


@pytest.mark.parametrize(
    ("review_on", "lapses_at_utc"),
    [
        (dt.date(2026, 1, 10), dt.datetime(2026, 1, 11, 0, 0, tzinfo=dt.UTC)),  # GMT
        (dt.date(2026, 7, 1), dt.datetime(2026, 7, 1, 23, 0, tzinfo=dt.UTC)),  # BST
        (dt.date(2026, 3, 28), dt.datetime(2026, 3, 29, 0, 0, tzinfo=dt.UTC)),  # clocks go on
        (dt.date(2026, 10, 24), dt.datetime(2026, 10, 24, 23, 0, tzinfo=dt.UTC)),  # clocks back
    ],
)
def test_the_lapse_is_midnight_london_time_in_winter_and_summer(review_on, lapses_at_utc):
    assert sharing.lapse_at(review_on) == lapses_at_utc


def test_a_review_date_in_the_past_is_refused(council_file, council, hospital, carol):
    with pytest.raises(ValidationError) as caught:
        _best_interests(
            council_file,
            council,
            hospital,
            carol,
            review_on=today_in_london() - dt.timedelta(days=1),
        )

    assert "review_on" in caught.value.message_dict
    assert not SharingBasis.objects.exists()


def test_visibility_ends_when_the_rows_valid_until_passes_before_any_sweeper(
    decision, nina_client, hospital, council_file
):
    # The review day ends: its rows' valid_until is now in the past, by the database's clock.
    CaseFileGroupObjectPermission.objects.update(valid_until=Now() - dt.timedelta(seconds=1))

    assert not _visible(hospital, council_file)
    assert not _visible(hospital, council_file, DataClass.CARE_PLANS)
    assert (
        nina_client.get(reverse("person_detail", args=[council_file.person.pk])).status_code == 404
    )
    assert SharingBasis.objects.get(pk=decision.pk).status == Status.ACTIVE


def test_a_decision_past_its_review_date_no_longer_grants_once_projected(
    decision, carol, council, hospital, council_file
):
    yesterday = today_in_london() - dt.timedelta(days=1)
    SharingBasis.objects.filter(pk=decision.pk).update(review_on=yesterday)

    with transaction.atomic():
        change = sharing.apply_projection(
            person_id=council_file.person_id,
            holding_agency=council,
            recipient_agency=hospital,
            by=carol,
        )

    assert sorted(change.removed) == ["group:care_plans", "group:demographics"]
    assert change.added == []
    assert not CaseFileGroupObjectPermission.objects.exists()
    assert not _visible(hospital, council_file)


def test_the_sweeper_expires_a_decision_past_its_review_date(
    decision, council, hospital, council_file
):
    SharingBasis.objects.filter(pk=decision.pk).update(
        review_on=today_in_london() - dt.timedelta(days=1)
    )

    assert sharing.expire_lapsed_bases() == 1

    decision.refresh_from_db()
    assert decision.kind == BasisKind.BEST_INTERESTS
    assert decision.status == Status.EXPIRED
    last = decision.history.order_by("id").last()
    assert (last.from_status, last.to_status) == (Status.ACTIVE, Status.EXPIRED)
    assert last.reason == "review date passed"
    assert last.changed_by is None
    (changed,) = events(Action.BASIS_STATUS_CHANGED)
    assert changed.detail["reason"] == "review date passed"
    assert not CaseFileGroupObjectPermission.objects.exists()
    assert not _visible(hospital, council_file)
    assert sharing.expire_lapsed_bases() == 0


def test_the_sweeper_leaves_a_decision_due_today_alone(decision, hospital, council_file):
    assert sharing.expire_lapsed_bases() == 0

    assert SharingBasis.objects.get(pk=decision.pk).status == Status.ACTIVE
    assert _visible(hospital, council_file)


def test_an_open_ended_consent_outlasts_a_lapsed_decision_for_the_same_class(
    decision, carol, council, hospital, council_file
):
    share(council_file.person, holder=council, recipient=hospital, by=carol)
    SharingBasis.objects.filter(pk=decision.pk).update(
        review_on=today_in_london() - dt.timedelta(days=1)
    )

    sharing.expire_lapsed_bases()

    assert _visible(hospital, council_file, DataClass.DEMOGRAPHICS)
    assert not _visible(hospital, council_file, DataClass.CARE_PLANS)
    row = CaseFileGroupObjectPermission.objects.get()
    assert row.valid_until is None
