"""Browser pages for referrals. Thin: each reads through a selector and writes through a
service."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from caretrust.directory.access import agency_required
from caretrust.people.selectors import get_visible_person
from referrals import selectors


@agency_required
def referral_detail(request: HttpRequest, referral_id: str) -> HttpResponse:
    agency = request.agency  # type: ignore[attr-defined]
    referral = selectors.get_visible_referral(
        user=request.user, agency=agency, referral_id=referral_id
    )
    return render(request, "referrals/detail.html", {"referral": referral})


@agency_required
def person_panel(request: HttpRequest, person_id: str) -> HttpResponse:
    agency = request.agency  # type: ignore[attr-defined]
    person = get_visible_person(
        user=request.user, agency=agency, person_id=person_id, purpose="referrals_panel"
    )
    rows = selectors.person_referrals(user=request.user, agency=agency, person_id=person.pk)
    return render(request, "referrals/_person_panel.html", {"person": person, "referrals": rows})
