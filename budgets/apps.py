"""Pooled budgets: section 75 funds on a double-entry ledger, commitments from care packages,
and reconciliation for finance staff."""

from django.apps import AppConfig


class BudgetsConfig(AppConfig):
    name = "budgets"
    verbose_name = "Pooled budgets"
    default_auto_field = "django.db.models.BigAutoField"

    def seed_demo(self) -> dict[str, int]:
        """The Calderbridge intermediate care pool (seed_demo)."""
        from budgets.demo import seed

        return seed()

    def ready(self) -> None:
        from budgets import handlers  # noqa: F401 - subscribes to the domain events
        from budgets.actions import BudgetAction
        from caretrust.audit.actions import register_actions

        register_actions(BudgetAction)
        from caretrust.people.panels import register_person_panel

        register_person_panel(
            title="Charges for care", url_name="budgets_person_charges", data_class="finance"
        )
