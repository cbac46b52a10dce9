"""Celery tasks for sharing. Each takes ids, calls one service, and is safe to run twice."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse

from caretrust.directory.models import Membership, Role
from caretrust.directory.services import sync_agency_groups
from caretrust.sharing import sweeps
from caretrust.sharing.models import SharingBasis

logger = logging.getLogger(__name__)


@shared_task
def alert_caldicott_guardians(basis_id: str) -> int:
    """Tell the holding agency's Caldicott guardians that someone broke the glass on one of
    its files. The message names who and when, not the person: email is not the place for
    people's data; the review queue is."""
    basis = SharingBasis.objects.select_related(
        "holding_agency", "recipient_agency", "break_glass_user"
    ).get(pk=basis_id)
    guardians = (
        Membership.objects.current()
        .filter(agency=basis.holding_agency, role=Role.CALDICOTT_GUARDIAN)
        .select_related("user")
    )
    to = sorted({m.user.email for m in guardians if m.user.email})
    if not to:
        logger.warning(
            "no Caldicott guardian with an email at %s for break-glass %s",
            basis.holding_agency.slug,
            basis_id,
        )
        return 0
    user = basis.break_glass_user
    who = user.get_full_name() or user.get_username() if user else "unknown user"
    body = (
        f"{who} of {basis.recipient_agency} used emergency (break-glass) access to a case "
        f"file held by {basis.holding_agency} at {basis.period_start:%d %b %Y %H:%M}.\n\n"
        f"Their reason and the record are on your review queue: "
        f"{settings.SITE_URL}{reverse('break_glass_queue')}\n"
    )
    return send_mail("caretrust: emergency access to review", body, settings.DEFAULT_FROM_EMAIL, to)


@shared_task
def expire_lapsed_bases() -> int:
    return sweeps.expire_lapsed_bases()


@shared_task
def recompute_sharing_projection() -> int:
    """Nightly: recompute every permission row from the bases and report any drift."""
    # Agency groups are what permission rows are granted to: repair those first.
    regrouped = sync_agency_groups()
    if regrouped:
        logger.error("agency groups had drifted from memberships: %d user(s) moved", regrouped)
    report = sweeps.recompute_all()
    if report.drifted:
        logger.error(
            "sharing projection drift in %d place(s): %s", len(report.drifted), report.drifted[:20]
        )
    return len(report.drifted)
