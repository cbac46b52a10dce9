"""The Single Assessment Process: versioned assessment forms, jointly written assessments,
scales, joint assessment meetings and care plans copied to the person."""

from __future__ import annotations

from django.apps import AppConfig


class AssessmentsConfig(AppConfig):
    name = "assessments"
    verbose_name = "Single assessment"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from assessments import handlers  # noqa: F401 - subscribes to referral.handed_over
        from assessments.models import AuditAction
        from caretrust.audit.actions import register_actions
        from caretrust.people.panels import register_person_panel

        register_actions(AuditAction)
        register_person_panel(
            title="Assessments and scales",
            url_name="assessment_person_panel",
            data_class="assessments",
        )

    def seed_demo(self) -> dict[str, int]:
        """Demo assessments in every state, a joint comprehensive assessment, a Barthel
        trend, a meeting and a care plan with its letter (seed_demo)."""
        from assessments.demo import seed

        return seed()
