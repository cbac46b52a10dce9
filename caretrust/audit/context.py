"""The request id of the request being served, for audit rows written deep in services."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.http import HttpRequest, HttpResponse

request_id: ContextVar[str] = ContextVar("caretrust_request_id", default="")
# The denials (audit.record_denial) of the request being served, written after it.
deferred_denials: ContextVar[list[dict[str, Any]] | None] = ContextVar(
    "caretrust_deferred_denials", default=None
)

_ACCEPTABLE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdMiddleware:
    """Gives every request an id (a well-formed incoming X-Request-ID is kept, so a partner's
    own correlation id follows the request) and returns it on every response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        rid = incoming if _ACCEPTABLE.match(incoming) else uuid.uuid4().hex
        request.request_id = rid  # type: ignore[attr-defined]
        token = request_id.set(rid)
        try:
            response = self.get_response(request)
        finally:
            request_id.reset(token)
        response["X-Request-ID"] = rid
        return response


class DenialMiddleware:
    """Writes a request's denials after its transaction has ended, committed or rolled back.

    A view that refuses (Http404 for what is not visible, PermissionDenied for what may not be
    changed) raises, and ATOMIC_REQUESTS rolls back everything the request wrote: no
    half-written change survives a refusal. The denial itself must survive it, so
    ``audit.record_denial`` only collects it here, and this writes it in a transaction of its
    own (outside ATOMIC_REQUESTS, which wraps only the view)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from caretrust.audit.services import record_deferred_denials

        pending: list[dict[str, Any]] = []
        token = deferred_denials.set(pending)
        try:
            response = self.get_response(request)
        finally:
            deferred_denials.reset(token)
        record_deferred_denials(pending)
        return response
