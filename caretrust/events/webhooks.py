"""Partner webhooks: the outbox's events, fanned out to partner subscriptions and delivered
signed per the Standard Webhooks specification (https://www.standardwebhooks.com/).

The rules kept here:

- **Who is sent what.** A subscription is sent an event only if (1) the event names the
  subscription's agency among the agencies it concerns (``emit(..., agencies=[...])``; an
  event naming none goes to no partner), (2) its client is not revoked and the subscription
  is enabled, (3) one of its event-type patterns matches, and (4) when the payload names a
  person (``person_id``), the agency may see that person at that moment: it holds, or is
  granted, a case file on them (``CaseFile.objects.visible_to(agency, None)``, the one
  visibility rule). (4) is checked when the delivery is made and again before every attempt:
  a consent withdrawn in between withholds the delivery (status ``withheld``), never sends it.
- **Nothing lost.** Deliveries are rows made in the outbox's dispatch transaction (the
  fan-out is an outbox handler), so a committed event always has its deliveries; they are
  attempted after commit by Celery, and a beat job and ``manage.py run_outbox`` attempt
  whatever is due, so with Redis or the receiver down they wait in PostgreSQL.
- **Once at a time, in order.** Only the oldest pending delivery of a (subscription,
  aggregate) is ever attempted, and it is locked (``FOR UPDATE SKIP LOCKED``) while its POST
  is in flight, so two workers never send one delivery at once, and a later event of an
  aggregate waits behind an earlier one until that is delivered or given up.
- **Retries.** Only a 2xx counts. 410 disables the subscription (its pending deliveries wait
  until it is enabled again). Otherwise the next attempt follows the Standard Webhooks
  schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; each +-10 % jitter), and for 429 and
  502/503/504 never sooner than the receiver's ``Retry-After``; after the last it is
  ``failed`` (a manual resend starts the schedule again).
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import logging
import re
import secrets
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.http import parse_http_date_safe
from standardwebhooks.webhooks import Webhook

from caretrust.api.models import PartnerClient
from caretrust.audit import services as audit
from caretrust.events.models import (
    DeliveryAttempt,
    DeliveryStatus,
    OutboxEvent,
    WebhookAction,
    WebhookDelivery,
    WebhookSubscription,
)
from caretrust.events.services import handles
from caretrust.people.validators import whole_number

logger = logging.getLogger(__name__)

# After the n-th failed attempt the next is this long after it; after the last, give up.
RETRY_SCHEDULE = [
    dt.timedelta(seconds=5),
    dt.timedelta(minutes=5),
    dt.timedelta(minutes=30),
    dt.timedelta(hours=2),
    dt.timedelta(hours=5),
    dt.timedelta(hours=10),
    dt.timedelta(hours=10),
]
JITTER = 0.1
LONGEST_RETRY_AFTER = dt.timedelta(hours=24)
SLOW_DOWN = {429, 502, 503, 504}
GONE = 410
CONNECT_TIMEOUT = 3.0  # seconds
READ_TIMEOUT = 10.0
EXCERPT = 500
DEFAULT_GRACE = dt.timedelta(hours=24)
LONGEST_GRACE = dt.timedelta(days=7)
MAX_EVENT_TYPES = 50
SECRET_BYTES = 32  # the spec asks for 24 to 64

_EVENT_TYPE = re.compile(r"^(\*|[a-z0-9_]+(\.[a-z0-9_]+)*(\.\*)?)$")
_LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
_random = secrets.SystemRandom()


class WebhookError(ValidationError):
    """A request about subscriptions that cannot be met, with a message saying why."""


# --- subscriptions ------------------------------------------------------------------------


def validate_url(url: str) -> str:
    """An https URL (http only for localhost, and only in development and tests), with a
    host and no credentials; not an IP address in a private, loopback or link-local range."""
    url = url.strip()
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    local_http = bool(settings.DEBUG or settings.TESTING) and host in _LOCAL_HOSTS
    if parts.scheme != "https" and not (parts.scheme == "http" and local_http):
        raise WebhookError(
            {"url": ["Give an https:// URL (http is accepted only for localhost in development)."]}
        )
    if not host:
        raise WebhookError({"url": ["Give a URL with a host name, e.g. https://example.org/hook."]})
    if parts.username or parts.password:
        raise WebhookError({"url": ["Leave credentials out of the URL; verify the signature."]})
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None and not local_http and not address.is_global:
        raise WebhookError({"url": ["Give a public address: this one is private or local."]})
    return url


def validate_event_types(event_types: Sequence[str]) -> list[str]:
    """Exact types (``referral.accepted``), a prefix (``referral.*``) or everything (``*``)."""
    chosen = sorted({t.strip() for t in event_types})
    if not chosen or len(chosen) > MAX_EVENT_TYPES:
        raise WebhookError(
            {"event_types": [f"Give 1 to {MAX_EVENT_TYPES} event types, e.g. referral.*."]}
        )
    bad = [t for t in chosen if not _EVENT_TYPE.fullmatch(t) or len(t) > 80]
    if bad:
        raise WebhookError(
            {
                "event_types": [
                    f"Not an event type or pattern: {', '.join(bad)}. Use lower-case dotted "
                    "names, e.g. referral.accepted, referral.* or *."
                ]
            }
        )
    return chosen


def matches(patterns: Iterable[str], event_type: str) -> bool:
    for pattern in patterns:
        if pattern == "*" or pattern == event_type:
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and the base64 of random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


@dataclass(frozen=True)
class WithSecret:
    subscription: WebhookSubscription
    secret: str  # shown to the partner once


def create_subscription(
    *,
    client: PartnerClient,
    url: str,
    event_types: Sequence[str],
    description: str = "",
    by: Any = None,
) -> WithSecret:
    """Subscribe ``client`` to events. Returns the signing secret, which is not shown again."""
    values = {"url": validate_url(url), "event_types": validate_event_types(event_types)}
    with transaction.atomic():
        subscription = WebhookSubscription.objects.create(
            client=client, description=description.strip()[:200], secret=new_secret(), **values
        )
        _audit(WebhookAction.SUBSCRIPTION_CREATED, subscription, by, values)
    return WithSecret(subscription, subscription.secret)


class StaleSubscription(Exception):
    """Changed by someone else since the caller read it (If-Match did not match)."""


def update_subscription(
    *,
    subscription: WebhookSubscription,
    expected_version: int,
    changes: dict[str, Any],
    by: Any = None,
) -> WebhookSubscription:
    """Change url, event_types, description, or ``enabled`` (re-enabling resumes its pending
    deliveries, in order). Written only if the row is still at ``expected_version``."""
    values: dict[str, Any] = {}
    if "url" in changes:
        values["url"] = validate_url(changes["url"])
    if "event_types" in changes:
        values["event_types"] = validate_event_types(changes["event_types"])
    if "description" in changes:
        values["description"] = str(changes["description"]).strip()[:200]
    if "enabled" in changes:
        enabled = bool(changes["enabled"])
        values["disabled_at"] = None if enabled else timezone.now()
        values["disabled_reason"] = "" if enabled else "Disabled by the partner."
    with transaction.atomic():
        updated = WebhookSubscription.objects.filter(
            pk=subscription.pk, version=expected_version
        ).update(**values, version=F("version") + 1, updated_at=timezone.now())
        if not updated:
            raise StaleSubscription
        fresh = WebhookSubscription.objects.get(pk=subscription.pk)
        _audit(WebhookAction.SUBSCRIPTION_CHANGED, fresh, by, _loggable(values))
        if fresh.is_active:
            _deliver_after_commit(fresh.pk)
    return fresh


def delete_subscription(*, subscription: WebhookSubscription, by: Any = None) -> None:
    """Remove the subscription with its deliveries and their log."""
    with transaction.atomic():
        _audit(WebhookAction.SUBSCRIPTION_DELETED, subscription, by, {"url": subscription.url})
        subscription.delete()


def rotate_secret(
    *, subscription: WebhookSubscription, grace: dt.timedelta = DEFAULT_GRACE, by: Any = None
) -> WithSecret:
    """A new signing secret; for ``grace`` (at most 7 days) every delivery is signed with the
    old one as well (both signatures, space-separated, as the specification allows), so the
    receiver can switch without dropping a message."""
    if not dt.timedelta(0) <= grace <= LONGEST_GRACE:
        raise WebhookError(
            {"grace_period_seconds": ["Give a grace period from 0 to 604800 seconds (7 days)."]}
        )
    with transaction.atomic():
        locked = WebhookSubscription.objects.select_for_update().get(pk=subscription.pk)
        if grace:
            locked.previous_secret = locked.secret
            locked.previous_secret_expires_at = timezone.now() + grace
        else:
            locked.previous_secret, locked.previous_secret_expires_at = "", None
        locked.secret = new_secret()
        locked.version += 1
        locked.save()
        _audit(WebhookAction.SECRET_ROTATED, locked, by, {"grace_seconds": grace.total_seconds()})
    return WithSecret(locked, locked.secret)


def disable_subscription(*, subscription: WebhookSubscription, reason: str, by: Any = None) -> None:
    """Stop sending to the subscription; its pending deliveries wait for it to be enabled."""
    with transaction.atomic():
        WebhookSubscription.objects.filter(pk=subscription.pk, disabled_at__isnull=True).update(
            disabled_at=timezone.now(),
            disabled_reason=reason[:200],
            version=F("version") + 1,
            updated_at=timezone.now(),
        )
        _audit(WebhookAction.SUBSCRIPTION_DISABLED, subscription, by, {"reason": reason[:200]})


def resend_delivery(*, delivery: WebhookDelivery, by: Any = None) -> WebhookDelivery:
    """Send the delivery again, with the same ``webhook-id`` (the receiver may deduplicate on
    it): back to pending, due now, the retry schedule started again. It keeps its place in
    its aggregate's order."""
    with transaction.atomic():
        locked = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
        locked.status = DeliveryStatus.PENDING
        locked.tries = 0
        locked.next_attempt_at = timezone.now()
        locked.save(update_fields=["status", "tries", "next_attempt_at"])
        _audit(
            WebhookAction.DELIVERY_RESENT,
            locked.subscription,
            by,
            {"delivery": str(locked.pk), "event_id": str(locked.event.event_id)},
        )
        _deliver_after_commit(locked.subscription_id)
    return locked


