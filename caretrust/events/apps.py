from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "caretrust.events"
    verbose_name = "Domain events (outbox)"

    def ready(self) -> None:
        from caretrust.audit.actions import register_actions
        from caretrust.events import webhooks  # noqa: F401 - registers the fan-out handler
        from caretrust.events.models import WebhookAction

        register_actions(WebhookAction)
