import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from caretrust.events.services import dispatch_pending
from caretrust.events.webhooks import deliver_due


class Command(BaseCommand):
    help = (
        "Dispatch every pending domain event that is due, then attempt the partner webhook "
        "deliveries that are due (what Celery beat's two sweeps do). "
        "With --loop, keep sweeping: for a machine without Redis."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", action="store_true", help="Sweep until interrupted.")
        parser.add_argument("--interval", type=float, default=5.0, help="Seconds between sweeps.")

    def handle(self, *args: Any, **options: Any) -> None:
        while True:
            done = dispatch_pending()
            if done or options["verbosity"] >= 2:
                self.stdout.write(f"Dispatched {done} event(s).")
            delivered = deliver_due()
            if delivered or options["verbosity"] >= 2:
                self.stdout.write(f"Delivered {delivered} webhook(s).")
            if not options["loop"]:
                return
            time.sleep(options["interval"])
