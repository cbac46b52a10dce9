from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "caretrust.audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from caretrust.audit.actions import register_actions
        from caretrust.audit.models import Action

        register_actions(Action)
