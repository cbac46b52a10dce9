from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from caretrust.api.models import PartnerClient
from caretrust.api.services import revoke_partner_client


class Command(BaseCommand):
    help = "Revoke a partner client by its client id: its tokens stop working at once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("client_id")

    def handle(self, *args: Any, **options: Any) -> None:
        partner = PartnerClient.objects.filter(application__client_id=options["client_id"]).first()
        if partner is None:
            raise CommandError(f"No partner client has the client id {options['client_id']!r}.")
        revoke_partner_client(partner=partner)
        self.stdout.write(f"Revoked {partner}.")
