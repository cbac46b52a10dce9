"""A referral made directly within the community trust, for tests that start from one."""

from __future__ import annotations

from typing import Any

from referrals import services
from referrals.models import Referral
from tests.factories import CaseFileFactory, PersonFactory


def internal_referral(agency: Any, by: Any, service: Any, **kwargs: Any) -> Referral:
    person = kwargs.pop("person", None) or PersonFactory()
    if not person.case_files.filter(agency=agency).exists():
        CaseFileFactory(person=person, agency=agency, lead_worker=by)
    defaults: dict[str, Any] = {
        "source": "district_nurse",
        "reason": "Unsteady on her feet since Tuesday",
        "urgency": "urgent",
        "needs": ["fall"],
    }
    return services.make_referral(
        agency=agency, by=by, person=person, service=service, **{**defaults, **kwargs}
    )
