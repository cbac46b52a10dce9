from __future__ import annotations

from django.contrib.auth.models import User
from django.db.models import QuerySet

from caretrust.directory.models import Agency, Membership


def agencies_of(user: User) -> QuerySet[Agency]:
    """The agencies a user currently works for."""
    return Agency.objects.filter(
        pk__in=Membership.objects.current().filter(user=user).values("agency_id")
    )


def roles_at(user: User, agency: Agency) -> set[str]:
    return set(
        Membership.objects.current().filter(user=user, agency=agency).values_list("role", flat=True)
    )
