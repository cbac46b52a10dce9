"""Celery beat jobs of the referrals app. Each calls one service and is safe to run twice, or
in two workers at once."""

from __future__ import annotations

from celery import shared_task

from referrals import discharge, services


@shared_task(ignore_result=True)
def sweep_breaches() -> int:
    """Every minute: escalate referrals past their response target, each exactly once."""
    return services.sweep_breaches()


@shared_task(ignore_result=True)
def charge_delays() -> int:
    """Nightly, where an area's 2003 Act agreement is on: charge the days of delay."""
    return discharge.charge_delays()
