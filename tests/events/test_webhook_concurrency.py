"""Two workers attempting the same due delivery at once: it is sent once (the row is held
while its POST is in flight, and the other worker skips it)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction

from caretrust.events import services as events
from caretrust.events import webhooks
from caretrust.events.models import DeliveryStatus, WebhookDelivery
from tests.events.conftest import subscribe


@pytest.fixture(scope="module", autouse=True)
def _flushable(audit_flushable: None) -> None:
    """These tests commit (transaction=True): see tests/conftest.py."""


@pytest.mark.django_db(transaction=True)
def test_a_delivery_attempted_twice_at_once_is_delivered_once(
    receiver, hospital_client, monkeypatch
):
    # No after-commit delivery: the deliveries wait for the two workers below.
    monkeypatch.setattr(webhooks, "_queue_delivery", lambda subscription_id: None)
    subscribe(hospital_client, receiver.url)
    with transaction.atomic():
        for n in range(3):
            events.emit(
                "test.happened",
                aggregate_type="thing",
                aggregate_id="a",
                payload={"n": n},
                agencies=[hospital_client.agency_id],
            )
    events.dispatch_pending()
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).count() == 3
    receiver.delay = 0.3
    start = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait()
            results.append(webhooks.deliver_due())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    assert sum(results) == 3
    assert [b["data"]["n"] for b in receiver.bodies()] == [0, 1, 2]
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {
        DeliveryStatus.DELIVERED
    }
    for delivery in WebhookDelivery.objects.all():
        assert delivery.attempts.count() == 1
