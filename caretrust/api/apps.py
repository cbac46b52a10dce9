from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "caretrust.api"
    verbose_name = "Partner API"
