from django.apps import AppConfig


class SharingConfig(AppConfig):
    name = "caretrust.sharing"
    verbose_name = "Sharing: lawful bases and who may see what"

    def ready(self) -> None:
        # Every new agency gets the default need-to-know rows (caretrust.sharing.need_to_know).
        from caretrust.sharing import need_to_know  # noqa: F401

    def seed_demo(self) -> dict[str, int]:
        from caretrust.sharing.demo import seed_sharing

        return seed_sharing()
