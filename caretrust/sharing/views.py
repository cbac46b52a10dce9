"""Browser pages for sharing: recording and withdrawing bases, break-glass, case notes, and
the access reports. Thin: each reads through a selector and writes through a service."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from caretrust.audit import services as audit
from caretrust.directory.access import agency_required
from caretrust.people.selectors import get_visible_note, get_visible_person
from caretrust.people.services import write_note
from caretrust.sharing import forms, selectors, services
from caretrust.sharing.models import SharingBasis
from caretrust.sharing.need_to_know import role_classes


def _add_errors(form: Any, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(None, exc)


_KINDS: dict[str, tuple[type[forms._ShareForm], str]] = {
    "consent": (forms.ConsentForm, "Record consent or a refusal"),
    "best-interests": (forms.BestInterestsForm, "Record a best interests decision"),
    "legal-duty": (forms.LegalDutyForm, "Record a legal duty to share"),
}


@agency_required
def record_basis(request: HttpRequest, person_id: str, kind: str) -> HttpResponse:
    """Record a basis for sharing the active agency's own file on the person."""
    agency = request.agency  # type: ignore[attr-defined]
    if kind not in _KINDS:
        raise Http404("No such kind of basis.")
    person = get_visible_person(
        user=request.user, agency=agency, person_id=person_id, purpose=f"record_{kind}"
    )
    selectors.require_own_file(
        user=request.user, agency=agency, person=person, purpose=f"record_{kind}"
    )
    form_class, title = _KINDS[kind]
    form = form_class(request.POST or None, holding_agency=agency)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        common = {
            "person": person,
            "holding_agency": agency,
            "by": request.user,
            "recipient_agency": data.pop("recipient_agency"),
            "data_classes": data.pop("data_classes"),
            "purpose": data.pop("purpose"),
        }
        try:
            if kind == "consent":
                services.record_consent(**common, **data)
            elif kind == "best-interests":
                services.record_best_interests(**common, **data)
            else:
                services.record_legal_duty(**common, **data)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, "The sharing basis has been recorded.")
            return redirect("person_detail", person_id=person.pk)
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "sharing/record_basis.html",
        {"form": form, "person": person, "title": title},
        status=status,
    )


def _basis_for(request: HttpRequest, basis_id: str) -> SharingBasis:
    return selectors.get_visible_basis(
        user=request.user,
        agency=request.agency,  # type: ignore[attr-defined]
        basis_id=basis_id,
    )


@agency_required
def withdraw(request: HttpRequest, basis_id: str) -> HttpResponse:
    basis = _basis_for(request, basis_id)
    selectors.require_holder(user=request.user, agency=request.agency, basis=basis)  # type: ignore[attr-defined]
    form = forms.WithdrawForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.withdraw_basis(
                basis=basis,
                reason=form.cleaned_data["reason"],
                by=request.user,
                acting_agency=request.agency,  # type: ignore[attr-defined]
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, "Withdrawn. It stopped counting immediately.")
            return redirect("person_detail", person_id=basis.person_id)
    status = 400 if request.method == "POST" else 200
    return render(request, "sharing/withdraw.html", {"form": form, "basis": basis}, status=status)


@agency_required
def break_glass(request: HttpRequest) -> HttpResponse:
    """Emergency access by NHS number, for four hours, reviewed by Caldicott guardians."""
    agency = request.agency  # type: ignore[attr-defined]
    form = forms.BreakGlassForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        person = selectors.person_for_break_glass(nhs_number=form.cleaned_data["nhs_number"])
        try:
            created = (
                services.break_glass(
                    person=person,
                    user=request.user,
                    acting_agency=agency,
                    reason=form.cleaned_data["reason"],
                )
                if person is not None
                else []
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            if created:
                return redirect("person_detail", person_id=created[0].person_id)
            audit.record_denial(
                actor=request.user,
                agency=agency,
                what="break_glass",
                reason="nothing_to_open",
                nhs_number=form.cleaned_data["nhs_number"],
            )
            form.add_error(
                "nhs_number",
                "No other agency holds records on this NHS number "
                "that emergency access could open.",
            )
    status = 400 if request.method == "POST" else 200
    return render(request, "sharing/break_glass.html", {"form": form}, status=status)


@agency_required
def break_glass_queue(request: HttpRequest) -> HttpResponse:
    queue = selectors.break_glass_queue(user=request.user, agency=request.agency)  # type: ignore[attr-defined]
    return render(request, "sharing/break_glass_queue.html", queue)


@agency_required
def review(request: HttpRequest, review_id: str) -> HttpResponse:
    entry = selectors.pending_review(
        user=request.user,
        agency=request.agency,  # type: ignore[attr-defined]
        review_id=review_id,
    )
    form = forms.ReviewForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.review_break_glass(review=entry, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, "Review recorded.")
            return redirect("break_glass_queue")
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "sharing/review.html",
        {"form": form, "review": entry, "basis": entry.basis},
        status=status,
    )


@agency_required
def access_report(request: HttpRequest, person_id: str) -> HttpResponse:
    agency = request.agency  # type: ignore[attr-defined]
    person = get_visible_person(
        user=request.user, agency=agency, person_id=person_id, purpose="access_report"
    )
    page = selectors.access_report(
        user=request.user, agency=agency, person=person, page=request.GET.get("page")
    )
    return render(request, "sharing/access_report.html", {"person": person, "page": page})


@agency_required
def user_activity(request: HttpRequest, user_id: str) -> HttpResponse:
    target, page = selectors.user_activity(
        user=request.user,
        agency=request.agency,  # type: ignore[attr-defined]
        target_user_id=user_id,
        page=request.GET.get("page"),
    )
    return render(request, "sharing/user_activity.html", {"target": target, "page": page})


@agency_required
def note_detail(request: HttpRequest, note_id: str) -> HttpResponse:
    note = get_visible_note(user=request.user, agency=request.agency, note_id=note_id)  # type: ignore[attr-defined]
    return render(request, "sharing/note.html", {"note": note})


@agency_required
@require_POST
def note_create(request: HttpRequest) -> HttpResponse:
    """Write a note in one of the active agency's own case files. The file is named in the
    body, so it is checked like any other id: invisible answers 404, another agency's file
    that is merely shared with us answers 403."""
    form = forms.NoteForm(request.POST, needed=role_classes(request.agency, request.user))  # type: ignore[attr-defined]
    if not form.is_valid():
        return render(request, "sharing/note_form.html", {"form": form}, status=400)
    note = write_note(agency=request.agency, by=request.user, **form.cleaned_data)  # type: ignore[attr-defined]
    messages.success(request, "Note saved.")
    return redirect("person_detail", person_id=note.case_file.person_id)
