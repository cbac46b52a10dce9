"""NHS numbers as people type them: ten digits, spaces allowed, a modulus-11 check digit."""

import pytest
from django.core.exceptions import ValidationError

from caretrust.people.validators import (
    format_nhs_number,
    nhs_check_digit,
    normalise_nhs_number,
    nth_test_nhs_number,
    validate_nhs_number,
)


def _nine_digits_without_a_check_digit() -> str:
    """The first nine digits of a number that can never have been issued (check would be 10)."""
    for serial in range(100_000_000, 100_001_000):
        if nhs_check_digit(str(serial)) is None:
            return str(serial)
    raise AssertionError("no nine digits found whose check digit would be 10")


NEVER_ISSUED = _nine_digits_without_a_check_digit()


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("9434765919", "9434765919"),
        ("943 476 5919", "9434765919"),
        ("  943 4765919 ", "9434765919"),
        (nth_test_nhs_number(0), nth_test_nhs_number(0)),
        (nth_test_nhs_number(12_345), nth_test_nhs_number(12_345)),
        (format_nhs_number(nth_test_nhs_number(499_999)), nth_test_nhs_number(499_999)),
    ],
)
def test_a_valid_nhs_number_is_accepted_and_returned_as_ten_digits(typed, expected):
    assert normalise_nhs_number(typed) == expected


@pytest.mark.parametrize(
    ("typed", "code", "message"),
    [
        ("943476591", "wrong_length", "An NHS number is 10 digits; this has 9."),
        ("94347659190", "wrong_length", "An NHS number is 10 digits; this has 11."),
        ("943-476-5919", "not_digits", "An NHS number contains only digits"),
        ("94347659AB", "not_digits", "An NHS number contains only digits"),
        ("9434765918", "bad_check_digit", "its check digit is wrong"),
        (NEVER_ISSUED + "0", "bad_check_digit", "its check digit is wrong"),
        (NEVER_ISSUED + "9", "bad_check_digit", "its check digit is wrong"),
        ("", "required", "Enter an NHS number: 10 digits, like 943 476 5919."),
        ("   ", "required", "Enter an NHS number: 10 digits, like 943 476 5919."),
    ],
)
def test_an_invalid_nhs_number_is_rejected_with_a_message_saying_what_is_wrong(
    typed, code, message
):
    with pytest.raises(ValidationError) as caught:
        normalise_nhs_number(typed)
    assert caught.value.code == code
    assert message in caught.value.messages[0]


def test_a_number_whose_check_digit_would_be_ten_has_no_check_digit_at_all():
    assert nhs_check_digit(NEVER_ISSUED) is None
    for last in "0123456789":
        with pytest.raises(ValidationError) as caught:
            normalise_nhs_number(NEVER_ISSUED + last)
        assert caught.value.code == "bad_check_digit"


@pytest.mark.parametrize(
    ("first_nine", "check"),
    [("943476591", 9), ("401023213", 7), ("999000001", 8)],
)
def test_the_check_digit_is_modulus_eleven(first_nine, check):
    assert nhs_check_digit(first_nine) == check


def test_a_check_of_eleven_becomes_zero():
    # 10*9 + 9*9 + ... weighted sum divisible by 11 gives check 11, written as 0.
    nine = next(
        f"{n:09d}"
        for n in range(999_000_000, 999_001_000)
        if sum(int(d) * w for d, w in zip(f"{n:09d}", range(10, 1, -1), strict=True)) % 11 == 0
    )
    assert nhs_check_digit(nine) == 0
    assert normalise_nhs_number(nine + "0") == nine + "0"


def test_test_range_numbers_start_999_are_valid_and_distinct():
    numbers = [nth_test_nhs_number(n) for n in range(500)]
    assert len(set(numbers)) == 500
    for number in numbers:
        assert number.startswith("999")
        assert normalise_nhs_number(number) == number


@pytest.mark.parametrize("n", [-1, 500_000])
def test_asking_for_a_test_number_outside_the_range_fails_loudly(n):
    with pytest.raises(ValueError, match="outside the test range"):
        nth_test_nhs_number(n)


def test_a_stored_nhs_number_must_be_ten_digits_without_spaces():
    validate_nhs_number("9434765919")
    with pytest.raises(ValidationError) as caught:
        validate_nhs_number("943 476 5919")
    assert caught.value.code == "not_normal"


def test_an_nhs_number_is_displayed_in_groups_of_three_three_and_four():
    assert format_nhs_number("9434765919") == "943 476 5919"
