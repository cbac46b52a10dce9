from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from caretrust.api.models import SCOPES
from caretrust.api.services import create_partner_client
from caretrust.directory.models import Agency


class Command(BaseCommand):
    help = (
        "Register a partner system for one agency and print its client id and secret "
        "(shown once; only a hash is kept)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("agency_slug")
        parser.add_argument("name")
        parser.add_argument(
            "--scopes",
            nargs="+",
            default=["persons:read", "casefiles:read"],
            choices=list(SCOPES),
            metavar="SCOPE",
            help=f"Any of: {', '.join(SCOPES)} (default: read persons and case files).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        agency = Agency.objects.filter(slug=options["agency_slug"]).first()
        if agency is None:
            known = ", ".join(Agency.objects.values_list("slug", flat=True))
            raise CommandError(
                f"No agency has the slug {options['agency_slug']!r}. Known: {known or 'none'}."
            )
        try:
            new = create_partner_client(
                agency=agency, name=options["name"], scopes=options["scopes"]
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        self.stdout.write(f"Partner client for {agency}: {options['name']}")
        self.stdout.write(f"client_id:     {new.client_id}")
        self.stdout.write(f"client_secret: {new.client_secret}")
        self.stdout.write(f"scopes:        {' '.join(new.partner.scopes)}")
        self.stdout.write("Store the secret now: it is not shown again.")
