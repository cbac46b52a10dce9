"""Hospital discharge to assess: ready dates reviewed with history, pathways 0-3, the care
transfer hub worklist by delay, long-stay counts, and the optional 2003 Act charge."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from caretrust.events.models import OutboxEvent
from caretrust.people.validators import today_in_london
from referrals import discharge, selectors
from referrals.models import DelayReason, DischargeAgreement, HospitalStay
from tests.factories import PersonFactory

pytestmark = pytest.mark.django_db
TODAY = today_in_london()


def days_ago(n: int) -> dt.date:
    return TODAY - dt.timedelta(days=n)


def admit(hospital: Any, nina: Any, **kwargs: Any) -> HospitalStay:
    return discharge.record_admission(
        agency=hospital,
        by=nina,
        person=kwargs.pop("person", None) or PersonFactory(),
        ward=kwargs.pop("ward", "Ward 7"),
        admitted_on=kwargs.pop("admitted_on", days_ago(20)),
        **kwargs,
    )


def test_the_vocabulary_is_seeded_with_the_sitreps_18_reasons() -> None:
    assert DelayReason.objects.count() == 18
    assert DelayReason.objects.filter(
        label="Awaiting community equipment and adaptations to housing"
    ).exists()


def test_a_ready_date_before_admission_is_refused(hospital: Any, nina: Any) -> None:
    stay = admit(hospital, nina)
    with pytest.raises(ValidationError) as caught:
        discharge.review_ready_date(
            stay=stay, agency=hospital, by=nina, discharge_ready_on=days_ago(30)
        )
    assert "before the admission date" in str(caught.value)


def test_each_board_round_review_is_kept(hospital: Any, nina: Any) -> None:
    stay = admit(hospital, nina)
    discharge.review_ready_date(
        stay=stay, agency=hospital, by=nina, discharge_ready_on=days_ago(5), note="round 1"
    )
    discharge.review_ready_date(
        stay=stay, agency=hospital, by=nina, discharge_ready_on=days_ago(3), note="round 2"
    )
    assert [r.note for r in stay.reviews.all()] == ["round 1", "round 2"]
    assert HospitalStay.objects.get(pk=stay.pk).discharge_ready_on == days_ago(3)


def test_a_pathway_outside_0_to_3_is_refused(hospital: Any, nina: Any) -> None:
    stay = admit(hospital, nina)
    with pytest.raises(ValidationError) as caught:
        discharge.update_stay(stay=stay, agency=hospital, by=nina, pathway=4)
    assert "0, 1, 2 or 3" in str(caught.value)


def test_a_discharge_before_the_ready_date_needs_a_reason(hospital: Any, nina: Any) -> None:
    stay = admit(hospital, nina, discharge_ready_on=days_ago(2))
    with pytest.raises(ValidationError):
        discharge.record_discharge(stay=stay, agency=hospital, by=nina, discharged_on=days_ago(4))
    done = discharge.record_discharge(
        stay=stay,
        agency=hospital,
        by=nina,
        discharged_on=days_ago(4),
        early_reason="Self-discharged",
    )
    assert done.discharged_on == days_ago(4)
    assert OutboxEvent.objects.filter(type="referral.discharged").count() == 1


def test_the_worklist_lists_everyone_past_their_ready_date_longest_delay_first(
    hospital: Any, nina: Any, oscar: Any, outsider_agency: Any
) -> None:
    short = admit(hospital, nina, discharge_ready_on=days_ago(2))
    long = admit(hospital, nina, discharge_ready_on=days_ago(9))
    admit(hospital, nina, discharge_ready_on=TODAY)  # ready today: not yet delayed
    gone = admit(hospital, nina, discharge_ready_on=days_ago(6))
    discharge.record_discharge(stay=gone, agency=hospital, by=nina, discharged_on=days_ago(1))
    rows = selectors.transfer_hub_worklist(user=nina, agency=hospital)
    assert [(r.stay.pk, r.delay_days) for r in rows] == [(long.pk, 9), (short.pk, 2)]
    assert selectors.transfer_hub_worklist(user=oscar, agency=outsider_agency) == []


def test_the_worklist_query_count_does_not_grow_with_rows(
    hospital: Any, nina: Any, django_assert_max_num_queries: Any
) -> None:
    for n in range(3):
        admit(hospital, nina, discharge_ready_on=days_ago(n + 1))
    with django_assert_max_num_queries(4) as few:
        selectors.transfer_hub_worklist(user=nina, agency=hospital)
    for n in range(10):
        admit(hospital, nina, discharge_ready_on=days_ago(n + 1))
    with django_assert_max_num_queries(len(few.captured_queries)):
        selectors.transfer_hub_worklist(user=nina, agency=hospital)


def test_long_stay_counts_by_week(hospital: Any, nina: Any) -> None:
    admit(hospital, nina, admitted_on=days_ago(40))
    admit(hospital, nina, admitted_on=days_ago(16))
    weeks = selectors.long_stay_counts(user=nina, agency=hospital, weeks=1)
    (end, over_14, over_21) = weeks[0]
    in_for = {(end - days_ago(40)).days, (end - days_ago(16)).days}
    assert over_14 == sum(d >= 14 for d in in_for) and over_21 == sum(d >= 21 for d in in_for)


def test_under_a_2003_act_agreement_each_delayed_day_is_charged_once(
    hospital: Any, nina: Any, council: Any
) -> None:
    DischargeAgreement.objects.create(
        hospital_agency=hospital, council_agency=council, rate_pence=10_000
    )
    stay = admit(hospital, nina, council_agency=council, discharge_ready_on=days_ago(10))
    discharge.update_stay(stay=stay, agency=hospital, by=nina, delay_reason="pathway-1")
    discharge.give_notice(
        stay=stay, agency=hospital, by=nina, kind="assessment", given_on=days_ago(15)
    )
    discharge.give_notice(
        stay=stay,
        agency=hospital,
        by=nina,
        kind="discharge",
        given_on=days_ago(15),
        proposed_discharge_on=days_ago(10),
    )
    assert discharge.charge_delays() == 1
    assert discharge.charge_delays() == 0
    event = OutboxEvent.objects.get(type="discharge.delay_charged")
    # Liable from the day after the proposed discharge day, to yesterday: 9 days.
    assert event.payload == {
        "discharge_id": str(stay.pk),
        "person_id": str(stay.case_file.person_id),
        "council_agency_id": council.pk,
        "hospital_agency_id": hospital.pk,
        "date_from": days_ago(9).isoformat(),
        "date_to": days_ago(1).isoformat(),
        "days": 9,
        "rate_pence": 10_000,
        "amount_pence": 90_000,
    }
    assert event.aggregate_type == "hospital_discharge"


def test_without_an_agreement_nothing_is_charged(hospital: Any, nina: Any, council: Any) -> None:
    stay = admit(hospital, nina, council_agency=council, discharge_ready_on=days_ago(10))
    discharge.update_stay(stay=stay, agency=hospital, by=nina, delay_reason="pathway-1")
    with pytest.raises(ValidationError):
        discharge.give_notice(stay=stay, agency=hospital, by=nina, kind="assessment")
    assert discharge.charge_delays() == 0
