"""Team queues: claim, assign, release; two claims at once, exactly one wins."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.db import close_old_connections, connection

from referrals import services
from referrals.models import Referral
from tests.referrals.helpers import internal_referral


@pytest.mark.django_db
def test_a_claimed_referral_cannot_be_claimed_by_someone_else_who_is_told_who_has_it(
    community: Any, rapid: Any, rita: Any, ruth: Any
) -> None:
    referral = internal_referral(community, rita, rapid)
    services.claim_referral(referral=referral, agency=community, by=rita)
    with pytest.raises(services.AlreadyClaimed) as caught:
        services.claim_referral(referral=referral, agency=community, by=ruth)
    assert "rita" in str(caught.value).lower() or rita.get_full_name() in str(caught.value)
    assert Referral.objects.get(pk=referral.pk).claimed_by == rita


@pytest.mark.django_db
def test_release_returns_it_to_the_queue_and_only_the_claimer_or_a_manager_may(
    community: Any, rapid: Any, rita: Any, ruth: Any, mo: Any
) -> None:
    referral = internal_referral(community, rita, rapid)
    services.claim_referral(referral=referral, agency=community, by=rita)
    with pytest.raises(PermissionDenied):
        services.release_referral(referral=referral, agency=community, by=ruth)
    services.release_referral(referral=referral, agency=community, by=mo)
    assert Referral.objects.get(pk=referral.pk).claimed_by is None


@pytest.mark.django_db
def test_a_team_manager_assigns_a_referral_to_a_worker(
    community: Any, rapid: Any, rita: Any, ruth: Any, mo: Any
) -> None:
    referral = internal_referral(community, rita, rapid)
    services.claim_referral(referral=referral, agency=community, by=rita)
    services.assign_referral(referral=referral, agency=community, by=mo, to=ruth)
    assert Referral.objects.get(pk=referral.pk).claimed_by == ruth


@pytest.mark.django_db
def test_another_agency_cannot_claim(
    community: Any, rapid: Any, rita: Any, hospital: Any, nina: Any
) -> None:
    referral = internal_referral(community, rita, rapid)
    with pytest.raises(PermissionDenied):
        services.claim_referral(referral=referral, agency=hospital, by=nina)


@pytest.mark.django_db(transaction=True)
def test_two_claims_at_once_exactly_one_wins(
    audit_flushable: None, community: Any, rapid: Any, rita: Any, ruth: Any
) -> None:
    referral = internal_referral(community, rita, rapid)
    barrier = threading.Barrier(2)
    results: dict[str, Any] = {}

    def claim(user: Any) -> None:
        close_old_connections()
        try:
            barrier.wait()
            services.claim_referral(referral=referral, agency=community, by=user)
            results[user.username] = "won"
        except services.AlreadyClaimed as exc:
            results[user.username] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(u,)) for u in (rita, ruth)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [name for name, r in results.items() if r == "won"]
    losers = [r for r in results.values() if r != "won"]
    assert len(winners) == 1 and len(losers) == 1
    assert losers[0].claimed_by.username == winners[0]
    assert Referral.objects.get(pk=referral.pk).claimed_by.username == winners[0]
