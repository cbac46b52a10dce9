"""Post a care package event (authorised, changed, ended) by hand, where the assessments app
does not emit it yet; it travels the outbox like the real one.

    manage.py post_care_package_event authorised --payload '{"care_plan_id": ...}'
    manage.py post_care_package_event ended --payload @ended.json
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from budgets import services


class Command(BaseCommand):
    help = "Post care_package.authorised/changed/ended with a payload as in events/contracts.py."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("kind", choices=sorted(services.CARE_EVENT_TYPES))
        parser.add_argument("--payload", required=True, help="JSON, or @file holding JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        raw = options["payload"]
        if raw.startswith("@"):
            raw = Path(raw[1:]).read_text()
        try:
            payload = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise CommandError(f"The payload is not JSON: {exc}") from None
        if not isinstance(payload, dict):
            raise CommandError("The payload must be a JSON object.")
        try:
            event = services.post_care_package_event(
                event_type=services.CARE_EVENT_TYPES[options["kind"]], payload=payload, by=None
            )
        except services.BudgetError as exc:
            raise CommandError(f"The payload is not valid: {exc.message_dict}") from None
        self.stdout.write(f"Posted {event.type} as event {event.event_id}.")
