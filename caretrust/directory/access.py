"""View guards: who may use the case-work pages at all."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.handlers.exception import response_for_exception
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from caretrust.errors import error_response, reason_of


def agency_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in and acting for an agency. Someone with several agencies and none chosen is
    sent to choose one; someone with none gets a plain explanation (403), never a page of
    somebody else's records."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.agency is None:  # type: ignore[attr-defined]
            if request.agency_choices:  # type: ignore[attr-defined]
                query = urlencode({"next": request.get_full_path()})
                return redirect(f"{reverse('choose_agency')}?{query}")
            return render(request, "directory/no_agency.html", status=403)
        try:
            return view(request, *args, **kwargs)
        except (Http404, PermissionDenied) as exc:
            # Answer here, inside the request's transaction (ATOMIC_REQUESTS): an exception
            # escaping the view would roll back the denial just written to the audit trail.
            if settings.DEBUG and settings.DEBUG_ERROR_PAGES:
                return response_for_exception(request, exc)
            status = 404 if isinstance(exc, Http404) else 403
            return error_response(request, status, detail=reason_of(exc))

    return wrapper
