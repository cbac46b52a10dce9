"""Scales scored on the server against the published item tables, item by item, with every
invalid value refused: the Barthel index (0-20) and the Abbreviated Mental Test Score."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from assessments import scales, services
from assessments.models import ScaleResult

# The published Barthel 0-20 table: item -> allowed scores.
BARTHEL_TABLE = {
    "bowels": [0, 1, 2],
    "bladder": [0, 1, 2],
    "grooming": [0, 1],
    "toilet": [0, 1, 2],
    "feeding": [0, 1, 2],
    "transfer": [0, 1, 2, 3],
    "mobility": [0, 1, 2, 3],
    "dressing": [0, 1, 2],
    "stairs": [0, 1, 2],
    "bathing": [0, 1],
}
AMTS_ITEMS = [
    "age",
    "time",
    "address_recall",
    "year",
    "place",
    "recognise_two",
    "date_of_birth",
    "war_year",
    "monarch",
    "count_backwards",
]
BEST = {k: max(v) for k, v in BARTHEL_TABLE.items()}
WORST = {k: 0 for k in BARTHEL_TABLE}


def test_the_barthel_table_is_exactly_the_published_one():
    assert {i.key: list(i.scores) for i in scales.BARTHEL} == BARTHEL_TABLE
    assert sum(BEST.values()) == 20


@pytest.mark.parametrize(("item", "value"), [(k, v) for k, vs in BARTHEL_TABLE.items() for v in vs])
def test_each_allowed_barthel_score_counts_towards_the_total(item, value):
    items, total = scales.score("barthel", {**WORST, item: value})
    assert items[item] == value
    assert total == value


@pytest.mark.parametrize(
    ("item", "value"),
    [(k, max(vs) + 1) for k, vs in BARTHEL_TABLE.items()]
    + [(k, -1) for k in BARTHEL_TABLE]
    + [("bowels", 1.5), ("bladder", "two"), ("mobility", True), ("stairs", None)]
    # other digits and absurd lengths: refused, never int()'s ValueError
    + [("bowels", "²"), ("bladder", "٢"), ("transfer", "9" * 5000)],
)
def test_each_invalid_barthel_value_is_refused_with_what_is_allowed(item, value):
    with pytest.raises(ValidationError) as error:
        scales.score("barthel", {**BEST, item: value})
    messages = error.value.message_dict[item]
    allowed = ", ".join(str(s) for s in BARTHEL_TABLE[item])
    assert allowed in messages[0]


def test_a_barthel_bowels_score_of_3_is_refused():
    with pytest.raises(ValidationError, match="Bowels: 3 is not an allowed score; give 0, 1, 2"):
        scales.score("barthel", {**BEST, "bowels": 3})


def test_a_barthel_item_the_scale_does_not_have_is_refused():
    with pytest.raises(ValidationError, match="no item 'cooking'"):
        scales.score("barthel", {**BEST, "cooking": 1})


def test_amts_has_ten_items_of_one_point_each():
    assert [i.key for i in scales.AMTS] == AMTS_ITEMS
    assert all(i.scores == (0, 1) for i in scales.AMTS)
    assert scales.score("amts", dict.fromkeys(AMTS_ITEMS, 1))[1] == 10
    assert scales.score("amts", dict.fromkeys(AMTS_ITEMS, 0))[1] == 0


@pytest.mark.parametrize("item", AMTS_ITEMS)
def test_an_amts_answer_of_2_is_refused_for_every_item(item):
    answers = dict.fromkeys(AMTS_ITEMS, 1) | {item: 2}
    with pytest.raises(ValidationError, match="give 0, 1"):
        scales.score("amts", answers)


def test_a_scale_is_stored_with_its_items_total_date_and_the_areas_cutoff(
    assessment, hospital, nina
):
    result = services.record_scale(
        assessment=assessment,
        scale="amts",
        items=dict.fromkeys(AMTS_ITEMS, 1) | {"year": 0, "monarch": 0, "time": 0},
        assessed_on=dt.date(2026, 11, 30),
        by=nina,
        agency=hospital,
    )
    result.refresh_from_db()
    assert (result.total, result.cutoff, result.below_cutoff) == (7, 8, True)
    assert result.items["year"] == 0
    assert result.assessed_on == dt.date(2026, 11, 30)


def test_an_invalid_scale_or_a_future_date_stores_nothing(assessment, hospital, nina):
    with pytest.raises(ValidationError):
        services.record_scale(
            assessment=assessment,
            scale="barthel",
            items={**BEST, "bowels": 3},
            assessed_on=dt.date(2026, 11, 30),
            by=nina,
            agency=hospital,
        )
    with pytest.raises(ValidationError, match="future"):
        services.record_scale(
            assessment=assessment,
            scale="barthel",
            items=BEST,
            assessed_on=dt.date.today() + dt.timedelta(days=3),
            by=nina,
            agency=hospital,
        )
    assert not ScaleResult.objects.exists()


def test_only_a_contributor_records_a_scale(assessment, hospital, dual):
    with pytest.raises(PermissionDenied):
        services.record_scale(
            assessment=assessment,
            scale="barthel",
            items=BEST,
            assessed_on=dt.date(2026, 11, 30),
            by=dual,
            agency=hospital,
        )


def test_risks_use_the_shared_vocabulary_with_likelihood_and_impact(assessment, hospital, nina):
    risk = services.record_risk(
        assessment=assessment,
        risk_type="falls",
        likelihood=4,
        impact=3,
        note="Two falls this year",
        by=nina,
        agency=hospital,
    )
    assert risk.score == 12
    with pytest.raises(ValidationError) as error:
        services.record_risk(
            assessment=assessment,
            risk_type="bad_luck",
            likelihood=6,
            impact=0,
            note="",
            by=nina,
            agency=hospital,
        )
    assert set(error.value.message_dict) == {"risk_type", "likelihood", "impact"}
    assert "carer_breakdown" in error.value.message_dict["risk_type"][0]
