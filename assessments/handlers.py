"""Domain events this app takes from others (caretrust/events/contracts.py)."""

from __future__ import annotations

from assessments import services
from caretrust.events.contracts import REFERRAL_HANDED_OVER
from caretrust.events.models import OutboxEvent
from caretrust.events.services import handles


@handles(REFERRAL_HANDED_OVER, name="assessments.offer_handover")
def offer_assessment_at_handover(event: OutboxEvent) -> None:
    """A short-term episode handed over: offer its signed assessment to the receiving service,
    so it can adopt it instead of assessing again. Safe to run twice (one offer per referral)."""
    payload = event.payload
    if not payload.get("assessment_id"):
        return
    services.offer_handover(
        assessment_id=payload["assessment_id"],
        receiving_agency_id=int(payload["receiving_agency_id"]),
        receiving_service_id=str(payload.get("receiving_service_id", "")),
        referral_id=str(payload.get("referral_id", "")),
    )
