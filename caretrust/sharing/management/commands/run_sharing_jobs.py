from typing import Any

from django.core.management.base import BaseCommand

from caretrust.directory.services import sync_agency_groups
from caretrust.sharing import services


class Command(BaseCommand):
    help = (
        "Run the sharing jobs Celery beat runs: expire lapsed bases, then recompute every "
        "permission row from the bases and report drift. For machines without Redis."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        expired = services.expire_lapsed_bases()
        regrouped = sync_agency_groups()
        report = services.recompute_all()
        self.stdout.write(
            f"Expired {expired} basis(es); moved {regrouped} user(s) back in step with their "
            f"agency groups; checked {report.pairs_checked} "
            f"pair(s); drift in {len(report.drifted)}."
        )
        for entry in report.drifted:
            self.stderr.write(f"drift: {entry}")
