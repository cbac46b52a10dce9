from django.core.management.base import BaseCommand, CommandError

from caretrust.audit.models import AuditChainHead, AuditEvent
from caretrust.audit.services import one_snapshot, verify_chain


class Command(BaseCommand):
    help = (
        "Check the audit trail's hash chains (each row's hash, each link, and where each chain "
        "ends) and report any altered or deleted rows."
    )

    def handle(self, *args: object, **options: object) -> None:
        # The counts from the snapshot the check read, so they say what it verified while
        # requests go on writing.
        with one_snapshot():
            breaks = list(verify_chain())
            events = AuditEvent.objects.count()
            chains = AuditChainHead.objects.filter(last_id__isnull=False).count()
        if breaks:
            for item in breaks:
                self.stderr.write(f"audit event #{item.event_id}: {item.problem}")
            raise CommandError(
                f"The audit trail has been tampered with ({len(breaks)} problem(s))."
            )
        self.stdout.write(f"Audit trail intact: {events} events verified, on {chains} chain(s).")
