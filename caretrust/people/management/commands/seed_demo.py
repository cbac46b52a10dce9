from typing import Any

from django.core.management.base import BaseCommand

from caretrust.api.demo import seed_partner_clients
from caretrust.people.demo import DEMO_PASSWORD, STAFF, seed
from caretrust.sharing.demo import seed_sharing


class Command(BaseCommand):
    help = (
        "Load the Calderbridge demo area (agencies, staff, people, carers, case files). Idempotent."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        report = seed()
        for kind, n in (seed_sharing() | seed_partner_clients()).items():
            report.add(kind, n)
        if report.created:
            made = ", ".join(f"{n} {kind}" for kind, n in report.created.items())
            self.stdout.write(self.style.SUCCESS(f"Demo data loaded: {made}."))
        else:
            self.stdout.write("Demo data already present; nothing to add.")
        if options["verbosity"] >= 1:
            names = ", ".join(["admin"] + [s[0] for s in STAFF[:5]])
            self.stdout.write(f"Demo sign-ins (password {DEMO_PASSWORD!r}): {names}")
