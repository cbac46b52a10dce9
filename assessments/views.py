"""Browser pages of the Single Assessment Process. Thin: reads through the selectors (the
visibility rule, audited), writes through the services; a service's ValidationError becomes a
form error, PermissionDenied a 403 and Http404 a 404 (agency_required answers both inside the
request's transaction, so the denial's audit row is kept)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_POST

from assessments import forms, selectors, services
from assessments.models import (
    ELIGIBILITY_OUTCOMES,
    AttendeeRole,
    Scale,
    Section,
    SectionStatus,
)
from assessments.scales import TABLES
from caretrust.directory.access import agency_required
from caretrust.directory.models import Agency, Membership
from caretrust.people.models import CaseFile
from caretrust.people.selectors import get_visible_person, visible_carer_links
from caretrust.people.validators import whole_number

SERVICE_ROWS = 3


def _agency(request: HttpRequest) -> Agency:
    return request.agency  # type: ignore[attr-defined]


@agency_required
def assessment_list(request: HttpRequest) -> HttpResponse:
    agency = _agency(request)
    rows = selectors.assessments_for(user=request.user, agency=agency)
    offers = selectors.handover_offers(user=request.user, agency=agency)
    return render(
        request,
        "assessments/list.html",
        {
            "assessments": rows,
            "offers": offers,
            "avoided": selectors.reassessments_avoided(agency=agency),
        },
    )


@agency_required
def person_panel(request: HttpRequest, person_id: str) -> HttpResponse:
    data = selectors.person_assessments(
        user=request.user, agency=_agency(request), person_id=person_id
    )
    template = "assessments/_person_panel.html"
    if not request.htmx:  # type: ignore[attr-defined]
        template = "assessments/person_panel.html"
    return render(request, template, {"data": data})


@agency_required
def assessment_start(request: HttpRequest, person_id: str) -> HttpResponse:
    agency = _agency(request)
    person = get_visible_person(
        user=request.user, agency=agency, person_id=person_id, purpose="start_assessment"
    )
    case_file = CaseFile.objects.filter(person=person, agency=agency).first()
    if case_file is None:
        raise Http404("Your agency holds no case file on this person.")
    form = forms.StartForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            assessment = services.start_assessment(
                case_file=case_file, by=request.user, agency=agency, **form.cleaned_data
            )
        except ValidationError as exc:
            forms.add_errors(form, exc)
        else:
            messages.success(request, "Assessment started.")
            return redirect("assessment_detail", assessment_id=assessment.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "assessments/start.html", {"form": form, "person": person}, status=status
    )


@agency_required
def assessment_detail(request: HttpRequest, assessment_id: str) -> HttpResponse:
    agency = _agency(request)
    page = selectors.assessment_page(user=request.user, agency=agency, assessment_id=assessment_id)
    a = page.assessment
    is_lead = a.lead_id == request.user.pk and a.case_file.agency_id == agency.pk
    return render(
        request,
        "assessments/detail.html",
        {
            "page": page,
            "assessment": a,
            "person": a.case_file.person,
            "is_lead": is_lead,
            "is_holder": a.case_file.agency_id == agency.pk,
            "can_adopt": a.is_signed_off and a.case_file.agency_id != agency.pk,
            "scales": Scale.choices,
        },
    )


@agency_required
@require_POST
def delegate(request: HttpRequest, assessment_id: str) -> HttpResponse:
    agency = _agency(request)
    assessment = selectors.get_assessment(
        user=request.user, agency=agency, assessment_id=assessment_id, purpose="delegate"
    )
    form = forms.DelegateForm(request.POST)
    if form.is_valid():
        section = Section.objects.filter(
            assessment=assessment, pk=form.cleaned_data["section"]
        ).first()
        author = (
            get_user_model().objects.filter(username=form.cleaned_data["author"].strip()).first()
        )
        author_agency = Agency.objects.filter(slug=form.cleaned_data["author_agency"]).first()
        if section is None:
            form.add_error(None, "Choose a section of this assessment.")
        elif author is None:
            form.add_error("author", "No member of staff has that username.")
        elif author_agency is None:
            form.add_error("author_agency", "No agency has that short name.")
        else:
            try:
                services.delegate_section(
                    section=section,
                    author=author,
                    author_agency=author_agency,
                    by=request.user,
                    agency=agency,
                )
            except ValidationError as exc:
                forms.add_errors(form, exc)
            else:
                messages.success(
                    request, f"{section.domain.title} delegated to {author.get_full_name()}."
                )
                return redirect("assessment_detail", assessment_id=assessment.pk)
    errors = [e for errs in form.errors.values() for e in errs]
    return render(
        request,
        "assessments/problem.html",
        {"assessment": assessment, "title": "The section was not delegated", "errors": errors},
        status=400,
    )


@agency_required
@require_POST
def sign_off(request: HttpRequest, assessment_id: str) -> HttpResponse:
    agency = _agency(request)
    assessment = selectors.get_assessment(
        user=request.user, agency=agency, assessment_id=assessment_id, purpose="sign_off"
    )
    try:
        services.sign_off_assessment(assessment=assessment, by=request.user, agency=agency)
    except ValidationError as exc:
        return render(
            request,
            "assessments/problem.html",
            {"assessment": assessment, "title": "Not signed off yet", "errors": exc.messages},
            status=400,
        )
    messages.success(request, "Assessment signed off. Later changes are addenda.")
    return redirect("assessment_detail", assessment_id=assessment.pk)


@agency_required
def history(request: HttpRequest, assessment_id: str) -> HttpResponse:
    agency = _agency(request)
    assessment = selectors.get_assessment(
        user=request.user, agency=agency, assessment_id=assessment_id, purpose="history"
    )
    changes = selectors.section_history(user=request.user, agency=agency, assessment=assessment)
    return render(
        request,
        "assessments/history.html",
        {"assessment": assessment, "person": assessment.case_file.person, "changes": changes},
    )


@agency_required
def addendum_new(request: HttpRequest, assessment_id: str) -> HttpResponse:
    agency = _agency(request)
    assessment = selectors.get_assessment(
        user=request.user, agency=agency, assessment_id=assessment_id, purpose="addendum"
    )
    form = forms.AddendumForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.write_addendum(
                assessment=assessment, by=request.user, agency=agency, **form.cleaned_data
            )
        except ValidationError as exc:
            forms.add_errors(form, exc)
        else:
            messages.success(request, "Addendum added.")
            return redirect("assessment_detail", assessment_id=assessment.pk)
    return _form_page(
        request, form, assessment, "Write an addendum", "Add the addendum", status_on_post=400
    )


def _form_page(
    request: HttpRequest,
    form: Any,
    assessment: Any,
    title: str,
    button: str,
    *,
    status_on_post: int = 400,
    intro: str = "",
    extra: dict[str, Any] | None = None,
    template: str = "assessments/form_page.html",
) -> HttpResponse:
    return render(
        request,
        template,
        {
            "form": form,
            "assessment": assessment,
            "person": assessment.case_file.person,
            "title": title,
            "button": button,
            "intro": intro,
            **(extra or {}),
        },
        status=status_on_post if request.method == "POST" else 200,
    )


# --- Sections: edit with autosave, conflicts ---------------------------------------------------


def _section_form(section: Section, data: Any = None) -> Any:
    questions = selectors.questions_of(section)
    form_class = forms.section_form_class(questions, section.assessment.depth)
    initial = {**section.answers, "narrative": section.narrative, "version": section.version}
    return form_class(data, initial=initial), questions


NOT_ANSWERS = {"csrfmiddlewaretoken", "narrative", "version"}


@agency_required
def section_edit(request: HttpRequest, section_id: str) -> HttpResponse:
    """Edit a section. With htmx each change autosaves without a page load, carrying the
    version it was based on; a stale save shows the conflict page, with both versions.

    A save goes straight to the service, which reads the section through the rule, checks
    its author, and validates the answers against the form version (its messages are the
    form's errors): the section and its questions are read again only to show a page."""
    agency = _agency(request)
    if request.method == "POST":
        response = _save(request, agency, section_id)
        if response is not None:
            return response
    section = selectors.get_section(
        user=request.user, agency=agency, section_id=section_id, purpose="edit"
    )
    form, _ = _section_form(section, request.POST or None)
    if request.method == "POST":
        form.is_valid()
        form._errors = type(form._errors)()  # the service's messages, not the form's own
        for field, errors in getattr(request, "section_errors", {}).items():
            form.add_error(field if field in form.fields else None, errors)
    can_edit = (
        section.author_id == request.user.pk
        and section.author_agency_id == agency.pk
        and not section.assessment.is_signed_off
        and section.status != SectionStatus.SIGNED
    )
    if request.method == "POST" and not can_edit:
        return _section_refusal(request, section)
    return render(
        request,
        "assessments/section.html",
        {
            "section": section,
            "assessment": section.assessment,
            "person": section.assessment.case_file.person,
            "form": form,
            "can_edit": can_edit,
        },
        status=400 if request.method == "POST" else 200,
    )


def _save(request: HttpRequest, agency: Agency, section_id: str) -> HttpResponse | None:
    """Save the posted answers. The response for htmx (the save's status, or the way to the
    conflict page), or a redirect after a save; None to show the page with its errors."""
    pk = selectors.is_uuid(section_id)
    version = request.POST.get("version", "")
    answers = {k: v for k, v in request.POST.items() if k not in NOT_ANSWERS}
    errors: dict[str, list[str]] = {}
    try:
        if pk is None:
            raise Http404("No such section.")
        outcome = services.save_section(
            section_id=pk,
            answers=answers,
            narrative=request.POST.get("narrative", ""),
            based_on_version=_version_or_unknown(version),
            by=request.user,
            agency=agency,
        )
    except Http404:
        # Read it through the selector, which audits the denial and answers 404.
        selectors.get_section(user=request.user, agency=agency, section_id=section_id)
        raise
    except ValidationError as exc:
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
        if request.htmx:  # type: ignore[attr-defined]
            messages_ = [m for ms in errors.values() for m in ms]
            return render(request, "assessments/_save_status.html", {"errors": messages_})
        request.section_errors = errors  # type: ignore[attr-defined]
        return None
    if outcome.conflict is not None:
        url = reverse("section_conflict", args=[outcome.conflict.pk])
        if request.htmx:  # type: ignore[attr-defined]
            response = HttpResponse(status=204)
            response["HX-Redirect"] = url
            return response
        return redirect(url)
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "assessments/_save_status.html", {"saved": outcome.section})
    messages.success(request, f"{outcome.section.domain.title} saved.")
    return redirect("section_edit", section_id=outcome.section.pk)