def _audit(action: str, subscription: WebhookSubscription, by: Any, detail: dict[str, Any]) -> None:
    audit.record(
        action,
        actor=by,
        agency=subscription.client.agency,
        obj=subscription,
        detail={"subscription": str(subscription.pk), **detail},
    )


def _loggable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in values.items()}


# --- fan-out --------------------------------------------------------------------------------


def person_visible(agency_id: int, payload: dict[str, Any]) -> bool:
    """Whether the agency may see the person the payload names (True when it names none)."""
    from caretrust.people.models import CaseFile

    person_id = payload.get("person_id")
    if person_id in (None, ""):
        return True
    try:
        person_uuid = uuid.UUID(str(person_id))
    except ValueError:
        return False  # when in doubt, deny
    from caretrust.directory.models import Agency

    agency = Agency.objects.get(pk=agency_id)
    return CaseFile.objects.visible_to(agency, None).filter(person_id=person_uuid).exists()


@handles("*", name="events.webhook_fan_out")
def fan_out(event: OutboxEvent) -> None:
    """One delivery per matching, enabled subscription of an agency the event concerns (and
    may be told about its person), in the outbox's dispatch transaction; attempted after
    commit."""
    if not event.agencies:
        return
    candidates = WebhookSubscription.objects.filter(
        client__agency_id__in=event.agencies,
        client__revoked_at__isnull=True,
        disabled_at__isnull=True,
    ).only("id", "event_types", "client__agency_id")
    visible: dict[int, bool] = {}
    chosen = []
    for subscription in candidates.select_related("client"):
        if not matches(subscription.event_types, event.type):
            continue
        agency_id = subscription.client.agency_id
        if agency_id not in visible:
            visible[agency_id] = person_visible(agency_id, event.payload)
        if visible[agency_id]:
            chosen.append(subscription.pk)
    WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                subscription_id=pk,
                event=event,
                aggregate_type=event.aggregate_type,
                aggregate_id=event.aggregate_id,
            )
            for pk in chosen
        ],
        ignore_conflicts=True,  # a handler runs once per event, but be safe twice
    )
    for pk in chosen:
        _deliver_after_commit(pk)


