from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "caretrust.audit"
    verbose_name = "Audit trail"
