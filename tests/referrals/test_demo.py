"""The demo area's referrals: a catalogue, published rules, referrals in every state (some
overdue), a discharge worklist with delays, and the demo accounts the journeys use."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from caretrust.directory.models import Agency, Role
from referrals import selectors
from referrals.models import Referral, RuleSet, Service, Status


@pytest.mark.django_db
def test_the_demo_has_referrals_in_every_state_and_a_worklist_with_delays() -> None:
    call_command("seed_demo", stdout=StringIO())
    assert set(Service.objects.values_list("slug", flat=True)) >= {
        "rapid-response",
        "cart",
        "district-nursing",
        "step-up-step-down-beds",
        "care-management",
        "reablement",
        "equipment",
    }
    assert RuleSet.objects.filter(status="published").count() == 1
    states = set(Referral.objects.values_list("status", flat=True))
    assert states == set(Status.values)
    assert Referral.objects.filter(unverified=True).exists()
    assert Referral.objects.filter(status="received", due_at__lt=timezone.now()).exists()
    users = get_user_model().objects
    for name in ("rita.rapid", "oscar.ot", "peter.physio", "hana.hub", "mo.manager", "cath.admin"):
        assert users.filter(username=name).exists(), name
    hana = users.get(username="hana.hub")
    hospital = Agency.objects.get(slug="calderbridge-hospitals")
    rows = selectors.transfer_hub_worklist(user=hana, agency=hospital)
    assert len(rows) >= 6 and rows[0].delay_days >= 20
    assert hana.memberships.filter(role=Role.TRANSFER_HUB_COORDINATOR).exists()
    before = Referral.objects.count()
    call_command("seed_demo", stdout=StringIO())
    assert Referral.objects.count() == before