def _deliver_after_commit(subscription_id: uuid.UUID) -> None:
    transaction.on_commit(lambda: _queue_delivery(str(subscription_id)))


def _queue_delivery(subscription_id: str) -> None:
    """After commit, ask a worker to deliver; if Celery cannot be reached the sweep will."""
    from caretrust.events.tasks import deliver_webhooks

    try:
        deliver_webhooks.apply_async((subscription_id,), retry=False)
    except Exception:
        logger.warning(
            "could not queue webhook delivery for %s; the sweep will deliver it",
            subscription_id,
            exc_info=True,
        )


# --- delivery ---------------------------------------------------------------------------------

# The due delivery that heads its (subscription, aggregate), of an enabled subscription, that
# no other worker holds: see the module's docstring.
_NEXT = """
SELECT d.id FROM events_webhookdelivery d
JOIN events_webhooksubscription s ON s.id = d.subscription_id
WHERE d.status = 'pending' AND d.next_attempt_at <= statement_timestamp()
  AND s.disabled_at IS NULL {only}
  AND NOT EXISTS (
    SELECT 1 FROM events_webhookdelivery p
    WHERE p.status = 'pending' AND p.subscription_id = d.subscription_id
      AND p.aggregate_type = d.aggregate_type AND p.aggregate_id = d.aggregate_id
      AND p.event_id < d.event_id)
ORDER BY d.next_attempt_at, d.event_id
LIMIT 1
FOR UPDATE OF d SKIP LOCKED
"""
_NEXT_ANY = _NEXT.format(only="")
_NEXT_OF_ONE = _NEXT.format(only="AND d.subscription_id = %s")