def _section_refusal(request: HttpRequest, section: Section) -> HttpResponse:
    if section.assessment.is_signed_off:
        reason = str(services.AssessmentSignedOff().messages[0])
    elif section.status == SectionStatus.SIGNED and section.author_id == request.user.pk:
        reason = "You have signed this section. Reopen it before changing it."
    else:
        reason = "This section is assigned to someone else: only its author can change it."
    status = 400 if section.assessment.is_signed_off else 403
    return render(
        request,
        "assessments/problem.html",
        {"assessment": section.assessment, "title": "You cannot change this", "errors": [reason]},
        status=status,
    )


@agency_required
@require_POST
def section_sign(request: HttpRequest, section_id: str) -> HttpResponse:
    agency = _agency(request)
    section = selectors.get_section(
        user=request.user, agency=agency, section_id=section_id, purpose="sign"
    )
    version = request.POST.get("version", "")
    try:
        services.sign_section(
            section_id=section.pk,
            by=request.user,
            agency=agency,
            based_on_version=_version_or_unknown(version),
        )
    except ValidationError as exc:
        return render(
            request,
            "assessments/problem.html",
            {"assessment": section.assessment, "title": "Not signed", "errors": exc.messages},
            status=400,
        )
    messages.success(request, f"You signed {section.domain.title}.")
    return redirect("assessment_detail", assessment_id=section.assessment_id)


