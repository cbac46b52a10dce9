"""NHS numbers, postcodes and dates, as people type them.

Each normaliser returns the canonical form or raises ``ValidationError`` with a message that
says what is wrong and what is expected.
"""

from __future__ import annotations

import re
from datetime import date

from django.core.exceptions import ValidationError
from django.utils import timezone

_WEIGHTS = (10, 9, 8, 7, 6, 5, 4, 3, 2)


def nhs_check_digit(first_nine: str) -> int | None:
    """The modulus-11 check digit for nine digits, or None when none is possible (a remainder
    giving 10 means the number was never issued)."""
    total = sum(int(d) * w for d, w in zip(first_nine, _WEIGHTS, strict=True))
    check = 11 - (total % 11)
    if check == 11:
        return 0
    if check == 10:
        return None
    return check


def nth_test_nhs_number(n: int) -> str:
    """The n-th valid NHS number in the range set aside for testing (starting 999), for demo
    data and tests. Serials 2n and 2n+1 differ by 2 in their weighted sum, so at most one of
    the pair can lack a check digit."""
    if not 0 <= n < 500_000:
        raise ValueError(f"n={n} is outside the test range; expected 0 <= n < 500000.")
    for serial in (2 * n, 2 * n + 1):
        first_nine = f"999{serial:06d}"
        check = nhs_check_digit(first_nine)
        if check is not None:
            return f"{first_nine}{check}"
    raise AssertionError("unreachable: one of two neighbouring serials has a check digit")


def normalise_nhs_number(value: str) -> str:
    """Accept "943 476 5919" or "9434765919"; return ten digits."""
    digits = re.sub(r"\s+", "", str(value))
    if not digits:
        raise ValidationError("Enter an NHS number: 10 digits, like 943 476 5919.", code="required")
    if not digits.isdigit():
        raise ValidationError(
            "An NHS number contains only digits (spaces are allowed); it must be 10 digits, "
            "like 943 476 5919.",
            code="not_digits",
        )
    if len(digits) != 10:
        raise ValidationError(
            f"An NHS number is 10 digits; this has {len(digits)}.", code="wrong_length"
        )
    if nhs_check_digit(digits[:9]) != int(digits[9]):
        raise ValidationError(
            "This is not a valid NHS number: its check digit is wrong. Check it was typed "
            "correctly.",
            code="bad_check_digit",
        )
    return digits


def validate_nhs_number(value: str) -> None:
    if normalise_nhs_number(value) != value:
        raise ValidationError("Store NHS numbers as 10 digits with no spaces.", code="not_normal")


def format_nhs_number(digits: str) -> str:
    return f"{digits[:3]} {digits[3:6]} {digits[6:]}" if len(digits) == 10 else digits


# The UK postcode shapes: outward code (area, district) and inward code (sector, unit), plus
# GIR 0AA. The inward code never uses C, I, K, M, O or V.
_POSTCODE = re.compile(
    r"^(?P<out>[A-Z]{1,2}[0-9][A-Z0-9]?|GIR)\s*(?P<in>[0-9][ABD-HJLNP-UW-Z]{2})$"
)


def normalise_postcode(value: str) -> str:
    """Accept "ls1 4ap", "LS14AP" or "LS1 4AP"; return "LS1 4AP"."""
    compact = re.sub(r"\s+", " ", str(value).strip().upper())
    match = _POSTCODE.match(compact)
    if not match or (match["out"] == "GIR" and match["in"] != "0AA"):
        raise ValidationError(
            "Enter a full UK postcode, like LS1 4AP or SW1A 2AA.", code="bad_postcode"
        )
    return f"{match['out']} {match['in']}"


def validate_postcode(value: str) -> None:
    if normalise_postcode(value) != value:
        raise ValidationError("Store postcodes in the form LS1 4AP.", code="not_normal")


def today_in_london() -> date:
    return timezone.localdate()


def validate_not_in_future(value: date) -> None:
    if value > today_in_london():
        raise ValidationError("The date cannot be in the future.", code="future")


def validate_date_of_birth(value: date) -> None:
    validate_not_in_future(value)
    if value.year < 1890:
        raise ValidationError("Enter a date of birth after 1890.", code="too_old")
