from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "caretrust.people"
    verbose_name = "People, carers and case files"

    def seed_demo(self) -> dict[str, int]:
        """The demo area's agencies, staff, people, carers and case files (seed_demo)."""
        from caretrust.people.demo import seed

        return seed().created
