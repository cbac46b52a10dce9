"""Browser forms for referrals. They check shape; the services keep the rules."""

from __future__ import annotations

from typing import Any

from django import forms

from referrals.models import (
    DeclineReason,
    DelayReason,
    Need,
    Outcome,
    Pathway,
    Service,
    ServiceKind,
    Setting,
    Source,
    Urgency,
)

ROUTE_FOR_ME = ""


class ServiceChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} ({obj.team.agency})"


class ReferralForm(forms.Form):
    source = forms.ChoiceField(choices=Source.choices, label="Where is the referral from?")
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), max_length=4000, label="Reason for referral"
    )
    needs = forms.MultipleChoiceField(
        choices=Need.choices, widget=forms.CheckboxSelectMultiple, required=False
    )
    urgency = forms.ChoiceField(choices=Urgency.choices, widget=forms.RadioSelect)
    setting = forms.ChoiceField(choices=Setting.choices, label="Where is the person now?")
    medically_stable = forms.BooleanField(required=False, initial=True, label="Medically stable")
    service = ServiceChoiceField(
        queryset=Service.objects.filter(active=True).select_related("team__agency"),
        required=False,
        empty_label="Route for me (the area's routing rules choose)",
        label="Service",
    )
    consent = forms.BooleanField(
        required=False,
        label="The person consents to this referral being shared with the service that receives it",
    )


class PublicReferralForm(forms.Form):
    """The public self/family referral form. ``website`` is a honeypot: hidden from people,
    filled in by bots."""

    source = forms.ChoiceField(
        choices=[(Source.SELF, "About me"), (Source.FAMILY_CARER, "About someone I care for")],
        widget=forms.RadioSelect,
        label="Who is this referral about?",
    )
    given_name = forms.CharField(max_length=100, label="Their first name")
    family_name = forms.CharField(max_length=100, label="Their last name")
    date_of_birth = forms.DateField(
        label="Their date of birth", help_text="For example, 15/03/1942"
    )
    address_line_1 = forms.CharField(max_length=200, label="Address line 1")
    town = forms.CharField(max_length=100, label="Town or city")
    postcode = forms.CharField(max_length=8)
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}), max_length=4000, label="What help is needed?"
    )
    needs = forms.MultipleChoiceField(
        choices=Need.choices, widget=forms.CheckboxSelectMultiple, required=False
    )
    urgency = forms.ChoiceField(
        choices=[(Urgency.URGENT, "Urgent (in the next few days)"), (Urgency.ROUTINE, "Routine")],
        widget=forms.RadioSelect,
        label="How soon is help needed?",
        help_text="In an emergency, call 999.",
    )
    referrer_name = forms.CharField(max_length=200, label="Your name")
    referrer_relationship = forms.CharField(
        max_length=100, required=False, label="Your relationship to them (if not you)"
    )
    referrer_phone = forms.CharField(max_length=40, required=False, label="Your telephone number")
    referrer_email = forms.EmailField(required=False, label="Your email address")
    website = forms.CharField(required=False, label="Leave this empty")
    # The page renders the honeypot itself, out of sight, and tells the shared field template
    # to skip it (`with skip="website"`).

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not (data.get("referrer_phone") or data.get("referrer_email")):
            self.add_error(
                "referrer_phone",
                "Give a telephone number or an email address so we can reach you.",
            )
        return data


class DeclineForm(forms.Form):
    reason_code = forms.ChoiceField(choices=DeclineReason.choices, label="Reason")
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, label="More detail"
    )


class RedirectForm(forms.Form):
    to_service = ServiceChoiceField(
        queryset=Service.objects.filter(active=True).select_related("team__agency"),
        label="Redirect to",
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), label="Why")


class WithdrawForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), label="Why withdraw")


class EndEpisodeForm(forms.Form):
    outcome = forms.ChoiceField(choices=Outcome.choices)
    ended_on = forms.DateField(required=False, label="Ended on", help_text="Leave empty for today")
    handover_to = ServiceChoiceField(
        queryset=Service.objects.filter(active=True).select_related("team__agency"),
        required=False,
        empty_label="No handover",
        label="Hand over to a mainstream service",
    )
    assessment_id = forms.UUIDField(
        required=False,
        label="Signed assessment id",
        help_text="The receiving service adopts it rather than assessing again",
    )


class VerifyForm(forms.Form):
    nhs_number = forms.CharField(max_length=12, label="NHS number")


class ServiceForm(forms.ModelForm):
    class Meta:
        model = Service
        fields = [
            "name",
            "kind",
            "description",
            "min_age",
            "max_age",
            "settings",
            "medically_stable_required",
            "response_hours",
            "response_working_days",
            "max_episode_days",
            "bed_capacity",
            "admission_criteria",
            "discharge_criteria",
            "active",
        ]
        widgets = {
            "kind": forms.Select(choices=ServiceKind.choices),
            "description": forms.Textarea(attrs={"rows": 3}),
            "admission_criteria": forms.Textarea(attrs={"rows": 3}),
            "discharge_criteria": forms.Textarea(attrs={"rows": 3}),
        }

    districts = forms.CharField(
        required=False,
        label="Postcode districts",
        help_text="Outward codes separated by spaces, such as HX1 HX2; empty: anywhere",
    )


SERVICE_SETTINGS_FIELD = forms.MultipleChoiceField(
    choices=Setting.choices, widget=forms.CheckboxSelectMultiple, required=False
)


class AdmissionForm(forms.Form):
    ward = forms.CharField(max_length=100)
    admitted_on = forms.DateField(label="Admitted on")
    discharge_ready_on = forms.DateField(required=False, label="Discharge ready date")


class ReadyDateForm(forms.Form):
    discharge_ready_on = forms.DateField(required=False, label="Discharge ready date")
    note = forms.CharField(max_length=300, required=False, label="Board round note")


class StayForm(forms.Form):
    pathway = forms.TypedChoiceField(
        choices=[("", "Not decided"), *list(Pathway.choices)],
        coerce=int,
        empty_value=None,
        required=False,
    )
    delay_reason = forms.ModelChoiceField(
        queryset=DelayReason.objects.filter(active=True),
        required=False,
        to_field_name="code",
        empty_label="No reason recorded",
        label="Reason for delay",
    )


class DischargeForm(forms.Form):
    discharged_on = forms.DateField(label="Discharged on")
    early_reason = forms.CharField(
        max_length=300,
        required=False,
        label="Reason (if before the discharge ready date)",
    )
