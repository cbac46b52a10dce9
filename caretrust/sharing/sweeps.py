"""The periodic jobs: expiring lapsed bases, and recomputing every permission row from the
bases to find (and audit) any drift."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from caretrust.audit import services as audit
from caretrust.audit.models import Action
from caretrust.directory.models import Agency
from caretrust.people.models import CaseFileGroupObjectPermission, CaseFileUserObjectPermission
from caretrust.sharing.models import BasisKind, SharingBasis, Status
from caretrust.sharing.projection import _lock_pair, apply_projection
from caretrust.sharing.recording import change_status

# --- Sweeping and drift --------------------------------------------------------------------


def expire_lapsed_bases(now: dt.datetime | None = None) -> int:
    """Mark active bases whose period or review date has passed as expired (the visibility
    query already ignores them; this keeps the record and the projection tidy)."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    lapsed: QuerySet[SharingBasis] = SharingBasis.objects.filter(status=Status.ACTIVE).filter(
        Q(period_end__lte=now) | Q(kind=BasisKind.BEST_INTERESTS, review_on__lt=today)
    )
    count = 0
    for basis in lapsed.select_related("holding_agency", "recipient_agency"):
        try:
            change_status(
                basis=basis,
                to_status=Status.EXPIRED,
                by=None,
                acting_agency=None,
                reason="period ended"
                if basis.kind != BasisKind.BEST_INTERESTS
                else "review date passed",
            )
        except ValidationError:
            continue  # another worker expired it first
        count += 1
    return count


@dataclass
class DriftReport:
    pairs_checked: int = 0
    drifted: list[dict[str, Any]] = field(default_factory=list)


def recompute_all(now: dt.datetime | None = None) -> DriftReport:
    """Recompute every pair's rows from the bases; report (and audit) any that had drifted.
    Drift means something wrote permission rows outside ``apply_projection``."""
    now = now or timezone.now()
    report = DriftReport()
    pairs = set(
        SharingBasis.objects.values_list("person_id", "holding_agency_id", "recipient_agency_id")
    )
    groups = dict(Agency.objects.values_list("group_id", "pk"))
    for person_id, holding_id, group_id in CaseFileGroupObjectPermission.objects.values_list(
        "content_object__person_id", "content_object__agency_id", "group_id"
    ):
        recipient = groups.get(group_id)
        if recipient is None:
            report.drifted.append({"group_id": group_id, "problem": "not an agency group"})
            continue
        pairs.add((person_id, holding_id, recipient))
    pairs |= set(
        CaseFileUserObjectPermission.objects.values_list(
            "content_object__person_id", "content_object__agency_id", "agency_id"
        )
    )
    agencies = {a.pk: a for a in Agency.objects.all()}
    for person_id, holding_id, recipient_id in sorted(pairs, key=str):
        report.pairs_checked += 1
        with transaction.atomic():
            # A row past its valid_until lapsed on time, exactly as projected (the visibility
            # query already ignores it); clearing it away before the sweeper does is tidying,
            # not drift.
            _lock_pair(person_id, holding_id, recipient_id)
            CaseFileGroupObjectPermission.objects.filter(
                content_object__person_id=person_id,
                content_object__agency_id=holding_id,
                group_id=agencies[recipient_id].group_id,
                valid_until__lte=now,
            ).delete()
            CaseFileUserObjectPermission.objects.filter(
                content_object__person_id=person_id,
                content_object__agency_id=holding_id,
                agency_id=recipient_id,
                valid_until__lte=now,
            ).delete()
            change = apply_projection(
                person_id=person_id,
                holding_agency=agencies[holding_id],
                recipient_agency=agencies[recipient_id],
                now=now,
                record=False,
            )
            if change:
                entry = {
                    "person_id": str(person_id),
                    "holding": agencies[holding_id].slug,
                    "recipient": agencies[recipient_id].slug,
                    "added": change.added,
                    "removed": change.removed,
                }
                report.drifted.append(entry)
                audit.record(
                    Action.SHARING_DRIFT,
                    agency=agencies[holding_id],
                    person_id=person_id,
                    detail=entry,
                )
    stray = Group.objects.filter(
        agency__isnull=False, permissions__content_type__app_label__in=["people", "sharing"]
    ).distinct()
    for group in stray:
        entry = {"group": group.name, "problem": "holds model-level permissions on people's data"}
        report.drifted.append(entry)
        audit.record(Action.SHARING_DRIFT, detail=entry)
    return report