@agency_required
@require_POST
def section_reopen(request: HttpRequest, section_id: str) -> HttpResponse:
    agency = _agency(request)
    section = selectors.get_section(
        user=request.user, agency=agency, section_id=section_id, purpose="reopen"
    )
    try:
        services.reopen_section(section_id=section.pk, by=request.user, agency=agency)
    except ValidationError as exc:
        return render(
            request,
            "assessments/problem.html",
            {"assessment": section.assessment, "title": "Not reopened", "errors": exc.messages},
            status=400,
        )
    return redirect("section_edit", section_id=section.pk)


@agency_required
def section_conflict(request: HttpRequest, conflict_id: str) -> HttpResponse:
    """Your draft that lost the race, beside the version that won: nothing is lost."""
    agency = _agency(request)
    conflict = selectors.get_conflict(user=request.user, agency=agency, conflict_id=conflict_id)
    section = selectors.get_section(
        user=request.user, agency=agency, section_id=conflict.section_id, purpose="conflict"
    )
    questions = selectors.questions_of(section)
    rows = [
        {
            "text": q.text,
            "yours": conflict.answers.get(q.key, ""),
            "theirs": section.answers.get(q.key, ""),
        }
        for q in questions
    ]
    rows.append({"text": "Narrative", "yours": conflict.narrative, "theirs": section.narrative})
    for row in rows:
        row["differs"] = row["yours"] != row["theirs"]
    return render(
        request,
        "assessments/conflict.html",
        {
            "conflict": conflict,
            "section": section,
            "assessment": section.assessment,
            "person": section.assessment.case_file.person,
            "rows": rows,
        },
        status=409,
    )