def deliver_due(*, subscription_id: str | uuid.UUID | None = None, limit: int = 500) -> int:
    """Attempt the deliveries that are due (of one subscription, or all), each in its own
    transaction holding its row while the POST is in flight; returns how many were
    delivered. Safe to run in several processes at once."""
    delivered = 0
    for _ in range(limit):
        with transaction.atomic():
            with connection.cursor() as cursor:
                if subscription_id is None:
                    cursor.execute(_NEXT_ANY)
                else:
                    cursor.execute(_NEXT_OF_ONE, [str(subscription_id)])
                row = cursor.fetchone()
            if row is None:
                return delivered
            delivery = WebhookDelivery.objects.select_related(
                "event", "subscription__client__agency", "subscription__client__service_user"
            ).get(pk=row[0])
            if _attempt(delivery):
                delivered += 1
    return delivered


def body_of(event: OutboxEvent) -> str:
    """The JSON sent: the event's type, when it happened (UTC) and its payload."""
    occurred = event.occurred_at.astimezone(dt.UTC)
    return json.dumps(
        {"type": event.type, "timestamp": occurred.isoformat(), "data": event.payload},
        cls=DjangoJSONEncoder,
        separators=(",", ":"),
    )


def signing_secrets(subscription: WebhookSubscription, at: dt.datetime) -> list[str]:
    """The current secret, and the previous one while its grace period lasts."""
    found = [subscription.secret]
    expires = subscription.previous_secret_expires_at
    if subscription.previous_secret and expires is not None and at < expires:
        found.append(subscription.previous_secret)
    return found


def signed_headers(
    subscription: WebhookSubscription, event: OutboxEvent, body: str, at: dt.datetime
) -> dict[str, str]:
    """The Standard Webhooks headers: the event's id (the same on every retry), the time of
    this attempt, and a ``v1`` signature per secret in use, space-separated."""
    at = at.astimezone(dt.UTC)  # Webhook.sign reads the clock fields as UTC
    msg_id = str(event.event_id)
    signatures = [
        Webhook(secret).sign(msg_id=msg_id, timestamp=at, data=body)
        for secret in signing_secrets(subscription, at)
    ]
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(signatures),
        "Content-Type": "application/json",
        "User-Agent": "caretrust-webhooks/1",
    }


