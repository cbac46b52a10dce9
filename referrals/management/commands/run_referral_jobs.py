"""Run the referrals app's periodic jobs once (Celery beat runs them when Redis is set)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from referrals import discharge, services


class Command(BaseCommand):
    help = (
        "Escalate referrals past their response target (each exactly once) and charge "
        "delayed discharge days where an area's 2003 Act agreement is on."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        breaches = services.sweep_breaches()
        charged = discharge.charge_delays()
        self.stdout.write(f"Escalated {breaches} breached referrals; charged {charged} stays.")
