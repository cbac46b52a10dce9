"""Referrals: the service catalogue, routing rules, team queues, response clocks, and
hospital discharge to assess."""

from __future__ import annotations

from django.apps import AppConfig


class ReferralsConfig(AppConfig):
    name = "referrals"
    verbose_name = "Referrals and hospital discharge"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from caretrust.audit.actions import register_actions
        from caretrust.people.panels import register_person_panel
        from referrals.models import Action

        register_actions(Action)
        register_person_panel(
            title="Referrals", url_name="referrals:person_panel", data_class="referrals"
        )

    def seed_demo(self) -> dict[str, int]:
        """The Calderbridge service catalogue, routing rules, referrals in every state and a
        discharge worklist with delays (seed_demo)."""
        from referrals.demo import seed

        return seed()
