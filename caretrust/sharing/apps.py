from django.apps import AppConfig


class SharingConfig(AppConfig):
    name = "caretrust.sharing"
    verbose_name = "Sharing: lawful bases and who may see what"

    def seed_demo(self) -> dict[str, int]:
        from caretrust.sharing.demo import seed_sharing

        return seed_sharing()
