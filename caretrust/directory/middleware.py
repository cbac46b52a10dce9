"""The active agency: a signed-in user acts for one agency at a time.

It is re-checked against the user's current memberships on every request, so someone removed
from an agency loses it on their very next request, whatever their session remembers.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from caretrust.directory.models import Agency, Membership

SESSION_KEY = "caretrust_active_agency"


class ActiveAgencyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.agency = None  # type: ignore[attr-defined]
        request.agency_choices = []  # type: ignore[attr-defined]
        request.roles = frozenset()  # type: ignore[attr-defined]
        if request.user.is_authenticated:
            # One query: the user's current memberships, with their agencies.
            memberships = list(
                Membership.objects.current()
                .filter(user=request.user)
                .select_related("agency")
                .order_by("agency__name")
            )
            agencies = list({m.agency_id: m.agency for m in memberships}.values())
            request.agency_choices = agencies  # type: ignore[attr-defined]
            chosen = request.session.get(SESSION_KEY)
            active: Agency | None = next((a for a in agencies if a.pk == chosen), None)
            if active is None and len(agencies) == 1:
                active = agencies[0]
                request.session[SESSION_KEY] = active.pk
            elif active is None and chosen is not None:
                del request.session[SESSION_KEY]
            request.agency = active  # type: ignore[attr-defined]
            if active is not None:
                request.roles = frozenset(  # type: ignore[attr-defined]
                    m.role for m in memberships if m.agency_id == active.pk
                )
        return self.get_response(request)