# --- Scales, risks ---------------------------------------------------------------------------


@agency_required
def scale_new(request: HttpRequest, assessment_id: str, scale: str) -> HttpResponse:
    if scale not in TABLES:
        raise Http404("No such scale.")
    agency = _agency(request)
    assessment = selectors.get_assessment(
        user=request.user, agency=agency, assessment_id=assessment_id, purpose="scale"
    )
    form = forms.scale_form_class(scale)(request.POST or None)
    if request.method == "POST" and form.is_valid():
        items = {k: v for k, v in form.cleaned_data.items() if k != "assessed_on"}
        try:
            result = services.record_scale(
                assessment=assessment,
                scale=scale,
                items=items,
                assessed_on=form.cleaned_data["assessed_on"],
                by=request.user,
                agency=agency,
            )
        except ValidationError as exc:
            forms.add_errors(form, exc)
        else:
            messages.success(request, f"{Scale(scale).label}: total {result.total}.")
            return redirect("assessment_detail", assessment_id=assessment.pk)
    intro = "The total is worked out for you from the items."
    if scale == Scale.AMTS:
        intro += (
            f" The area's cut-off is {assessment.form.amts_cutoff}: a total below it "
            "suggests cognitive impairment."
        )
    return _form_page(
        request, form, assessment, f"Record the {Scale(scale).label}", "Record", intro=intro
    )


@agency_required
def risk_new(request: HttpRequest, assessment_id: str) -> HttpResponse:
    agency = _agency(request)
    assessment = selectors.get_assessment(
        user=request.user, agency=agency, assessment_id=assessment_id, purpose="risk"
    )
    form = forms.RiskForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.record_risk(
                assessment=assessment,
                risk_type=form.cleaned_data["risk_type"].key,
                likelihood=form.cleaned_data["likelihood"],
                impact=form.cleaned_data["impact"],
                note=form.cleaned_data["note"],
                by=request.user,
                agency=agency,
            )
        except ValidationError as exc:
            forms.add_errors(form, exc)
        else:
            return redirect("assessment_detail", assessment_id=assessment.pk)
    return _form_page(request, form, assessment, "Record a risk", "Record the risk")


# --- Meeting, care plan, letter --------------------------------------------------------------


