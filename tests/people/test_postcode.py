"""UK postcodes as people type them, stored in the form LS1 4AP."""

import pytest
from django.core.exceptions import ValidationError

from caretrust.people.validators import normalise_postcode, validate_postcode


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("LS1 4AP", "LS1 4AP"),
        ("ls14ap", "LS1 4AP"),
        ("  ls1   4ap ", "LS1 4AP"),
        ("SW1A 2AA", "SW1A 2AA"),
        ("sw1a2aa", "SW1A 2AA"),
        ("M1 1AE", "M1 1AE"),
        ("B33 8TH", "B33 8TH"),
        ("CR2 6XH", "CR2 6XH"),
        ("DN55 1PT", "DN55 1PT"),
        ("GIR 0AA", "GIR 0AA"),
        ("gir0aa", "GIR 0AA"),
    ],
)
def test_a_valid_postcode_is_accepted_in_the_stored_form(typed, expected):
    assert normalise_postcode(typed) == expected


@pytest.mark.parametrize(
    "typed",
    [
        "LS1",
        "12345",
        "LS1 4CP",  # C is never used in the inward code
        "LS1 4AI",  # nor I
        "GIR 0AB",  # GIR has only the one postcode
        "",
        "ABC 123",
        "LS1 4AP X",
    ],
)
def test_an_invalid_postcode_is_rejected_with_an_example_of_a_good_one(typed):
    with pytest.raises(ValidationError) as caught:
        normalise_postcode(typed)
    assert caught.value.code == "bad_postcode"
    assert caught.value.messages == ["Enter a full UK postcode, like LS1 4AP or SW1A 2AA."]


def test_a_stored_postcode_must_be_in_the_normal_form():
    validate_postcode("LS1 4AP")
    with pytest.raises(ValidationError) as caught:
        validate_postcode("ls14ap")
    assert caught.value.code == "not_normal"
