from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from caretrust.directory.models import AgencyKind
from caretrust.people.models import PERSON_FIELDS, Person
from caretrust.people.selectors import PersonQuery
from caretrust.people.validators import (
    normalise_nhs_number,
    normalise_postcode,
    validate_date_of_birth,
)


class NhsNumberField(forms.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault("label", "NHS number")
        kwargs.setdefault("help_text", "10 digits, for example 943 476 5919")
        super().__init__(**kwargs)

    def clean(self, value: Any) -> str:
        value = super().clean(value)
        return normalise_nhs_number(value) if value else value


class DateOfBirthField(forms.DateField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", "Date of birth")
        kwargs.setdefault("help_text", "For example, 1944-03-27 or 27/03/1944")
        kwargs.setdefault(
            "error_messages", {"invalid": "Enter a real date of birth, for example 27/03/1944."}
        )
        super().__init__(**kwargs)

    def clean(self, value: Any) -> Any:
        value = super().clean(value)
        if value:
            validate_date_of_birth(value)
        return value


class PersonSearchForm(forms.Form):
    nhs_number = NhsNumberField(required=False)
    family_name = forms.CharField(required=False, max_length=100, label="Family name")
    given_name = forms.CharField(
        required=False,
        max_length=100,
        label="Given name",
        help_text="Optional; the start of the name is enough",
    )
    date_of_birth = DateOfBirthField(required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        if data.get("nhs_number"):
            return data
        if not data.get("family_name") or not data.get("date_of_birth"):
            raise ValidationError(
                "Enter an NHS number, or a family name and a date of birth.", code="incomplete"
            )
        return data

    def to_query(self) -> PersonQuery:
        d = self.cleaned_data
        return PersonQuery(
            nhs_number=d.get("nhs_number", ""),
            family_name=(d.get("family_name") or "").strip(),
            given_name=(d.get("given_name") or "").strip(),
            date_of_birth=d.get("date_of_birth"),
        )


class PersonRegistrationForm(forms.ModelForm):
    nhs_number = NhsNumberField()
    date_of_birth = DateOfBirthField()

    class Meta:
        model = Person
        fields = list(PERSON_FIELDS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["gp_practice"]
        assert isinstance(field, forms.ModelChoiceField)
        assert field.queryset is not None
        field.queryset = field.queryset.filter(kind=AgencyKind.GP_PRACTICE)
        self.fields["postcode"].help_text = "For example, LS1 4AP"

    def clean_postcode(self) -> str:
        return normalise_postcode(self.cleaned_data["postcode"])

    def validate_unique(self) -> None:
        # A registered NHS number is not an error: take_on_person opens the agency's own file
        # on that person, and the caller is told nothing that shows it was registered before.
        pass
