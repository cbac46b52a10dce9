"""Dates of birth and case-file dates cannot be in the future; nobody was born before 1890."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from caretrust.people import services
from caretrust.people.forms import PersonRegistrationForm
from caretrust.people.models import CaseFile
from caretrust.people.validators import (
    today_in_london,
    validate_date_of_birth,
    validate_not_in_future,
)
from tests.factories import PersonFactory


def _registration(date_of_birth: str) -> PersonRegistrationForm:
    return PersonRegistrationForm(
        data={
            "nhs_number": "943 476 5919",
            "given_name": "Edna",
            "family_name": "Holroyd",
            "date_of_birth": date_of_birth,
            "address_line_1": "3 Mill Lane",
            "town": "Calderbridge",
            "postcode": "HX1 2AB",
        }
    )


def test_a_date_of_birth_tomorrow_is_rejected():
    tomorrow = today_in_london() + dt.timedelta(days=1)
    with pytest.raises(ValidationError) as caught:
        validate_date_of_birth(tomorrow)
    assert caught.value.code == "future"
    assert caught.value.messages == ["The date cannot be in the future."]


def test_a_date_of_birth_before_1890_is_rejected():
    with pytest.raises(ValidationError) as caught:
        validate_date_of_birth(dt.date(1889, 12, 31))
    assert caught.value.code == "too_old"
    assert caught.value.messages == ["Enter a date of birth after 1890."]


@pytest.mark.parametrize("days_ago", [0, 1, 365 * 80])
def test_a_date_of_birth_today_or_in_the_past_is_accepted(days_ago):
    validate_date_of_birth(today_in_london() - dt.timedelta(days=days_ago))
    validate_date_of_birth(dt.date(1890, 1, 1))


def test_today_is_not_in_the_future_but_tomorrow_is():
    validate_not_in_future(today_in_london())
    with pytest.raises(ValidationError):
        validate_not_in_future(today_in_london() + dt.timedelta(days=1))


def test_the_registration_form_rejects_a_future_date_of_birth(db):
    form = _registration((today_in_london() + dt.timedelta(days=1)).isoformat())
    assert not form.is_valid()
    assert form.errors["date_of_birth"] == ["The date cannot be in the future."]


def test_the_registration_form_rejects_a_date_of_birth_before_1890(db):
    form = _registration("31/12/1889")
    assert not form.is_valid()
    assert form.errors["date_of_birth"] == ["Enter a date of birth after 1890."]


def test_the_registration_form_rejects_a_date_that_does_not_exist(db):
    form = _registration("31/02/1950")
    assert not form.is_valid()
    assert form.errors["date_of_birth"] == ["Enter a real date of birth, for example 27/03/1944."]


@pytest.mark.parametrize("typed", ["today", "1944-03-27", "27/03/1944"])
def test_the_registration_form_accepts_today_and_past_dates_of_birth(db, typed):
    if typed == "today":
        typed = today_in_london().isoformat()
    form = _registration(typed)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["date_of_birth"] <= today_in_london()


def test_a_case_file_cannot_be_opened_in_the_future(council, carol):
    person = PersonFactory()
    with pytest.raises(ValidationError) as caught:
        services.open_case_file(
            person=person,
            agency=council,
            lead_worker=carol,
            by=carol,
            opened_on=today_in_london() + dt.timedelta(days=1),
        )
    assert caught.value.message_dict["opened_on"] == ["The date cannot be in the future."]
    assert not CaseFile.objects.filter(person=person).exists()


def test_a_case_file_can_be_opened_today(council, carol):
    person = PersonFactory()
    case_file = services.open_case_file(
        person=person, agency=council, lead_worker=carol, by=carol, opened_on=today_in_london()
    )
    assert case_file.opened_on == today_in_london()
    assert CaseFile.objects.filter(person=person, agency=council).exists()
