"""View guards: who may use the case-work pages at all."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from caretrust.ops.fragment import fragment_response


def agency_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in and acting for an agency. Someone with several agencies and none chosen is
    sent to choose one; someone with none gets a plain explanation (403), never a page of
    somebody else's records. An htmx request that is not signed in or has no agency is told so
    in a fragment (caretrust.ops.fragment), where its answer would go."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if getattr(request, "htmx", False) and not _may_act(request):
            # An autosave after the session ended: htmx would follow the redirect and put the
            # sign-in page in the status line. Say what happened there instead.
            if not request.user.is_authenticated:
                return fragment_response(
                    request, 403, "You have been signed out: sign in again in another tab."
                )
            return fragment_response(
                request, 403, "You are not acting for an agency: choose one in another tab."
            )
        return guarded(request, *args, **kwargs)

    @login_required
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.agency is None:  # type: ignore[attr-defined]
            if request.agency_choices:  # type: ignore[attr-defined]
                query = urlencode({"next": request.get_full_path()})
                return redirect(f"{reverse('choose_agency')}?{query}")
            return render(request, "directory/no_agency.html", status=403)
        # A refusal (Http404, PermissionDenied) escapes, so ATOMIC_REQUESTS rolls back what
        # the view wrote; its denial is written after that (audit.context.DenialMiddleware).
        return view(request, *args, **kwargs)

    return wrapper


def _may_act(request: HttpRequest) -> bool:
    return request.user.is_authenticated and request.agency is not None  # type: ignore[attr-defined]
