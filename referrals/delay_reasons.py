"""The reasons for delay of NHS England's acute discharge situation report (the "Discharge
delays" collection): the seed of the ``DelayReason`` vocabulary, which is data and may be
extended or retired by an administrator without a code change."""

from __future__ import annotations

from typing import Any

SITREP_REASONS: list[tuple[str, str]] = [
    (
        "medical-decision",
        "Awaiting a medical decision or intervention, including writing the discharge summary",
    ),
    ("therapy-decision", "Awaiting therapy decision to discharge"),
    ("diagnostic-test", "Awaiting a diagnostic test"),
    ("referral-to-spa", "Awaiting referral to the community single point of access"),
    (
        "spa-confirmation",
        "Awaiting confirmation from the community hub or single point of access that the "
        "referral was received and actioned",
    ),
    ("medicines-tto", "Awaiting medicines to take home"),
    ("transport", "Awaiting transport"),
    (
        "pathway-1",
        "Pathway 1: awaiting availability of resource for assessment and start of care at home",
    ),
    (
        "pathway-2",
        "Pathway 2: awaiting availability of a rehabilitation bed in a community hospital or "
        "other bedded setting",
    ),
    (
        "pathway-3",
        "Pathway 3: awaiting availability of a bed in a residential or nursing home that is "
        "likely to be a permanent placement",
    ),
    ("equipment-housing", "Awaiting community equipment and adaptations to housing"),
    ("family-disagreement", "Individual or family not in agreement with discharge plans"),
    ("homeless", "Homelessness, no recourse to public funds, or no place to discharge to"),
    ("safeguarding", "Safeguarding concern preventing discharge, or Court of Protection"),
    (
        "repatriation",
        "Repatriation or transfer to another acute trust for specialist or ongoing treatment",
    ),
    ("mental-health-bed", "Transfer to a mental health inpatient bed"),
    (
        "infection-control",
        "Remains without criteria to reside because of infection control (such as COVID-19 or flu)",
    ),
    (
        "later-meets-criteria",
        "Declared not meeting the criteria to reside at the morning board round, then later "
        "in the day meets them",
    ),
]

# The delays a council's adult social care resolves (care at home, a care home placement, and
# the council's share of equipment and adaptations): what a 2003 Act agreement charges for.
SOCIAL_CARE_DELAYS = frozenset({"pathway-1", "pathway-3", "equipment-housing"})


def seed_delay_reasons(apps: Any) -> None:
    """The sitrep reasons, if missing: from migration 0002 (historical models) and from the
    demo seeding (a test run's flush empties what a data migration filled)."""

    DelayReason = apps.get_model("referrals", "DelayReason")
    for position, (code, label) in enumerate(SITREP_REASONS, start=1):
        DelayReason.objects.get_or_create(
            code=code,
            defaults={
                "label": label,
                "position": position,
                "social_care_delay": code in SOCIAL_CARE_DELAYS,
            },
        )
