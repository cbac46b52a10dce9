from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone

from caretrust.directory.models import Agency
from caretrust.people.forms import NhsNumberField
from caretrust.people.models import DataClass
from caretrust.sharing.models import Evidence, Grantor, Provision, Purpose, ReviewOutcome

DATE_HELP = "For example, 2027-03-31 or 31/03/2027"


class _ShareForm(forms.Form):
    recipient_agency = forms.ModelChoiceField(
        queryset=Agency.objects.none(),
        label="Share with",
        empty_label="Choose an agency",
        error_messages={
            "required": "Choose the agency to share with.",
            "invalid_choice": "Choose one of the agencies listed.",
        },
    )
    data_classes = forms.MultipleChoiceField(
        choices=DataClass.choices,
        widget=forms.CheckboxSelectMultiple,
        label="What may they see?",
        error_messages={"required": "Choose at least one kind of information."},
    )
    purpose = forms.ChoiceField(choices=Purpose.choices, label="Purpose")

    def __init__(self, *args: Any, holding_agency: Agency, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["recipient_agency"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Agency.objects.exclude(pk=holding_agency.pk).order_by("name")


class ConsentForm(_ShareForm):
    provision = forms.ChoiceField(
        choices=[
            (Provision.PERMIT, "They agree to share"),
            (Provision.DENY, "They refuse: do not share"),
        ],
        widget=forms.RadioSelect,
        label="The person's decision",
        error_messages={"required": "Say whether the person agrees or refuses."},
    )
    grantor = forms.ChoiceField(choices=Grantor.choices, label="Decision given by")
    grantor_name = forms.CharField(max_length=200, label="Name of the person giving it")
    evidence = forms.ChoiceField(choices=Evidence.choices, label="How it was given")
    period_end = forms.DateField(
        required=False,
        label="Until (optional)",
        help_text=DATE_HELP,
        error_messages={"invalid": "Enter a real date, for example 31/03/2027."},
    )

    def clean_period_end(self) -> dt.datetime | None:
        day = self.cleaned_data.get("period_end")
        if day is None:
            return None
        if day <= timezone.localdate():
            raise forms.ValidationError("The end date must be in the future.")
        return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


class BestInterestsForm(_ShareForm):
    capacity_assessed_by = forms.CharField(
        max_length=200, label="Capacity assessed by", help_text="Name and role"
    )
    capacity_assessed_on = forms.DateField(
        label="Date of the capacity assessment",
        help_text=DATE_HELP,
        error_messages={"invalid": "Enter a real date, for example 31/03/2026."},
    )
    review_on = forms.DateField(
        label="Review date",
        help_text="The decision lapses after this date. " + DATE_HELP,
        error_messages={"invalid": "Enter a real date, for example 31/03/2027."},
    )


class LegalDutyForm(_ShareForm):
    statutory_reason = forms.CharField(
        max_length=300,
        label="The legal duty",
        help_text="For example, Care Act 2014 s.42 safeguarding enquiry",
    )


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        label="Why is it being withdrawn?",
        error_messages={"required": "Say why the basis is being withdrawn."},
    )


class BreakGlassForm(forms.Form):
    nhs_number = NhsNumberField()
    reason = forms.CharField(
        max_length=2000,
        min_length=10,
        widget=forms.Textarea(attrs={"rows": 4}),
        label="Why do you need emergency access?",
        help_text="Your Caldicott guardian and the agencies holding the records will review it.",
        error_messages={
            "required": "Give the reason for emergency access.",
            "min_length": "Give the reason in at least 10 characters.",
        },
    )


class ReviewForm(forms.Form):
    outcome = forms.ChoiceField(
        choices=ReviewOutcome.choices,
        widget=forms.RadioSelect,
        label="Was the access appropriate?",
        error_messages={"required": "Choose an outcome."},
    )
    notes = forms.CharField(
        max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3}), label="Notes"
    )


class NoteForm(forms.Form):
    case_file = forms.UUIDField(
        widget=forms.HiddenInput, error_messages={"invalid": "Choose a case file."}
    )
    data_class = forms.ChoiceField(choices=DataClass.choices, label="Kind of information")
    text = forms.CharField(
        max_length=10_000, widget=forms.Textarea(attrs={"rows": 5}), label="Note"
    )
    restricted = forms.BooleanField(
        required=False, label="Restricted: keep within this agency even when shared"
    )

    def __init__(self, *args: Any, needed: tuple[set[str], set[str]], **kwargs: Any) -> None:
        """``needed``: the classes the writer's roles read, and those whose restricted items
        they read (``role_classes``): a note can only be of a kind its writer may read."""
        super().__init__(*args, **kwargs)
        classes, restricted = needed
        self._needed_restricted = restricted
        data_class = self.fields["data_class"]
        assert isinstance(data_class, forms.ChoiceField)
        data_class.choices = [c for c in DataClass.choices if c[0] in classes]
        if not restricted:
            del self.fields["restricted"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("restricted") and data.get("data_class") not in self._needed_restricted:
            self.add_error("restricted", "Your role does not read restricted notes of this kind.")
        return data
