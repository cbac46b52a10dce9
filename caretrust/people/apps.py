from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "caretrust.people"
    verbose_name = "People, carers and case files"
