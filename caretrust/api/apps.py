from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "caretrust.api"
    verbose_name = "Partner API"

    def ready(self) -> None:
        from caretrust.api import schema  # noqa: F401  (registers the OpenAPI auth schemes)

    def seed_demo(self) -> dict[str, int]:
        from caretrust.api.demo import seed_partner_clients

        return seed_partner_clients()
