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


# Where NHS numbers come from. The modulus 11 check digit (NHS Data Dictionary, "NHS NUMBER":
# https://www.datadictionary.nhs.uk/attributes/nhs_number.html) is necessary but not enough:
# the four UK health services issue their ten-digit numbers from separate ranges, so a number
# outside every range was never issued, whatever its check digit says.
#
# - England, Wales and the Isle of Man (one shared scheme): 400 000 0000 to 499 999 9999 and
#   600 000 0000 to 799 999 9999; England has since also issued numbers starting 3 above the
#   CHI range and below Northern Ireland's (https://en.wikipedia.org/wiki/NHS_number, "Format,
#   number ranges, and check characters", and the GIG Cymru / NHS Wales nhs-number library,
#   https://docs.rs/crate/nhs-number/latest/source/docs/ranges/README.md).
# - Scotland, the Community Health Index: 010 100 0000 to 311 299 9999. A CHI number is the
#   date of birth as DDMMYY, two further digits, a sex digit (odd male, even female) and the
#   same modulus 11 check digit (NHS Data Dictionary, "COMMUNITY HEALTH INDEX NUMBER":
#   https://www.datadictionary.nhs.uk/attributes/community_health_index_number.html; Public
#   Health Scotland's phsmethods::chi_check applies the same rules).
# - Northern Ireland, the Health and Care number: 320 000 0001 to 399 999 9999 (ibid.).
# - 999 000 0000 to 999 999 9999: valid by the check digit, never issued, for tests and demos.
#
# The NHS documentation's own example, 943 476 5919, is in no range; it is the number the
# Data Dictionary and NHS England's guides show, and this project's help texts and tests use,
# so it is accepted as a documentation example (like the 999 range, never a real person).
class NhsNumberRange:
    ENGLAND_AND_WALES = "England, Wales and the Isle of Man"
    SCOTLAND_CHI = "Scotland (CHI)"
    NORTHERN_IRELAND = "Northern Ireland (H&C)"
    TEST = "test range (999)"
    DOCUMENTATION = "documentation example"


_RANGES: tuple[tuple[int, int, str], ...] = (
    (101_000_000, 3_112_999_999, NhsNumberRange.SCOTLAND_CHI),
    (3_113_000_000, 3_200_000_000, NhsNumberRange.ENGLAND_AND_WALES),
    (3_200_000_001, 3_999_999_999, NhsNumberRange.NORTHERN_IRELAND),
    (4_000_000_000, 4_999_999_999, NhsNumberRange.ENGLAND_AND_WALES),
    (6_000_000_000, 7_999_999_999, NhsNumberRange.ENGLAND_AND_WALES),
    (9_990_000_000, 9_999_999_999, NhsNumberRange.TEST),
)
DOCUMENTATION_EXAMPLES = frozenset({"9434765919"})

_ASCII_DIGITS = re.compile(r"[0-9]*")


def is_ascii_digits(value: str) -> bool:
    """Only the ASCII digits 0-9: ``str.isdigit()`` also accepts "²" or Arabic-Indic digits,
    which ``int()`` then refuses or reads as another number. The one digit rule for
    identifiers (NHS numbers, ids in paths and query strings)."""
    return bool(_ASCII_DIGITS.fullmatch(value))


# PostgreSQL cannot store a NUL in text or JSON (nor compare one): said where text is checked.
NUL_MESSAGE = "contains a NUL (character 0), which cannot be stored: retype it as plain text."


def whole_number(raw: object, *, negative: bool = False) -> int | None:
    """``raw`` as an int if it is a whole number written in ASCII digits (a leading "-" only
    when ``negative``), with at most 18 digits so it fits PostgreSQL's bigint; otherwise None.
    For numbers typed into forms and query strings: ``int()`` after ``str.isdigit()`` fails on
    "²" and on numbers of more than 4,300 digits, and a huge id fails in the database."""
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    sign = -1 if negative and text.startswith("-") else 1
    digits = text[1:] if sign == -1 else text
    if not digits or len(digits) > 18 or not is_ascii_digits(digits):
        return None
    return sign * int(digits)


def nhs_number_range(digits: str) -> str | None:
    """Which issuing range ten ASCII digits fall in, or None for none."""
    if digits in DOCUMENTATION_EXAMPLES:
        return NhsNumberRange.DOCUMENTATION
    number = int(digits)
    for low, high, name in _RANGES:
        if low <= number <= high:
            return name
    return None


def chi_birth_date(digits: str) -> date | None:
    """The date of birth a CHI number's first six digits (DDMMYY) encode, or None when they
    are not a date. The century is not encoded: of 19YY and 20YY, the latest not in the
    future is taken (callers that know the date of birth compare day, month and year-of-century
    only: see ``validate_nhs_number_for_birth_date``)."""
    day, month, year = int(digits[0:2]), int(digits[2:4]), int(digits[4:6])
    for century in (2000, 1900):
        try:
            candidate = date(century + year, month, day)
        except ValueError:
            return None
        if candidate <= today_in_london() or century == 1900:
            return candidate
    return None  # pragma: no cover - the loop always returns


def normalise_nhs_number(value: str) -> str:
    """Accept "943 476 5919" or "9434765919"; return ten digits. The rules, in the order a
    mistake is most likely: only ASCII digits and spaces, ten of them, the modulus 11 check
    digit, an issuing range, and for Scotland's CHI range a real date of birth in its first
    six digits. Each failure says which rule it broke (its ``code`` too)."""
    digits = re.sub(r"\s+", "", str(value))
    if not digits:
        raise ValidationError("Enter an NHS number: 10 digits, like 943 476 5919.", code="required")
    if not is_ascii_digits(digits):
        raise ValidationError(
            "An NHS number contains only digits, 0 to 9 (spaces are allowed); it must be "
            "10 digits, like 943 476 5919.",
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
    issued_by = nhs_number_range(digits)
    if issued_by is None:
        raise ValidationError(
            "This is not a valid NHS number: no NHS number is issued in this range (England "
            "and Wales use numbers starting 4, 6 or 7, Scotland's CHI numbers start with a "
            "date of birth, Northern Ireland's start 32 to 39, test numbers 999). Check it "
            "was typed correctly.",
            code="not_issued_range",
        )
    if issued_by == NhsNumberRange.SCOTLAND_CHI and chi_birth_date(digits) is None:
        raise ValidationError(
            "This is not a valid Scottish CHI number: its first six digits must be the date of "
            f"birth as DDMMYY, and {digits[:6]} is not a date.",
            code="chi_not_a_date",
        )
    return digits


def validate_nhs_number_for_birth_date(nhs_number: str, date_of_birth: date | None) -> None:
    """A Scottish CHI number begins with its holder's date of birth (DDMMYY): where both are
    known they must agree. Numbers of the other ranges encode nothing about their holder."""
    if date_of_birth is None or nhs_number_range(nhs_number) != NhsNumberRange.SCOTLAND_CHI:
        return
    if nhs_number[:6] != date_of_birth.strftime("%d%m%y"):
        raise ValidationError(
            {
                "nhs_number": ValidationError(
                    "This Scottish CHI number does not match the date of birth: its first six "
                    f"digits ({nhs_number[:6]}) must be the date of birth as DDMMYY "
                    f"({date_of_birth.strftime('%d%m%y')}). Check both were typed correctly.",
                    code="chi_date_of_birth_mismatch",
                )
            }
        )


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
