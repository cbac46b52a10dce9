from django.apps import AppConfig


class DirectoryConfig(AppConfig):
    name = "caretrust.directory"
    verbose_name = "Directory: agencies, teams and staff"

    def ready(self) -> None:
        from caretrust.directory import signals  # noqa: F401
