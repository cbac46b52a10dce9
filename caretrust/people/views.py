from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from caretrust.directory.access import agency_required
from caretrust.people import selectors, services
from caretrust.people.forms import PersonRegistrationForm, PersonSearchForm


@agency_required
def caseload(request: HttpRequest) -> HttpResponse:
    page = selectors.caseload(
        user=request.user,
        agency=request.agency,  # type: ignore[attr-defined]
        page=request.GET.get("page"),
    )
    return render(request, "people/caseload.html", {"page": page})


@agency_required
def person_search(request: HttpRequest) -> HttpResponse:
    form = PersonSearchForm(request.GET or None)
    page = None
    if request.GET and form.is_valid():
        page = selectors.search_persons(
            user=request.user,
            agency=request.agency,  # type: ignore[attr-defined]
            query=form.to_query(),
            page=request.GET.get("page"),
        )
    params = request.GET.copy()
    params.pop("page", None)
    status = 400 if request.GET and not form.is_valid() else 200
    return render(
        request,
        "people/search.html",
        {"form": form, "page": page, "query_string": params.urlencode()},
        status=status,
    )


@agency_required
def person_detail(request: HttpRequest, person_id: str) -> HttpResponse:
    """The integrated view: every case file on the person the active agency may see, grouped
    by holding agency and data class, with the sharing panel for the active agency."""
    from caretrust.people.panels import PANELS
    from caretrust.sharing.forms import NoteForm
    from caretrust.sharing.selectors import (
        GOVERNANCE_ROLES,
        emergency_access_until,
        sharing_panel,
    )
    from caretrust.sharing.services import BREAK_GLASS_ROLES, RECORDING_ROLES

    agency = request.agency  # type: ignore[attr-defined]
    record = selectors.person_record(user=request.user, agency=agency, person_id=person_id)
    roles = request.roles  # type: ignore[attr-defined]
    own_file = next((f.case_file for f in record.files if f.is_own), None)
    bases = sharing_panel(person=record.person, agency=agency)
    return render(
        request,
        "people/person.html",
        {
            "record": record,
            "person": record.person,
            "bases": bases,
            "emergency_until": emergency_access_until(bases, user=request.user, agency=agency),
            "own_file": own_file,
            "can_record": own_file is not None and bool(roles & RECORDING_ROLES),
            "can_report": own_file is not None and bool(roles & GOVERNANCE_ROLES),
            "can_break_glass": bool(roles & BREAK_GLASS_ROLES),
            "note_form": (
                NoteForm(
                    initial={"case_file": own_file.pk},
                    needed=record.needed,
                )
                if own_file
                else None
            ),
            "panels": [p for p in PANELS if p.data_class not in record.withheld],
        },
    )


@agency_required
def person_register(request: HttpRequest) -> HttpResponse:
    """Register a person, or take on one already registered: either way the agency's own file
    is opened and the worker lands on the person page, told nothing that shows which it was
    (``services.take_on_person``)."""
    form = PersonRegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            taken_on = services.take_on_person(
                agency=request.agency,  # type: ignore[attr-defined]
                by=request.user,
                **form.cleaned_data,
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            return redirect("person_detail", person_id=taken_on.person.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "people/register.html", {"form": form}, status=status)
