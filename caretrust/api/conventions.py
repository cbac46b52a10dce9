"""The conventions every endpoint follows: problem documents for errors, cursor pagination,
per-client rate limits, ETag/If-Match, and Idempotency-Key on POST."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

import redis
from django.conf import settings
from django.core.cache.backends.base import BaseCache
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import connection, transaction
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.pagination import CursorPagination
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import exception_handler as drf_exception_handler

from caretrust.api.models import IdempotencyRecord
from caretrust.ops.outage import is_database_unavailable, unavailable
from caretrust.ops.redis_health import fallback_cache, redis_client, redis_health

PROBLEM_TYPE_BASE = "https://caretrust.example/problems/"


class ProblemJSONRenderer(JSONRenderer):
    media_type = "application/problem+json"


class Problem(exceptions.APIException):
    """An error with its own status and a stable problem type."""

    def __init__(self, status_code: int, title: str, detail: str, kind: str) -> None:
        self.status_code = status_code
        self.title = title
        self.kind = kind
        super().__init__(detail=detail)


def _title(code: int) -> str:
    return {
        400: "Bad request",
        401: "Not authenticated",
        403: "Forbidden",
        404: "Not found",
        405: "Method not allowed",
        406: "Not acceptable",
        409: "Conflict",
        412: "Precondition failed",
        415: "Unsupported media type",
        422: "Unprocessable request",
        428: "Precondition required",
        429: "Too many requests",
    }.get(code, "Error")


def _field_errors(detail: Any, prefix: str = "") -> list[dict[str, str]]:
    """Flatten DRF's nested error detail into [{"field": "a.b", "message": ...}, ...].

    One spelling for a path whatever the field's kind: a list's item is its index, dotted
    (``attendees.1.name``), whether DRF reported it as a list (a many=True serializer) or as a
    dict keyed by index (a ListField)."""
    out: list[dict[str, str]] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            out += _field_errors(value, prefix if key == "non_field_errors" else name)
    elif isinstance(detail, list):
        for i, value in enumerate(detail):
            if isinstance(value, dict | list):
                out += _field_errors(value, f"{prefix}.{i}" if prefix else str(i))
            else:
                out.append({"field": prefix, "message": str(value)})
    else:
        out.append({"field": prefix, "message": str(detail)})
    return out


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Every error as application/problem+json (RFC 9457): type, title, status, detail, and
    for validation the field-level errors. 404 says nothing about why (hidden and missing
    look the same); the database unavailable is 503 with Retry-After."""
    if is_database_unavailable(exc):
        if connection.in_atomic_block:
            transaction.set_rollback(True)  # nothing of the request commits
        return unavailable(context["request"]._request)  # type: ignore[return-value]
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or "You may not do this.")
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    request = context.get("request")
    code = response.status_code
    # DRF has marked the request's transaction for rollback, as for any error: a refusal's
    # denial is written after it by audit.context.DenialMiddleware.
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + getattr(exc, "kind", _kind(exc, code)),
        "title": getattr(exc, "title", _title(code)),
        "status": code,
    }
    if isinstance(exc, exceptions.ValidationError):
        body["detail"] = "The request is not valid: see errors."
        body["errors"] = _field_errors(exc.detail)
    else:
        body["detail"] = str(getattr(exc, "detail", "")) or _title(code)
    rid = getattr(getattr(request, "_request", None), "request_id", "")
    if rid:
        body["request_id"] = rid
    response.data = body
    response.content_type = "application/problem+json"
    if request is not None:
        # Render with the problem media type whatever the client accepted.
        response.accepted_renderer = ProblemJSONRenderer()
        response.accepted_media_type = ProblemJSONRenderer.media_type
    return response


