"""Only a 2xx counts; 410 disables the subscription; 429 and 502/503/504 wait at least the
receiver's Retry-After; anything else follows the Standard Webhooks schedule with jitter, and
gives up after about a day. A later event of an aggregate waits behind an earlier one."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django.utils.http import http_date

from caretrust.events import webhooks
from caretrust.events.models import DeliveryStatus, WebhookDelivery
from tests.events.conftest import announce, make_due, subscribe


def _delivery() -> WebhookDelivery:
    return WebhookDelivery.objects.get()


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_a_slow_down_status_waits_for_retry_after_in_seconds(db, receiver, hospital_client, status):
    subscribe(hospital_client, receiver.url)
    receiver.answer((status, {"Retry-After": "120"}))
    before = timezone.now()

    announce("test.happened", "a1", agencies=[hospital_client.agency])
    assert webhooks.deliver_due() == 0

    delivery = _delivery()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.tries == 1
    assert delivery.last_status_code == status
    assert before + dt.timedelta(seconds=120) <= delivery.next_attempt_at
    assert delivery.next_attempt_at <= timezone.now() + dt.timedelta(seconds=121)
    assert webhooks.deliver_due() == 0, "tried again before Retry-After"
    assert len(receiver.received) == 1


def test_retry_after_as_an_http_date_is_honoured(db, receiver, hospital_client):
    subscribe(hospital_client, receiver.url)
    when = timezone.now() + dt.timedelta(minutes=45)
    receiver.answer((503, {"Retry-After": http_date(when.timestamp())}))

    announce("test.happened", "a1", agencies=[hospital_client.agency])
    webhooks.deliver_due()

    wait = _delivery().next_attempt_at - timezone.now()
    assert dt.timedelta(minutes=44) < wait <= dt.timedelta(minutes=45)


def test_without_retry_after_the_first_retry_is_about_five_seconds_later(
    db, receiver, hospital_client
):
    subscribe(hospital_client, receiver.url)
    receiver.answer(503)
    before = timezone.now()

    announce("test.happened", "a1", agencies=[hospital_client.agency])
    webhooks.deliver_due()

    wait = _delivery().next_attempt_at - before
    assert dt.timedelta(seconds=4.5) <= wait <= dt.timedelta(seconds=6)


def test_the_schedule_has_jitter_and_spans_about_a_day():
    delays = [[webhooks.next_delay(n) for n in range(1, 8)] for _ in range(50)]
    for run in delays:
        for delay, nominal in zip(run, webhooks.RETRY_SCHEDULE, strict=True):
            assert delay is not None
            assert nominal * 0.9 <= delay <= nominal * 1.1
    assert len({run[0] for run in delays}) > 1, "no jitter"
    assert (
        dt.timedelta(hours=24)
        < sum(webhooks.RETRY_SCHEDULE, dt.timedelta())
        < dt.timedelta(hours=30)
    )
    assert webhooks.next_delay(8) is None


def test_retry_after_never_shortens_the_schedule_and_is_capped_at_a_day():
    assert webhooks.next_delay(3, dt.timedelta(seconds=1)) >= dt.timedelta(minutes=27)
    now = timezone.now()
    assert webhooks.retry_after("999999", now) == dt.timedelta(hours=24)
    assert webhooks.retry_after("soon", now) is None
    assert webhooks.retry_after(http_date((now - dt.timedelta(hours=1)).timestamp()), now) == (
        dt.timedelta(0)
    )


def test_410_disables_the_subscription_and_its_deliveries_wait(db, receiver, hospital_client):
    subscription = subscribe(hospital_client, receiver.url)
    receiver.answer(410)

    announce("test.happened", "a1", agencies=[hospital_client.agency], n=1)
    webhooks.deliver_due()

    subscription.refresh_from_db()
    assert not subscription.is_active
    assert "410" in subscription.disabled_reason
    announce("test.happened", "a2", agencies=[hospital_client.agency], n=2)
    assert WebhookDelivery.objects.count() == 1, "a disabled subscription got a new delivery"
    make_due()
    assert webhooks.deliver_due() == 0
    assert len(receiver.received) == 1

    webhooks.update_subscription(
        subscription=subscription,
        expected_version=subscription.version,
        changes={"enabled": True},
    )
    make_due()
    assert webhooks.deliver_due() == 1
    assert [b["data"]["n"] for b in receiver.bodies()] == [1, 1]


@pytest.mark.parametrize("status", [201, 204, 299])
def test_any_2xx_counts_as_delivered(db, receiver, hospital_client, status):
    subscribe(hospital_client, receiver.url)
    receiver.answer(status)

    announce("test.happened", "a1", agencies=[hospital_client.agency])

    assert webhooks.deliver_due() == 1
    assert _delivery().status == DeliveryStatus.DELIVERED


@pytest.mark.parametrize("status", [301, 302, 400, 401, 404, 500])
def test_anything_else_is_retried(db, receiver, hospital_client, status):
    subscribe(hospital_client, receiver.url)
    receiver.answer((status, {"Location": receiver.url + "/elsewhere"}))

    announce("test.happened", "a1", agencies=[hospital_client.agency])

    assert webhooks.deliver_due() == 0
    delivery = _delivery()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.next_attempt_at > timezone.now()
    assert [r.path for r in receiver.received] == ["/hook"], "a redirect was followed"


def test_after_the_last_retry_it_gives_up_and_the_next_event_goes(db, receiver, hospital_client):
    subscribe(hospital_client, receiver.url)
    receiver.answer(*[500] * 8)

    announce("test.happened", "a1", agencies=[hospital_client.agency], n=1)
    announce("test.happened", "a1", agencies=[hospital_client.agency], n=2)
    for _ in range(7):
        assert webhooks.deliver_due() == 0
        make_due()
    assert [b["data"]["n"] for b in receiver.bodies()] == [1] * 7, "ran ahead of the first"

    assert webhooks.deliver_due() == 1  # the eighth attempt fails: the second event goes

    first = WebhookDelivery.objects.get(event__payload__n=1)
    assert first.status == DeliveryStatus.FAILED
    assert first.tries == 8
    assert first.attempts.count() == 8
    assert [b["data"]["n"] for b in receiver.bodies()] == [1] * 8 + [2]


def test_a_later_event_waits_only_behind_its_own_aggregate(db, receiver, hospital_client):
    subscribe(hospital_client, receiver.url)
    receiver.answer(503)

    announce("test.happened", "a", agencies=[hospital_client.agency], n=1)
    announce("test.happened", "a", agencies=[hospital_client.agency], n=2)
    announce("test.happened", "b", agencies=[hospital_client.agency], n=3)
    assert webhooks.deliver_due() == 1

    assert [b["data"]["n"] for b in receiver.bodies()] == [1, 3]
    make_due()
    assert webhooks.deliver_due() == 2
    assert [b["data"]["n"] for b in receiver.bodies()] == [1, 3, 1, 2]


def test_a_refused_connection_is_logged_and_retried(db, receiver, hospital_client):
    subscribe(hospital_client, receiver.url)
    receiver.stop()

    announce("test.happened", "a1", agencies=[hospital_client.agency])
    assert webhooks.deliver_due() == 0

    delivery = _delivery()
    (attempt,) = delivery.attempts.all()
    assert attempt.status_code is None
    assert "ConnectionError" in attempt.error
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.next_attempt_at > timezone.now()
