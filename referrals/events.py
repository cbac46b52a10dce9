"""The referral events partners (and other apps) may subscribe to: their types and payloads.

Each is emitted through ``caretrust.events.services.emit`` in the transaction of the change it
announces (a change rolled back announces nothing), with the aggregate ``("referral", id)``
(``("hospital_discharge", id)`` for discharge events), so a subscriber sees one referral's events
in the order they happened. Payloads hold ids, codes and dates only, never names or free text:

Every ``referral.*`` payload carries the referral as it now stands::

    {"referral_id": str (uuid), "reference": str (e.g. "R-7K3Q9C"),
     "status": str (received | accepted | declined | redirected | withdrawn |
                    episode_active | episode_ended),
     "service_id": str (uuid), "agency_id": int (receiving agency),
     "referring_agency_id": int | None, "person_id": str (uuid) | None (None while a public
     self-referral is unverified), "source": str, "urgency": str, "due_at": ISO 8601}

and, per type:

- ``referral.received``: a referral arrived (``"unverified": bool``, ``"routed_by_rule": int |
  None`` (the rule's id), ``"redirected_from": str | None``).
- ``referral.verified``: a public self-referral matched to a person.
- ``referral.accepted``: ``"claimed_by": int`` (user id).
- ``referral.declined``: ``"decline_reason": str`` (a DeclineReason code).
- ``referral.redirected``: ``"redirected_to": str`` (the new referral's id),
  ``"to_service_id": str``.
- ``referral.withdrawn``: the referrer withdrew it before acceptance.
- ``referral.breached``: the response target passed with no answer; ``"escalated_to": int |
  None`` (the team manager's user id).
- ``referral.episode_started``: ``"episode_started_on"``, ``"episode_ends_by"`` (dates or None).
- ``referral.episode_ended``: ``"outcome": str`` (an Outcome code), ``"episode_ended_on"``.
- ``referral.handed_over``: documented in ``caretrust/events/contracts.py`` (to assessments).

Hospital discharge, aggregate ``("hospital_discharge", stay id)``::

    {"stay_id": str, "person_id": str, "hospital_agency_id": int, "admitted_on": date,
     "discharge_ready_on": date | None, "pathway": int | None, "delay_reason": str | None,
     "discharged_on": date | None, "delay_days": int}

- ``referral.admitted``: an admission recorded.
- ``referral.discharge_ready``: the discharge ready date set or changed at a board round.
- ``referral.discharged``: the person left hospital.
- ``discharge.delay_charged``: documented in ``caretrust/events/contracts.py`` (to budgets).
"""

from __future__ import annotations

from typing import Any

from caretrust.events import contracts
from caretrust.events.services import emit

RECEIVED = "referral.received"
VERIFIED = "referral.verified"
ACCEPTED = "referral.accepted"
DECLINED = "referral.declined"
REDIRECTED = "referral.redirected"
WITHDRAWN = "referral.withdrawn"
BREACHED = "referral.breached"
EPISODE_STARTED = "referral.episode_started"
EPISODE_ENDED = "referral.episode_ended"
HANDED_OVER = contracts.REFERRAL_HANDED_OVER
ADMITTED = "referral.admitted"
DISCHARGE_READY = "referral.discharge_ready"
DISCHARGED = "referral.discharged"
DELAY_CHARGED = contracts.DISCHARGE_DELAY_CHARGED

ALL_TYPES = (
    RECEIVED,
    VERIFIED,
    ACCEPTED,
    DECLINED,
    REDIRECTED,
    WITHDRAWN,
    BREACHED,
    EPISODE_STARTED,
    EPISODE_ENDED,
    HANDED_OVER,
    ADMITTED,
    DISCHARGE_READY,
    DISCHARGED,
    DELAY_CHARGED,
)


def referral_payload(referral: Any) -> dict[str, Any]:
    person_id = referral.case_file.person_id if referral.case_file_id else None
    return {
        "referral_id": str(referral.pk),
        "reference": referral.reference,
        "status": referral.status,
        "service_id": str(referral.service_id),
        "agency_id": referral.agency_id,
        "referring_agency_id": referral.referring_agency_id,
        "person_id": str(person_id) if person_id else None,
        "source": referral.source,
        "urgency": referral.urgency,
        "due_at": referral.due_at.isoformat(),
    }


def announce(event_type: str, referral: Any, **extra: Any) -> None:
    """Emit a referral event in the caller's transaction. It concerns the receiving agency and
    the referring one, so their partner systems may be sent it by webhook (each only while it
    may see the person: caretrust.events.webhooks)."""
    concerned = {referral.agency_id, referral.referring_agency_id} - {None}
    emit(
        event_type,
        aggregate_type="referral",
        aggregate_id=referral.pk,
        payload={**referral_payload(referral), **extra},
        agencies=concerned,
    )


def announce_stay(event_type: str, stay: Any, *, delay_days: int) -> None:
    """A hospital stay's event concerns the hospital that holds it (its PAS)."""
    emit(
        event_type,
        aggregate_type="hospital_discharge",
        aggregate_id=stay.pk,
        agencies=[stay.case_file.agency_id],
        payload={
            "stay_id": str(stay.pk),
            "person_id": str(stay.case_file.person_id),
            "hospital_agency_id": stay.case_file.agency_id,
            "admitted_on": stay.admitted_on.isoformat(),
            "discharge_ready_on": stay.discharge_ready_on.isoformat()
            if stay.discharge_ready_on
            else None,
            "pathway": stay.pathway,
            "delay_reason": stay.delay_reason.code if stay.delay_reason_id else None,
            "discharged_on": stay.discharged_on.isoformat() if stay.discharged_on else None,
            "delay_days": delay_days,
        },
    )