def retry_after(value: str | None, now: dt.datetime) -> dt.timedelta | None:
    """A ``Retry-After`` header (delay-seconds or HTTP-date) as a delay, at most a day."""
    if not value:
        return None
    value = value.strip()
    seconds = whole_number(value)
    if seconds is not None:
        delay = dt.timedelta(seconds=seconds)
    else:
        when = parse_http_date_safe(value)
        if when is None:
            return None
        delay = dt.datetime.fromtimestamp(when, tz=dt.UTC) - now
    return max(dt.timedelta(0), min(delay, LONGEST_RETRY_AFTER))


def next_delay(tries: int, slow_down: dt.timedelta | None = None) -> dt.timedelta | None:
    """After the ``tries``-th failed attempt: how long to wait, or None to give up."""
    if tries > len(RETRY_SCHEDULE):
        return None
    delay = RETRY_SCHEDULE[tries - 1] * _random.uniform(1 - JITTER, 1 + JITTER)
    return max(delay, slow_down) if slow_down is not None else delay


@dataclass
class _Outcome:
    status_code: int | None = None
    excerpt: str = ""
    error: str = ""
    retry_after: str | None = None


def _post(url: str, body: str, headers: dict[str, str]) -> _Outcome:
    try:
        with requests.post(
            url,
            data=body.encode(),
            headers=headers,
            timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
            allow_redirects=False,
            stream=True,
        ) as response:
            raw = next(response.iter_content(EXCERPT), b"")
            return _Outcome(
                status_code=response.status_code,
                excerpt=raw[:EXCERPT].decode("utf-8", "replace"),
                retry_after=response.headers.get("Retry-After"),
            )
    except requests.RequestException as exc:
        return _Outcome(error=f"{type(exc).__name__}: {exc}"[:EXCERPT])


def _attempt(delivery: WebhookDelivery) -> bool:
    """POST the delivery once (the caller holds its row) and record what came of it."""
    subscription, event = delivery.subscription, delivery.event
    client = subscription.client
    if client.revoked_at is not None or not person_visible(client.agency_id, event.payload):
        delivery.status = DeliveryStatus.WITHHELD
        delivery.last_error = "Withheld: the client is revoked or may no longer see the person."
        delivery.save(update_fields=["status", "last_error"])
        return False
    body = body_of(event)
    started = timezone.now()
    clock = time.monotonic()
    outcome = _post(subscription.url, body, signed_headers(subscription, event, body, started))
    duration_ms = int((time.monotonic() - clock) * 1000)
    DeliveryAttempt.objects.create(
        delivery=delivery,
        attempted_at=started,
        status_code=outcome.status_code,
        duration_ms=duration_ms,
        response_excerpt=outcome.excerpt,
        error=outcome.error,
    )
    delivery.tries += 1
    delivery.last_status_code = outcome.status_code
    delivery.last_error = outcome.error
    code = outcome.status_code
    if code is not None and 200 <= code < 300:
        delivery.status = DeliveryStatus.DELIVERED
        delivery.delivered_at = timezone.now()
    elif code == GONE:
        disable_subscription(subscription=subscription, reason="The receiver answered 410 Gone.")
    else:
        slow = retry_after(outcome.retry_after, started) if code in SLOW_DOWN else None
        delay = next_delay(delivery.tries, slow)
        if delay is None:
            delivery.status = DeliveryStatus.FAILED
        else:
            delivery.next_attempt_at = timezone.now() + delay
    delivery.save(
        update_fields=[
            "status",
            "tries",
            "last_status_code",
            "last_error",
            "delivered_at",
            "next_attempt_at",
        ]
    )
    if delivery.tries == 1 and event.payload.get("person_id"):
        # What a partner was told about a person is in the person's access report.
        audit.record(
            WebhookAction.EVENT_SENT,
            actor=client.service_user,
            agency=client.agency,
            person_id=str(event.payload["person_id"]),
            detail={
                "event_id": str(event.event_id),
                "type": event.type,
                "subscription": str(subscription.pk),
                "via": "webhook",
            },
        )
    return delivery.status == DeliveryStatus.DELIVERED