def _kind(exc: Exception, code: int) -> str:
    if isinstance(exc, exceptions.ValidationError):
        return "validation"
    if isinstance(exc, exceptions.Throttled):
        return "rate-limited"
    if isinstance(exc, exceptions.ParseError):
        return "malformed-request"
    return {
        401: "unauthenticated",
        403: "forbidden",
        404: "not-found",
        405: "method-not-allowed",
        406: "not-acceptable",
        415: "unsupported-media-type",
    }.get(code, "error")


class Cursor(CursorPagination):
    page_size = 25
    max_page_size = 100
    page_size_query_param = "page_size"
    ordering = ("-created_at", "id")

    def get_page_size(self, request: Request) -> int:
        """A page_size that is not a whole number from 1 to max_page_size is an error, not
        silently replaced by the default (a typo must not look like success)."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= self.max_page_size):
            raise exceptions.ValidationError(
                {
                    self.page_size_query_param: [
                        f"Give a whole number from 1 to {self.max_page_size}."
                    ]
                }
            )
        return int(raw)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
        return parameters


class PerClientThrottle(SimpleRateThrottle):
    """Per partner client (or per signed-in user) and per kind of request; 429 carries
    Retry-After.

    A counter per caller per fixed window (the clock cut into windows of the rate's length),
    not DRF's list of every request's timestamp: that list is read and written back whole on
    every request, so at the default budget of 6,000 a minute a busy client would move tens
    of kilobytes through the cache per call. A window admits at most the budget; across a
    window's end a client may spend two budgets in quick succession, the usual price of fixed
    windows. Each window has its own key, so a counter whose expiry were ever lost would still
    never count against a later window.

    With Redis unavailable the counters are kept per process (``caretrust.ops.redis_health``).
    """

    scope = "client"
    num_requests: int
    duration: int
    window_ends: float

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.rate is None:
            return True
        ident = self.get_cache_key(request, view)
        if ident is None:
            return True
        window = int(self.timer() // self.duration)
        self.window_ends = (window + 1) * self.duration
        count = self.count(f"{ident}:{window}", ttl=self.duration * 2)
        return bool(count <= self.num_requests)

    def count(self, key: str, *, ttl: int) -> int:
        """Count one request in the window's counter and return the window's total. The key is
        kept for two windows, so it cannot expire while its window is current."""
        if settings.REDIS_URL:
            if redis_health.usable():
                try:
                    count = self._count_in_redis(redis_client(settings.REDIS_URL), key, ttl)
                except redis.RedisError as exc:
                    redis_health.failed(exc)
                else:
                    redis_health.worked()
                    return count
            redis_health.fell_back()
            return self._count_in(fallback_cache, key, ttl)
        return self._count_in(self.cache, key, ttl)

    @staticmethod
    def _count_in_redis(client: redis.Redis, key: str, ttl: int) -> int:
        # One round trip, and no race: open the window at 0 if it is new, then count.
        # (Django's cache API needs three: incr is exists-then-incr, then add on a miss.)
        pipe = client.pipeline(transaction=False)
        pipe.set(f"caretrust:{key}", 0, ex=ttl, nx=True)
        pipe.incr(f"caretrust:{key}")
        _, count = pipe.execute()
        return int(count)

    @staticmethod
    def _count_in(cache: BaseCache, key: str, ttl: int) -> int:
        # Any other cache (local memory): count first, and open the window only on its first
        # request (add loses to a concurrent opener, which has then counted the window's first
        # request already).
        try:
            return int(cache.incr(key))
        except ValueError:
            opened = cache.add(key, 1, ttl)
            return 1 if opened else int(cache.incr(key))

    def wait(self) -> float | None:
        return max(1.0, self.window_ends - self.timer())

    def get_rate(self) -> str | None:
        rate: str | None = settings.API_RATE_LIMIT
        return rate

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        partner = getattr(request, "partner", None)
        if partner is not None:
            ident = f"client:{partner.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"anon:{self.get_ident(request)}"
        return f"throttle:{ident}"


# --- ETag / If-Match ------------------------------------------------------------------------


_ENTITY_TAG = re.compile(r'"[\x21\x23-\x7e]*"')


def etag_for(obj: Any) -> str:
    return f'"{obj.pk}-v{obj.version}"'


def required_version(request: Request, obj: Any) -> int:
    """The version the client last saw, from If-Match: 428 when missing, 412 when it does not
    name the current version. The caller then writes with ``UPDATE ... WHERE version = n``."""
    header = request.headers.get("If-Match")
    if not header:
        raise Problem(
            428,
            "Precondition required",
            "Send If-Match with the ETag you last read, so your change cannot "
            "overwrite someone else's.",
            "if-match-required",
        )
    if header.strip() == "*":
        return int(obj.version)
    tags = {t.strip().removeprefix("W/") for t in header.split(",")}
    if not all(_ENTITY_TAG.fullmatch(t) for t in tags):
        # Not "the record has changed" (412): re-reading it would never mend a malformed header.
        raise Problem(
            400,
            "Bad request",
            'If-Match must be the ETag from your last read, quoted as sent, e.g. "<id>-v3".',
            "bad-if-match",
        )
    if etag_for(obj) not in tags:
        raise stale()
    return int(obj.version)


def stale() -> Problem:
    return Problem(
        412,
        "Precondition failed",
        "The record has changed since you read it. Read it again (GET), "
        "reapply your change and send the new ETag in If-Match.",
        "stale-version",
    )


# --- Idempotency-Key ------------------------------------------------------------------------

MAX_KEY = 200


def _owner(request: Request) -> str:
    partner = getattr(request, "partner", None)
    return f"client:{partner.pk}" if partner is not None else f"user:{request.user.pk}"


def idempotent(handler: Callable[..., Response]) -> Callable[..., Response]:
    """POST with an ``Idempotency-Key``: the first response is stored in the same transaction
    as the change and replayed for a retry with the same key and body; the same key with a
    different body answers 422; a duplicate arriving while the first is still running answers
    409. The key is locked with a transaction-level advisory lock, so two requests can never
    both perform the change."""

    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get("Idempotency-Key")
        if key is None:
            return handler(self, request, *args, **kwargs)
        key = key.strip()
        if not key or len(key) > MAX_KEY or not key.isprintable():
            raise Problem(
                400,
                "Bad request",
                f"Idempotency-Key must be 1 to {MAX_KEY} printable characters.",
                "bad-idempotency-key",
            )
        owner = _owner(request)
        digest = hashlib.sha256(
            json.dumps(
                [request.method, request.path, request.data], sort_keys=True, default=str
            ).encode()
        ).hexdigest()
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_try_advisory_xact_lock(hashtext(%s))", [f"idempotency:{owner}:{key}"]
                )
                (got,) = cursor.fetchone()
            if not got:
                raise Problem(
                    409,
                    "Conflict",
                    "A request with this Idempotency-Key is still being processed; "
                    "retry after it completes.",
                    "idempotency-in-progress",
                )
            previous = IdempotencyRecord.objects.filter(owner=owner, key=key).first()
            if previous is not None:
                if previous.request_hash != digest:
                    raise Problem(
                        422,
                        "Unprocessable request",
                        "This Idempotency-Key was used with a different request. Use "
                        "a new key for a new request.",
                        "idempotency-key-reused",
                    )
                replay = Response(
                    previous.body, status=previous.status_code, headers=previous.headers
                )
                replay["Idempotent-Replayed"] = "true"
                return replay
            response = handler(self, request, *args, **kwargs)
            if status.is_success(response.status_code):
                IdempotencyRecord.objects.create(
                    owner=owner,
                    key=key,
                    method=request.method or "POST",
                    path=request.path[:300],
                    request_hash=digest,
                    status_code=response.status_code,
                    body=json.loads(json.dumps(response.data, default=str)),
                    headers={h: response[h] for h in ("Location", "ETag") if h in response},
                )
            return response

    wrapper.__name__ = handler.__name__
    wrapper.__doc__ = handler.__doc__
    return wrapper
