"""NHS numbers by their issuing ranges, not the check digit alone: England and Wales, Scotland's
CHI (which begins with the date of birth), Northern Ireland's H&C and the 999 test range. The
same rule holds in the validator, the registration form, the API and the service imports use."""

from __future__ import annotations

from datetime import date

import pytest
from django.core.exceptions import ValidationError

from caretrust.people import services
from caretrust.people.forms import PersonRegistrationForm
from caretrust.people.models import Person
from caretrust.people.validators import (
    NhsNumberRange,
    is_ascii_digits,
    nhs_check_digit,
    nhs_number_range,
    normalise_nhs_number,
    nth_test_nhs_number,
    validate_nhs_number_for_birth_date,
)
from tests.api.conftest import PERSON_BODY, assert_problem, make_partner, post_json


def with_check_digit(first_nine: str) -> str:
    """The first nine digits, or the nearest following ones that have a check digit, with it."""
    for serial in range(int(first_nine), int(first_nine) + 20):
        nine = f"{serial:09d}"
        check = nhs_check_digit(nine)
        if check is not None:
            return f"{nine}{check}"
    raise AssertionError("no check digit in 20 serials")


def chi_number(born: date, serial: str = "123") -> str:
    """A CHI number for someone born on ``born``: DDMMYY, two digits, the sex digit, check."""
    for tail in range(int(serial), int(serial) + 20):
        nine = f"{born:%d%m%y}{tail:03d}"
        check = nhs_check_digit(nine)
        if check is not None:
            return f"{nine}{check}"
    raise AssertionError("no check digit in 20 serials")


BORN = date(1943, 3, 15)
ENGLAND = with_check_digit("401023213")
ENGLAND_6 = with_check_digit("612345678")
ENGLAND_7 = with_check_digit("798765432")
ENGLAND_3 = with_check_digit("315000000")
CHI = chi_number(BORN)
NORTHERN_IRELAND = with_check_digit("320000001")
NORTHERN_IRELAND_TOP = with_check_digit("399999990")
TEST = nth_test_nhs_number(7)


@pytest.mark.parametrize(
    ("number", "issued_by"),
    [
        (ENGLAND, NhsNumberRange.ENGLAND_AND_WALES),
        (ENGLAND_6, NhsNumberRange.ENGLAND_AND_WALES),
        (ENGLAND_7, NhsNumberRange.ENGLAND_AND_WALES),
        (ENGLAND_3, NhsNumberRange.ENGLAND_AND_WALES),
        (CHI, NhsNumberRange.SCOTLAND_CHI),
        (NORTHERN_IRELAND, NhsNumberRange.NORTHERN_IRELAND),
        (NORTHERN_IRELAND_TOP, NhsNumberRange.NORTHERN_IRELAND),
        (TEST, NhsNumberRange.TEST),
        ("9434765919", NhsNumberRange.DOCUMENTATION),
    ],
)
def test_a_number_from_each_issuing_range_is_accepted_and_named_by_its_range(number, issued_by):
    assert normalise_nhs_number(number) == number
    assert nhs_number_range(number) == issued_by


@pytest.mark.parametrize(
    "first_nine",
    [
        "500000000",  # between England's two ranges
        "550123456",
        "800000000",  # above them
        "900000000",  # below the test range
        "998999999",
        "000000001",  # below Scotland's (no day 00)
    ],
)
def test_a_number_with_a_good_check_digit_outside_every_range_is_refused_saying_so(first_nine):
    number = with_check_digit(first_nine)
    with pytest.raises(ValidationError) as caught:
        normalise_nhs_number(number)
    assert caught.value.code == "not_issued_range"
    assert "no NHS number is issued in this range" in caught.value.messages[0]


@pytest.mark.parametrize("first_six", ["310299", "300299", "311199", "011399", "290201"])
def test_a_chi_number_whose_first_six_digits_are_not_a_date_is_refused_saying_so(first_six):
    number = with_check_digit(f"{first_six}123")
    assert nhs_number_range(number) == NhsNumberRange.SCOTLAND_CHI
    with pytest.raises(ValidationError) as caught:
        normalise_nhs_number(number)
    assert caught.value.code == "chi_not_a_date"
    assert f"{first_six} is not a date" in caught.value.messages[0]


def test_a_chi_number_on_the_twenty_ninth_of_february_is_a_date_in_a_leap_year_only():
    assert normalise_nhs_number(chi_number(date(1944, 2, 29)))
    with pytest.raises(ValidationError) as caught:
        normalise_nhs_number(with_check_digit("290243123"))
    assert caught.value.code == "chi_not_a_date"


