"""The webhook endpoints as a partner uses them: subscribe (the secret shown once), change
with If-Match, rotate, read the deliveries and their log, resend; bad input gets a problem
document saying what is wrong."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from standardwebhooks.webhooks import Webhook

from caretrust.audit.models import AuditEvent
from caretrust.events import webhooks
from caretrust.events.models import DeliveryStatus, WebhookAction, WebhookDelivery
from tests.api.conftest import assert_problem, make_partner, patch_json, post_json
from tests.events.conftest import announce, subscribe

SUBSCRIPTIONS = "/api/v1/webhook-subscriptions/"
DELIVERIES = "/api/v1/webhook-deliveries/"


@pytest.fixture
def partner(hospital):
    return make_partner(hospital, scopes=["webhooks:read", "webhooks:write"], name="EPR")


def test_subscribing_shows_the_secret_once(partner, receiver):
    response = post_json(
        partner.api, SUBSCRIPTIONS, {"url": receiver.url, "event_types": ["test.*", "other.x"]}
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["secret"].startswith("whsec_")
    assert body["enabled"] is True
    assert body["event_types"] == ["other.x", "test.*"]
    assert response["Location"] == f"{SUBSCRIPTIONS}{body['id']}/"
    again = partner.api.get(response["Location"])
    assert again.status_code == 200
    assert "secret" not in again.json()
    assert again["ETag"] == response["ETag"]
    assert AuditEvent.objects.filter(action=WebhookAction.SUBSCRIPTION_CREATED).count() == 1

    announce("test.happened", "a1", agencies=[partner.agency])
    webhooks.deliver_due()
    (message,) = receiver.received
    Webhook(body["secret"]).verify(message.body, message.headers)


def test_a_retried_create_with_the_same_idempotency_key_subscribes_once(partner):
    body = {"url": "https://epr.example/hook", "event_types": ["*"]}

    first = post_json(partner.api, SUBSCRIPTIONS, body, HTTP_IDEMPOTENCY_KEY="k1")
    second = post_json(partner.api, SUBSCRIPTIONS, body, HTTP_IDEMPOTENCY_KEY="k1")

    assert first.status_code == second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert first.json() == second.json()
    assert partner.partner.webhook_subscriptions.count() == 1


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"url": "http://epr.example/hook", "event_types": ["*"]}, "url", "https"),
        ({"url": "https://10.0.0.5/hook", "event_types": ["*"]}, "url", "public"),
        ({"url": "https://u:p@epr.example/h", "event_types": ["*"]}, "url", "credentials"),
        ({"url": "https:///hook", "event_types": ["*"]}, "url", "host"),
        ({"url": "https://epr.example/h", "event_types": []}, "event_types", ""),
        ({"url": "https://epr.example/h", "event_types": ["Referral.*"]}, "event_types", "dotted"),
        ({"url": "https://epr.example/h", "event_types": ["a.*.b"]}, "event_types", "dotted"),
        (
            {"url": "https://epr.example/h", "event_types": ["*"], "secret": "x"},
            "secret",
            "Unknown",
        ),
    ],
)
def test_bad_input_is_a_400_saying_what_is_wrong(partner, body, field, words):
    response = post_json(partner.api, SUBSCRIPTIONS, body)

    problem = assert_problem(response, 400)
    errors = {e["field"]: e["message"] for e in problem["errors"]}
    assert field in errors, errors
    assert words in errors[field]
    assert not partner.partner.webhook_subscriptions.exists()


def test_a_change_needs_the_current_etag(partner):
    subscription = subscribe(partner.partner, "https://epr.example/hook")
    url = f"{SUBSCRIPTIONS}{subscription.pk}/"
    etag = partner.api.get(url)["ETag"]

    assert_problem(patch_json(partner.api, url, {"enabled": False}), 428)
    changed = patch_json(partner.api, url, {"enabled": False}, HTTP_IF_MATCH=etag)
    assert changed.status_code == 200, changed.content
    assert changed.json()["enabled"] is False
    assert changed.json()["disabled_reason"] == "Disabled by the partner."
    stale = patch_json(partner.api, url, {"description": "x"}, HTTP_IF_MATCH=etag)
    assert_problem(stale, 412)

    again = patch_json(partner.api, url, {"enabled": True}, HTTP_IF_MATCH=changed["ETag"])
    assert again.json()["enabled"] is True
    bad = patch_json(partner.api, url, {"url": "ftp://x"}, HTTP_IF_MATCH=again["ETag"])
    assert_problem(bad, 400)
    subscription.refresh_from_db()
    assert subscription.url == "https://epr.example/hook"


def test_rotating_returns_a_new_secret_and_keeps_the_old_for_the_grace(partner):
    subscription = subscribe(partner.partner, "https://epr.example/hook")
    url = f"{SUBSCRIPTIONS}{subscription.pk}/rotate-secret/"

    response = post_json(partner.api, url, {"grace_period_seconds": 3600})

    assert response.status_code == 200, response.content
    body = response.json()
    subscription.refresh_from_db()
    assert body["secret"] == subscription.secret
    assert subscription.previous_secret and subscription.previous_secret != body["secret"]
    assert body["previous_secret_valid_until"] is not None
    too_long = post_json(partner.api, url, {"grace_period_seconds": 8 * 86400})
    assert_problem(too_long, 400)


def test_deleting_a_subscription_removes_it(partner):
    subscription = subscribe(partner.partner, "https://epr.example/hook")

    response = partner.api.delete(f"{SUBSCRIPTIONS}{subscription.pk}/")

    assert response.status_code == 204
    assert not partner.partner.webhook_subscriptions.exists()


def test_deliveries_and_their_attempts_are_listed_and_can_be_resent(
    partner, receiver, django_capture_on_commit_callbacks
):
    subscription = subscribe(partner.partner, receiver.url)
    receiver.answer(503)
    event = announce("test.happened", "a1", agencies=[partner.agency])
    webhooks.deliver_due()

    listed = partner.api.get(DELIVERIES, {"subscription": str(subscription.pk)}).json()
    (row,) = listed["results"]
    assert row["event_id"] == str(event.event_id)
    assert row["status"] == "pending"
    assert row["last_status_code"] == 503
    attempts = partner.api.get(f"{DELIVERIES}{row['id']}/attempts/").json()["results"]
    assert [(a["status_code"], a["response_excerpt"]) for a in attempts] == [
        (503, "receiver says no")
    ]

    with django_capture_on_commit_callbacks(execute=True):
        resent = post_json(partner.api, f"{DELIVERIES}{row['id']}/resend/", {})
    assert resent.status_code == 200, resent.content
    assert len(receiver.received) == 2
    assert receiver.received[1].headers["webhook-id"] == str(event.event_id)
    assert WebhookDelivery.objects.get().status == DeliveryStatus.DELIVERED


def test_a_delivered_event_can_be_resent(partner, receiver, django_capture_on_commit_callbacks):
    subscribe(partner.partner, receiver.url)
    announce("test.happened", "a1", agencies=[partner.agency])
    webhooks.deliver_due()
    delivery = WebhookDelivery.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        post_json(partner.api, f"{DELIVERIES}{delivery.pk}/resend/", {})

    assert len(receiver.received) == 2
    assert delivery.attempts.count() == 2
    assert AuditEvent.objects.filter(action=WebhookAction.DELIVERY_RESENT).count() == 1


def test_a_bad_delivery_filter_is_refused(partner):
    assert_problem(partner.api.get(DELIVERIES, {"status": ""}), 400)
    assert_problem(partner.api.get(DELIVERIES, {"subscription": "nope"}), 400)


def test_list_query_counts_do_not_grow_with_rows(partner):
    subscription = subscribe(partner.partner, "https://epr.example/hook")
    announce("test.happened", "a0", agencies=[partner.agency])

    def count(url: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert partner.api.get(url).status_code == 200
        return len(queries)

    few = (count(SUBSCRIPTIONS), count(DELIVERIES))
    for n in range(1, 6):
        subscribe(partner.partner, f"https://epr{n}.example/hook")
        announce("test.happened", f"a{n}", agencies=[partner.agency])
    assert WebhookDelivery.objects.filter(subscription=subscription).count() == 6

    assert (count(SUBSCRIPTIONS), count(DELIVERIES)) == few
