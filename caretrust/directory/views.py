from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme

from caretrust.audit import services as audit
from caretrust.audit.models import Action
from caretrust.directory.middleware import SESSION_KEY


def _safe_next(request: HttpRequest, candidate: str | None) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return "/"


@login_required
def choose_agency(request: HttpRequest) -> HttpResponse:
    choices = request.agency_choices  # type: ignore[attr-defined]
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next"))
    if not choices:
        return render(request, "directory/no_agency.html", status=403)
    error = None
    if request.method == "POST":
        wanted = request.POST.get("agency", "")
        chosen = next((a for a in choices if str(a.pk) == wanted), None)
        if chosen is None:
            error = "Select the agency you are working for"
        else:
            request.session[SESSION_KEY] = chosen.pk
            audit.record(Action.AGENCY_SWITCHED, actor=request.user, agency=chosen)
            return redirect(next_url)
    return render(
        request,
        "directory/choose_agency.html",
        {"next": next_url, "error": error},
        status=400 if error else 200,
    )
