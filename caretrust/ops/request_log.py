"""One log line per request, so an operator can follow a request from the load balancer (the
X-Request-ID it sends or receives) through the app to the audit rows it wrote (the same
request id is on each of them).

The line holds who asked (partner client, user, active agency: ids only), what (method, the
path without its query string, the URL pattern), and how it went (status, milliseconds).
Never people's data: query strings (which may carry NHS numbers, names, dates of birth) and
bodies are left out. Formatted as JSON by python-json-logger (settings.LOGGING).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject, empty

logger = logging.getLogger("caretrust.request")


def _evaluated(request: HttpRequest, name: str) -> Any:
    """An attribute the request already has, without computing it: reading a lazy
    ``request.user`` that nothing used would cost a session and a user query (and fail while
    the database is down)."""
    value = request.__dict__.get(name)
    if isinstance(value, SimpleLazyObject):
        wrapped = value._wrapped  # Django's own "not yet evaluated" marker
        return None if wrapped is empty else wrapped
    return value


def request_fields(request: HttpRequest, response: HttpResponse, seconds: float) -> dict[str, Any]:
    user = _evaluated(request, "user")
    agency = _evaluated(request, "agency")
    partner = _evaluated(request, "partner")
    match = getattr(request, "resolver_match", None)
    return {
        "request_id": getattr(request, "request_id", ""),
        "method": request.method,
        "path": request.path,
        "route": getattr(match, "route", None),
        "status": response.status_code,
        "duration_ms": round(seconds * 1000, 1),
        "user_id": user.pk if getattr(user, "is_authenticated", False) else None,
        "client_id": partner.pk if partner is not None else None,
        "agency_id": agency.pk if agency is not None else None,
    }


class RequestLogMiddleware:
    """Just inside RequestIdMiddleware, so the time covers every other middleware. Health
    probes that succeed are not logged (every few seconds from each load balancer)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        if not (request.path_info.startswith("/health/") and response.status_code == 200):
            fields = request_fields(request, response, time.perf_counter() - started)
            logger.info("request", extra=fields)
        return response
