from django.core.management.base import BaseCommand, CommandError

from caretrust.audit.models import AuditEvent
from caretrust.audit.services import verify_chain


class Command(BaseCommand):
    help = (
        "Check the audit trail's hash chains (each row's hash, each link, and where each chain "
        "ends) and report any altered or deleted rows."
    )

    def handle(self, *args: object, **options: object) -> None:
        breaks = list(verify_chain())
        if breaks:
            for item in breaks:
                self.stderr.write(f"audit event #{item.event_id}: {item.problem}")
            raise CommandError(
                f"The audit trail has been tampered with ({len(breaks)} problem(s))."
            )
        events = AuditEvent.objects.count()
        chains = AuditEvent.objects.values("chain").distinct().count()
        self.stdout.write(f"Audit trail intact: {events} events verified, on {chains} chain(s).")