def test_a_chi_number_must_match_the_date_of_birth_when_it_is_known():
    validate_nhs_number_for_birth_date(CHI, BORN)
    validate_nhs_number_for_birth_date(CHI, date(2043 - 100, 3, 15))
    with pytest.raises(ValidationError) as caught:
        validate_nhs_number_for_birth_date(CHI, date(1943, 3, 16))
    error = caught.value.error_dict["nhs_number"][0]
    assert error.code == "chi_date_of_birth_mismatch"
    assert "(150343)" in error.messages[0] and "(160343)" in error.messages[0]


def test_numbers_of_other_ranges_say_nothing_about_the_date_of_birth():
    for number in (ENGLAND, NORTHERN_IRELAND, TEST, "9434765919"):
        validate_nhs_number_for_birth_date(number, date(1950, 1, 1))


def _other_digits(ascii_digits: str, zero: int) -> str:
    """The same digits in another Unicode script (zero: that script's digit zero)."""
    return "".join(chr(zero + int(d)) for d in ascii_digits)


@pytest.mark.parametrize(
    "typed",
    [
        "²²²²²²²²²²",
        "361506642²",
        _other_digits("9990000018", 0x0660),  # Arabic-Indic
        _other_digits("9990000018", 0xFF10),  # fullwidth
    ],
)
def test_only_ascii_digits_are_digits(typed):
    assert typed.isdigit()  # what str.isdigit() would have let through
    assert not is_ascii_digits(typed)
    with pytest.raises(ValidationError) as caught:
        normalise_nhs_number(typed)
    assert caught.value.code == "not_digits"


def _registration(number: str, born: date) -> dict[str, str]:
    return {
        "nhs_number": number,
        "given_name": "Morag",
        "family_name": "Campbell",
        "date_of_birth": born.isoformat(),
        "address_line_1": "1 High Street",
        "town": "Calderbridge",
        "postcode": "LS1 4AP",
    }


def test_the_registration_form_refuses_a_chi_number_of_another_birthday(db):
    form = PersonRegistrationForm(data=_registration(CHI, date(1943, 3, 16)))
    assert not form.is_valid()
    assert "does not match the date of birth" in form.errors["nhs_number"][0]
    assert PersonRegistrationForm(data=_registration(CHI, BORN)).is_valid()


def test_the_registration_form_refuses_a_number_outside_every_range(db):
    form = PersonRegistrationForm(data=_registration(with_check_digit("550123456"), BORN))
    assert not form.is_valid()
    assert "no NHS number is issued in this range" in form.errors["nhs_number"][0]


def test_the_registration_service_imports_use_keeps_the_same_rule(council, carol):
    fields = _registration(CHI, date(1943, 3, 16))
    fields["date_of_birth"] = date(1943, 3, 16)
    with pytest.raises(ValidationError) as caught:
        services.register_person(agency=council, by=carol, **fields)
    assert "does not match the date of birth" in caught.value.message_dict["nhs_number"][0]
    assert not Person.objects.filter(nhs_number=CHI).exists()
    fields["date_of_birth"] = BORN
    assert services.register_person(agency=council, by=carol, **fields).nhs_number == CHI


def test_changing_the_date_of_birth_of_a_chi_holder_to_another_day_is_refused(council, carol):
    fields = {**_registration(CHI, BORN), "date_of_birth": BORN}
    person = services.register_person(agency=council, by=carol, **fields)
    person.date_of_birth = date(1944, 3, 15)
    with pytest.raises(ValidationError) as caught:
        person.full_clean(validate_unique=False)
    assert "nhs_number" in caught.value.message_dict


@pytest.mark.parametrize(
    ("number", "born", "code_words"),
    [
        (CHI, "1943-03-16", "does not match the date of birth"),
        (with_check_digit("550123456"), "1943-03-15", "no NHS number is issued in this range"),
        (with_check_digit("310299123"), "1999-02-28", "is not a date"),
        ("²²²²²²²²²²", "1943-03-15", "only digits, 0 to 9"),
        ("361506642²", "1943-03-15", "only digits, 0 to 9"),
    ],
)
def test_the_api_refuses_the_same_numbers_with_a_problem_saying_which_rule(
    council, settings, number, born, code_words
):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    api = make_partner(council).api
    body = {**PERSON_BODY, "nhs_number": number, "date_of_birth": born}
    problem = assert_problem(post_json(api, "/api/v1/persons/", body), 400)
    messages = [e["message"] for e in problem["errors"] if e["field"] == "nhs_number"]
    assert messages and code_words in messages[0]
    assert not Person.objects.exists()
    assert (
        post_json(
            api, "/api/v1/persons/", {**body, "nhs_number": CHI, "date_of_birth": "1943-03-15"}
        ).status_code
        == 201
    )


@pytest.mark.parametrize("number", ["²²²²²²²²²²", "361506642²", with_check_digit("550123456")])
def test_the_api_search_refuses_them_too(council, settings, number):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    api = make_partner(council).api
    problem = assert_problem(api.get("/api/v1/persons/", {"nhs_number": number}), 400)
    assert any(e["field"] == "nhs_number" for e in problem["errors"])