@agency_required
def meeting_new(request: HttpRequest, assessment_id: str) -> HttpResponse:
    agency = _agency(request)
    assessment = selectors.get_assessment(
        user=request.user, agency=agency, assessment_id=assessment_id, purpose="meeting"
    )
    links = visible_carer_links(
        agency=agency, user=request.user, person_id=assessment.case_file.person_id
    )
    choices = [
        (str(link.pk), f"{link.carer.full_name} ({link.get_relationship_display()})")
        for link in links
    ]
    form = forms.MeetingForm(request.POST or None, carer_choices=choices)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        attendees: list[dict[str, Any]] = [
            {"role": AttendeeRole.NURSE, "name": data["nurse"]},
            {"role": AttendeeRole.CARE_MANAGER, "name": data["care_manager"]},
            {"role": data["therapist_role"], "name": data["therapist"]},
        ]
        if data["person_present"]:
            attendees.append({"role": AttendeeRole.PERSON})
        attendees += [{"role": AttendeeRole.CARER, "carer_link": c} for c in data["carers"]]
        try:
            services.record_meeting(
                assessment=assessment,
                held_on=data["held_on"],
                place=data["place"],
                place_detail=data["place_detail"],
                attendees=attendees,
                wishes=data["wishes"],
                views=data["views"],
                decisions=data["decisions"],
                from_impairment_or_illness=data["from_impairment_or_illness"],
                outcomes_not_achieved=data["outcomes_not_achieved"],
                significant_impact_on_wellbeing=data["significant_impact_on_wellbeing"],
                eligibility_confirmed=data["eligibility_confirmed"],
                carer_assessment_requested=data["carer_assessment_requested"],
                carer_assessment_notes=data["carer_assessment_notes"],
                agreed_package=data["agreed_package"],
                by=request.user,
                agency=agency,
            )
        except ValidationError as exc:
            forms.add_errors(form, exc)
        else:
            messages.success(request, "Joint assessment meeting recorded.")
            return redirect("assessment_detail", assessment_id=assessment.pk)
    computed = None
    if form.is_bound and hasattr(form, "cleaned_data"):
        computed = services.eligible_under_care_act(
            from_impairment_or_illness=form.cleaned_data.get("from_impairment_or_illness", False),
            outcomes_not_achieved=form.cleaned_data.get("outcomes_not_achieved", []),
            significant_impact_on_wellbeing=form.cleaned_data.get(
                "significant_impact_on_wellbeing", False
            ),
        )
    intro = (
        "Needs are eligible under the Care Act 2014 when they arise from an impairment or "
        "illness, the person cannot achieve two or more of the ten outcomes, and there is a "
        "significant impact on their wellbeing. The service works the decision out from your "
        "answers; you confirm it."
    )
    return _form_page(
        request,
        form,
        assessment,
        "Record the joint assessment meeting",
        "Record the meeting",
        intro=intro,
        extra={"computed": computed, "outcomes": ELIGIBILITY_OUTCOMES},
    )


@agency_required
def care_plan_new(request: HttpRequest, assessment_id: str) -> HttpResponse:
    agency = _agency(request)
    assessment = selectors.get_assessment(
        user=request.user, agency=agency, assessment_id=assessment_id, purpose="care_plan"
    )
    form = forms.CarePlanForm(request.POST or None)
    rows = [
        forms.ServiceForm(request.POST or None, prefix=f"service-{i}") for i in range(SERVICE_ROWS)
    ]
    if request.method == "POST" and form.is_valid() and all(r.is_valid() for r in rows):
        chosen = [s for s in (r.service() for r in rows) if s is not None]
        try:
            plan = services.save_care_plan(
                assessment=assessment,
                goals=form.cleaned_data["goals"],
                review_on=form.cleaned_data["review_on"],
                services=chosen,
                by=request.user,
                agency=agency,
            )
        except ValidationError as exc:
            _service_errors(form, rows, exc)
        else:
            messages.success(request, "Care plan saved. Authorise it to put it in place.")
            return redirect("care_plan_detail", care_plan_id=plan.pk)
    return _form_page(
        request,
        form,
        assessment,
        "Agree the care plan",
        "Save the care plan",
        extra={"rows": rows},
        template="assessments/care_plan_form.html",
    )


