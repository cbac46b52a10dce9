from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "caretrust.events"
    verbose_name = "Domain events (outbox)"
