"""Browser forms. They turn text into values; every rule is the services' (whose errors the
views put back on these forms)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from assessments.models import (
    ELIGIBILITY_OUTCOMES,
    AttendeeRole,
    Depth,
    FormQuestion,
    Funding,
    Impact,
    Likelihood,
    Place,
    QuestionKind,
    RiskType,
    ServiceKind,
)
from assessments.scales import TABLES
from caretrust.people.validators import whole_number

DATE_HELP = "For example, 2026-11-27 (year-month-day)."


def add_errors(form: forms.Form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc)


class StartForm(forms.Form):
    depth = forms.ChoiceField(choices=Depth.choices, widget=forms.RadioSelect)
    reason = forms.CharField(max_length=500, help_text="Why the person is being assessed.")
    episode = forms.CharField(max_length=200, help_text="For example, discharge from ward 7.")


def section_form_class(questions: list[FormQuestion], depth: str) -> type[forms.Form]:
    """A form for one section of one form version: a field per question, by its kind."""
    fields: dict[str, Any] = {}
    for q in questions:
        label = q.text + ("" if q.required_for(depth) else " (optional)")
        if q.kind == QuestionKind.CHOICE:
            fields[q.key] = forms.ChoiceField(
                label=label,
                choices=[(c[0], c[1]) for c in q.choices],
                widget=forms.RadioSelect,
                required=False,
            )
        elif q.kind == QuestionKind.NUMBER:
            bounds = f"A whole number from {q.minimum} to {q.maximum}."
            fields[q.key] = forms.CharField(label=label, required=False, help_text=bounds)
        elif q.kind == QuestionKind.DATE:
            fields[q.key] = forms.CharField(label=label, required=False, help_text=DATE_HELP)
        else:
            fields[q.key] = forms.CharField(
                label=label, required=False, widget=forms.Textarea(attrs={"rows": 3})
            )
    fields["narrative"] = forms.CharField(
        label="Narrative",
        required=False,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Your professional account of this area, in plain words.",
    )
    fields["version"] = forms.IntegerField(widget=forms.HiddenInput)
    return type("SectionForm", (forms.Form,), fields)


class DelegateForm(forms.Form):
    section = forms.UUIDField(widget=forms.HiddenInput)
    author = forms.CharField(label="Author's username", max_length=150)
    author_agency = forms.SlugField(label="Author's agency (its short name)", max_length=60)


class AddendumForm(forms.Form):
    reason = forms.CharField(max_length=500, help_text="Why the assessment needs this addendum.")
    text = forms.CharField(label="Addendum", widget=forms.Textarea(attrs={"rows": 6}))


def scale_form_class(scale: str) -> type[forms.Form]:
    fields: dict[str, Any] = {
        item.key: forms.ChoiceField(
            label=item.label,
            choices=[
                (str(s), f"{s}: {m}" if m else str(s))
                for s, m in zip(item.scores, item.meaning or [""] * len(item.scores), strict=True)
            ],
            widget=forms.RadioSelect,
            required=False,
        )
        for item in TABLES[scale]
    }
    fields["assessed_on"] = forms.DateField(
        label="Date assessed", input_formats=["%Y-%m-%d"], help_text=DATE_HELP
    )
    return type("ScaleForm", (forms.Form,), fields)


class RiskForm(forms.Form):
    risk_type = forms.ModelChoiceField(
        queryset=RiskType.objects.all(), to_field_name="key", label="Risk", empty_label=None
    )
    likelihood = forms.TypedChoiceField(
        choices=Likelihood.choices, coerce=int, widget=forms.RadioSelect
    )
    impact = forms.TypedChoiceField(choices=Impact.choices, coerce=int, widget=forms.RadioSelect)
    note = forms.CharField(max_length=500, required=False)


class MeetingForm(forms.Form):
    held_on = forms.DateField(label="Date held", input_formats=["%Y-%m-%d"], help_text=DATE_HELP)
    place = forms.ChoiceField(choices=Place.choices, widget=forms.RadioSelect)
    place_detail = forms.CharField(label="Where exactly", max_length=200, required=False)
    nurse = forms.CharField(label="Qualified nurse attending (name)", max_length=200)
    care_manager = forms.CharField(label="Care manager attending (name)", max_length=200)
    therapist = forms.CharField(label="OT or physiotherapist attending (name)", max_length=200)
    therapist_role = forms.ChoiceField(
        label="The therapist is",
        choices=[
            (AttendeeRole.OCCUPATIONAL_THERAPIST, "An occupational therapist"),
            (AttendeeRole.PHYSIOTHERAPIST, "A physiotherapist"),
        ],
        widget=forms.RadioSelect,
    )
    person_present = forms.BooleanField(label="The person took part", required=False)
    carers = forms.MultipleChoiceField(
        label="Carers who took part", required=False, widget=forms.CheckboxSelectMultiple
    )
    wishes = forms.CharField(
        label="The person's wishes, in their own words",
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
    )
    views = forms.CharField(
        label="The professionals' views", widget=forms.Textarea(attrs={"rows": 4}), required=False
    )
    decisions = forms.CharField(
        label="Decisions", widget=forms.Textarea(attrs={"rows": 4}), required=False
    )
    from_impairment_or_illness = forms.BooleanField(
        label="The needs arise from a physical or mental impairment or illness", required=False
    )
    outcomes_not_achieved = forms.MultipleChoiceField(
        label="Outcomes the person cannot achieve (Care and Support (Eligibility Criteria) "
        "Regulations 2015)",
        choices=ELIGIBILITY_OUTCOMES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    significant_impact_on_wellbeing = forms.BooleanField(
        label="As a result there is, or is likely to be, a significant impact on wellbeing",
        required=False,
    )
    eligibility_confirmed = forms.BooleanField(
        label="I confirm the eligibility decision the service computes from these answers",
        required=False,
    )
    carer_assessment_requested = forms.BooleanField(
        label="A carer asked for a carer's assessment", required=False
    )
    carer_assessment_notes = forms.CharField(
        label="Carer's assessment notes", widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    agreed_package = forms.CharField(
        label="The package agreed", widget=forms.Textarea(attrs={"rows": 4}), required=False
    )

    def __init__(self, *args: Any, carer_choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["carers"].choices = carer_choices  # type: ignore[attr-defined]


class CarePlanForm(forms.Form):
    goals = forms.CharField(
        label="The person's goals, in their own words", widget=forms.Textarea(attrs={"rows": 4})
    )
    review_on = forms.DateField(
        label="Review the plan by", input_formats=["%Y-%m-%d"], help_text=DATE_HELP
    )


class ServiceForm(forms.Form):
    kind = forms.ChoiceField(
        label="Service", choices=[("", "No service"), *ServiceKind.choices], required=False
    )
    funding = forms.ChoiceField(choices=Funding.choices, required=False)
    provider_agency = forms.SlugField(
        label="Provider agency (its short name)", required=False, max_length=60
    )
    hours_per_week = forms.CharField(label="Hours a week", required=False, max_length=10)
    cost_per_hour_pence = forms.CharField(
        label="Cost an hour, in pence", required=False, max_length=10, help_text="2150 is £21.50."
    )
    start_date = forms.CharField(label="Starts", required=False, help_text=DATE_HELP)
    review_date = forms.CharField(label="Review", required=False, help_text=DATE_HELP)
    end_date = forms.CharField(label="Ends", required=False, help_text=DATE_HELP)

    def service(self) -> dict[str, Any] | None:
        data = self.cleaned_data
        if not data.get("kind"):
            return None
        cost = (data.get("cost_per_hour_pence") or "").strip()
        return {
            "kind": data["kind"],
            "funding": data.get("funding"),
            "provider_agency": data.get("provider_agency") or None,
            "hours_per_week": (data.get("hours_per_week") or "").strip() or None,
            "cost_per_hour_pence": _pence_or_text(cost),
            "start_date": data.get("start_date") or None,
            "review_date": data.get("review_date") or None,
            "end_date": data.get("end_date") or None,
        }


def _pence_or_text(cost: str) -> int | str | None:
    """A whole number of pence as an int; anything else as typed, for the service to refuse
    with its message (or None when empty)."""
    pence = whole_number(cost, negative=True)
    return pence if pence is not None else (cost or None)
