"""The one rule for numbers typed into forms, query strings and headers: ASCII digits only,
small enough for PostgreSQL's bigint, or None (which each caller turns into its own form error
or default), never the ValueError that ``int()`` after ``str.isdigit()`` raises."""

import datetime as dt

import pytest

from caretrust.events.webhooks import retry_after
from caretrust.people.validators import whole_number


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("0", 0), ("42", 42), (" 7 ", 7), ("9" * 18, int("9" * 18))],
)
def test_whole_numbers_in_ascii_digits_are_read(raw, expected):
    assert whole_number(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        " ",
        "²",
        "4²",
        "٣",
        "\uff11\uff12",
        "1.5",
        "1e3",
        "+1",
        "-1",
        "9" * 19,
        "9" * 5000,
        None,
        3,
    ],
)
def test_anything_else_is_none(raw):
    assert whole_number(raw) is None


def test_a_negative_number_only_when_asked_for():
    assert whole_number("-12", negative=True) == -12
    assert whole_number("--12", negative=True) is None
    assert whole_number("-", negative=True) is None


def test_a_partners_retry_after_in_other_digits_is_ignored_not_a_crash():
    now = dt.datetime(2026, 12, 3, tzinfo=dt.UTC)
    assert retry_after("²²", now) is None
    assert retry_after("9" * 5000, now) is None
    assert retry_after("120", now) == dt.timedelta(seconds=120)
