from django.apps import AppConfig


class SharingConfig(AppConfig):
    name = "caretrust.sharing"
    verbose_name = "Sharing: lawful bases and who may see what"
