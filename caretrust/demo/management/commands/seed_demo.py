from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand

from caretrust.people.demo import DEMO_PASSWORD, STAFF


class Command(BaseCommand):
    help = "Load the Calderbridge demo area (agencies, staff, people, case files, and every app's "
    help += "own demo data). Idempotent."

    def handle(self, *args: Any, **options: Any) -> None:
        # Each app that has demo data says so with a seed_demo() on its AppConfig, and they run
        # in INSTALLED_APPS order (people first): no app imports another's demo module.
        created: dict[str, int] = {}
        for config in apps.get_app_configs():
            seed = getattr(config, "seed_demo", None)
            if seed is None:
                continue
            for kind, n in seed().items():
                created[kind] = created.get(kind, 0) + n
        if created:
            made = ", ".join(f"{n} {kind}" for kind, n in created.items())
            self.stdout.write(self.style.SUCCESS(f"Demo data loaded: {made}."))
        else:
            self.stdout.write("Demo data already present; nothing to add.")
        if options["verbosity"] >= 1:
            names = ", ".join(["admin"] + [s[0] for s in STAFF[:5]])
            self.stdout.write(f"Demo sign-ins (password {DEMO_PASSWORD!r}): {names}")
