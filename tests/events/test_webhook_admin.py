"""An administrator can see deliveries with their log and resend them in the admin, and
disable or enable a subscription; secrets and payloads are never shown."""

from __future__ import annotations

from typing import Any

import pytest

from caretrust.audit.models import AuditEvent
from caretrust.events import webhooks
from caretrust.events.models import DeliveryStatus, WebhookAction, WebhookDelivery
from tests.conftest import signed_in
from tests.events.conftest import announce, subscribe
from tests.factories import UserFactory


@pytest.fixture
def root(db: Any) -> Any:
    return UserFactory(username="root", is_superuser=True, is_staff=True)


def test_an_administrator_resends_a_failed_delivery(
    root, receiver, hospital_client, django_capture_on_commit_callbacks
):
    subscribe(hospital_client, receiver.url)
    receiver.answer(500)
    announce("test.happened", "a1", agencies=[hospital_client.agency])
    webhooks.deliver_due()
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.update(status=DeliveryStatus.FAILED)
    admin = signed_in(root)

    page = admin.get(f"/admin/events/webhookdelivery/{delivery.pk}/change/")
    assert page.status_code == 200
    assert b"receiver says no" in page.content  # the attempt's excerpt, inline
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(
            "/admin/events/webhookdelivery/",
            {"action": "resend", "_selected_action": [str(delivery.pk)]},
        )

    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    assert len(receiver.received) == 2
    row = AuditEvent.objects.get(action=WebhookAction.DELIVERY_RESENT)
    assert row.actor_id == root.pk


def test_the_admin_never_shows_a_secret(root, hospital_client):
    subscription = subscribe(hospital_client, "https://epr.example/hook")
    admin = signed_in(root)

    page = admin.get(f"/admin/events/webhooksubscription/{subscription.pk}/change/")

    assert page.status_code == 200
    assert b"https://epr.example/hook" in page.content
    assert subscription.secret.encode() not in page.content
    assert b"whsec_" not in page.content


def test_an_administrator_disables_and_enables_a_subscription(root, hospital_client):
    subscription = subscribe(hospital_client, "https://epr.example/hook")
    admin = signed_in(root)
    changelist = "/admin/events/webhooksubscription/"

    admin.post(changelist, {"action": "disable", "_selected_action": [str(subscription.pk)]})
    subscription.refresh_from_db()
    assert not subscription.is_active
    assert subscription.disabled_reason == "Disabled by an administrator."

    admin.post(changelist, {"action": "enable", "_selected_action": [str(subscription.pk)]})
    subscription.refresh_from_db()
    assert subscription.is_active
