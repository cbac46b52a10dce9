"""A delivery is a Standard Webhooks message: signed so the standardwebhooks library's
``Webhook.verify`` accepts it, with the event's id as ``webhook-id``; after a rotation it is
signed with both secrets for the grace period, then with the new one only."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from caretrust.events import webhooks
from caretrust.events.models import DeliveryStatus, WebhookDelivery
from tests.events.conftest import announce, make_due, subscribe


def test_a_delivery_verifies_with_the_standardwebhooks_library(db, receiver, hospital_client):
    created = webhooks.create_subscription(
        client=hospital_client, url=receiver.url, event_types=["test.*"]
    )
    assert created.secret.startswith("whsec_")

    event = announce("test.happened", "a1", agencies=[hospital_client.agency], n=7)
    assert webhooks.deliver_due() == 1

    (message,) = receiver.received
    verified = Webhook(created.secret).verify(message.body, message.headers)
    assert verified == {
        "type": "test.happened",
        "timestamp": event.occurred_at.astimezone(dt.UTC).isoformat(),
        "data": {"n": 7},
    }
    assert message.headers["webhook-id"] == str(event.event_id)
    assert message.headers["Content-Type"] == "application/json"
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.DELIVERED
    (attempt,) = delivery.attempts.all()
    assert attempt.status_code == 200
    assert attempt.response_excerpt == '{"ok": true}'


def test_a_tampered_body_or_another_secret_does_not_verify(db, receiver, hospital_client):
    subscribe(hospital_client, receiver.url)
    announce("test.happened", "a1", agencies=[hospital_client.agency])
    webhooks.deliver_due()
    (message,) = receiver.received

    with pytest.raises(WebhookVerificationError):
        Webhook(webhooks.new_secret()).verify(message.body, message.headers)
    secret = hospital_client.webhook_subscriptions.get().secret
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(message.body.replace('"n":0', '"n":1'), message.headers)


def test_a_retry_keeps_the_webhook_id_and_signs_a_fresh_timestamp(
    db, receiver, hospital_client, monkeypatch
):
    subscribe(hospital_client, receiver.url)
    receiver.answer(500)
    announce("test.happened", "a1", agencies=[hospital_client.agency])
    webhooks.deliver_due()
    make_due()
    later = timezone.now() + dt.timedelta(seconds=30)
    monkeypatch.setattr(webhooks.timezone, "now", lambda: later)
    webhooks.deliver_due()

    first, second = receiver.received
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert int(second.headers["webhook-timestamp"]) - int(first.headers["webhook-timestamp"]) >= 29


def test_during_the_grace_period_both_secrets_sign_then_only_the_new_one(
    db, receiver, hospital_client, monkeypatch
):
    subscription = subscribe(hospital_client, receiver.url)
    old = subscription.secret
    rotated = webhooks.rotate_secret(subscription=subscription, grace=dt.timedelta(hours=1))
    new = rotated.secret
    assert new != old

    announce("test.happened", "a1", agencies=[hospital_client.agency], n=1)
    webhooks.deliver_due()
    (during,) = receiver.received
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    Webhook(old).verify(during.body, during.headers)
    Webhook(new).verify(during.body, during.headers)

    after_grace = timezone.now() + dt.timedelta(hours=1, seconds=1)
    monkeypatch.setattr(webhooks.timezone, "now", lambda: after_grace)
    headers = webhooks.signed_headers(
        rotated.subscription,
        WebhookDelivery.objects.get().event,
        during.body,
        after_grace,
    )
    assert len(headers["webhook-signature"].split(" ")) == 1
    expected = Webhook(new).sign(headers["webhook-id"], after_grace.astimezone(dt.UTC), during.body)
    assert headers["webhook-signature"] == expected


def test_a_rotation_with_no_grace_drops_the_old_secret_at_once(db, receiver, hospital_client):
    subscription = subscribe(hospital_client, receiver.url)
    old = subscription.secret
    rotated = webhooks.rotate_secret(subscription=subscription, grace=dt.timedelta(0))

    announce("test.happened", "a1", agencies=[hospital_client.agency])
    webhooks.deliver_due()

    (message,) = receiver.received
    Webhook(rotated.secret).verify(message.body, message.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(message.body, message.headers)
