"""The breach sweep: each referral past its response target is escalated exactly once, to
its team's manager (an in-app notification and an email), even with two sweeps at once."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import close_old_connections, connection
from django.utils import timezone

from caretrust.events.models import OutboxEvent
from referrals import services
from referrals.models import Notification, Referral
from tests.referrals.helpers import internal_referral

LATER = dt.timedelta(hours=3)  # the rapid response target is 2 hours


@pytest.mark.django_db
def test_a_breach_is_escalated_to_the_team_manager_once(
    community: Any, rapid: Any, rita: Any, mo: Any, django_capture_on_commit_callbacks: Any
) -> None:
    referral = internal_referral(community, rita, rapid)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.sweep_breaches(now=timezone.now() + LATER) == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert services.sweep_breaches(now=timezone.now() + LATER) == 0
    row = Referral.objects.get(pk=referral.pk)
    assert row.breached_at is not None and row.escalated_to == mo
    assert Notification.objects.filter(user=mo, referral=referral).count() == 1
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [mo.email]
    assert referral.reference in mail.outbox[0].body
    assert OutboxEvent.objects.filter(type="referral.breached").count() == 1


@pytest.mark.django_db
def test_an_answered_or_not_yet_due_referral_is_not_a_breach(
    community: Any, rapid: Any, rita: Any, mo: Any
) -> None:
    answered = internal_referral(community, rita, rapid)
    services.accept_referral(referral=answered, agency=community, by=rita)
    internal_referral(community, rita, rapid)
    assert services.sweep_breaches(now=timezone.now() + dt.timedelta(hours=1)) == 0
    assert services.sweep_breaches(now=timezone.now() + LATER) == 1
    assert Referral.objects.get(pk=answered.pk).breached_at is None


@pytest.mark.django_db
def test_the_management_command_runs_the_sweep(
    community: Any, rapid: Any, rita: Any, mo: Any
) -> None:
    referral = internal_referral(community, rita, rapid)
    Referral.objects.filter(pk=referral.pk).update(
        received_at=timezone.now() - LATER, due_at=timezone.now() - dt.timedelta(hours=1)
    )
    call_command("run_referral_jobs")
    assert Referral.objects.get(pk=referral.pk).breached_at is not None


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_escalate_each_breach_once(
    audit_flushable: None, community: Any, rapid: Any, rita: Any, mo: Any
) -> None:
    referrals = [internal_referral(community, rita, rapid) for _ in range(5)]
    barrier = threading.Barrier(2)
    totals: list[int] = []

    def sweep() -> None:
        close_old_connections()
        try:
            barrier.wait()
            totals.append(services.sweep_breaches(now=timezone.now() + LATER))
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(totals) == len(referrals)
    assert Notification.objects.count() == len(referrals)
    assert len(mail.outbox) == len(referrals)
    assert OutboxEvent.objects.filter(type="referral.breached").count() == len(referrals)