def _service_errors(form: Any, rows: list[Any], exc: ValidationError) -> None:
    """Put the service's errors ("services[1].hours_per_week") on the row's field."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for name, errors in exc.error_dict.items():
        if name.startswith("services["):
            index = int(name[len("services[") : name.index("]")])
            field = name.split(".", 1)[1]
            rows[index].add_error(field if field in rows[index].fields else None, errors)
        else:
            form.add_error(name if name in form.fields else None, errors)


@agency_required
def care_plan_detail(request: HttpRequest, care_plan_id: str) -> HttpResponse:
    plan = selectors.get_care_plan(
        user=request.user, agency=_agency(request), care_plan_id=care_plan_id
    )
    return render(
        request,
        "assessments/care_plan.html",
        {
            "plan": plan,
            "services": list(plan.services.select_related("provider_agency")),
            "assessment": plan.assessment,
            "person": plan.assessment.case_file.person,
            "is_holder": plan.assessment.case_file.agency_id == _agency(request).pk,
        },
    )


@agency_required
@require_POST
def care_plan_authorise(request: HttpRequest, care_plan_id: str) -> HttpResponse:
    agency = _agency(request)
    plan = selectors.get_care_plan(user=request.user, agency=agency, care_plan_id=care_plan_id)
    try:
        services.authorise_care_plan(care_plan=plan, by=request.user, agency=agency)
    except ValidationError as exc:
        return render(
            request,
            "assessments/problem.html",
            {"assessment": plan.assessment, "title": "Not authorised", "errors": exc.messages},
            status=400,
        )
    messages.success(request, "Care plan authorised.")
    return redirect("care_plan_detail", care_plan_id=plan.pk)


def _letter_context(plan: Any) -> dict[str, Any]:
    return {
        "plan": plan,
        "person": plan.assessment.case_file.person,
        "services": list(plan.services.select_related("provider_agency")),
        "agency": plan.assessment.case_file.agency,
        "meeting": getattr(plan.assessment, "meeting", None),
    }


@agency_required
def letter(request: HttpRequest, care_plan_id: str) -> HttpResponse:
    """The plan as a plain-language letter to the person, ready to print."""
    plan = selectors.get_care_plan(
        user=request.user, agency=_agency(request), care_plan_id=care_plan_id
    )
    return render(request, "assessments/letter.html", _letter_context(plan))


@agency_required
def letter_pdf(request: HttpRequest, care_plan_id: str) -> HttpResponse:
    from weasyprint import HTML  # type: ignore[import-untyped]

    plan = selectors.get_care_plan(
        user=request.user, agency=_agency(request), care_plan_id=care_plan_id
    )
    html = render_to_string("assessments/letter_print.html", _letter_context(plan))
    pdf = HTML(string=html, base_url=request.build_absolute_uri("/")).write_pdf()
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="care-plan-{plan.pk}.pdf"'
    return response


@agency_required
@require_POST
def letter_sent(request: HttpRequest, care_plan_id: str) -> HttpResponse:
    agency = _agency(request)
    plan = selectors.get_care_plan(user=request.user, agency=agency, care_plan_id=care_plan_id)
    try:
        services.record_letter_sent(
            care_plan=plan, by=request.user, agency=agency, form=request.POST.get("form", "print")
        )
    except ValidationError as exc:
        return render(
            request,
            "assessments/problem.html",
            {"assessment": plan.assessment, "title": "Not sent", "errors": exc.messages},
            status=400,
        )
    messages.success(request, "Recorded: the letter was sent to the person.")
    return redirect("care_plan_detail", care_plan_id=plan.pk)


# --- Handover --------------------------------------------------------------------------------


@agency_required
@require_POST
def adopt(request: HttpRequest, assessment_id: str) -> HttpResponse:
    agency = _agency(request)
    assessment = selectors.get_assessment(
        user=request.user, agency=agency, assessment_id=assessment_id, purpose="adopt"
    )
    team = (
        Membership.objects.current()
        .filter(user=request.user, agency=agency, team__isnull=False)  # type: ignore[misc]
        .select_related("team")
        .first()
    )
    try:
        services.adopt_assessment(
            assessment=assessment,
            by=request.user,
            agency=agency,
            team=team.team if team else None,
        )
    except ValidationError as exc:
        return render(
            request,
            "assessments/problem.html",
            {"assessment": assessment, "title": "Not adopted", "errors": exc.messages},
            status=400,
        )
    messages.success(request, "Adopted: your service will not assess again.")
    return redirect("assessment_detail", assessment_id=assessment.pk)


def _version_or_unknown(raw: str) -> int:
    """The version a save was based on, from the form's hidden field. Without one (a
    tampered or truncated form) nothing can be saved over anyone's work: say so."""
    version = whole_number(raw)
    if version is None:
        raise ValidationError(
            "This form did not say which version of the section it was opened on: reload "
            "the section and make your change again."
        )
    return version
