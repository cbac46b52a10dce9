"""While PostgreSQL is unavailable (a restart, a failover, a network fault) requests answer
503 with Retry-After, never a 500: a problem document in the API, a plain "service
unavailable, try again" page in the browser.

Nothing is half-written: every request's writes are one transaction (ATOMIC_REQUESTS), which
PostgreSQL rolls back when the connection is cut. Django closes a connection that raised
(``close_if_unusable_or_obsolete`` at the end of the request) and checks a kept one before
reusing it (``conn_health_checks``), so once the database is back the next request gets a
fresh connection: the app recovers without being restarted.

Called from each place a database error can surface: DRF's exception handler (an API view's
query), ``caretrust.errors``' middleware (a page view's query) and its ``handler500`` (a
middleware's query, such as the session or the active agency, or a failed COMMIT).
"""

from __future__ import annotations

import json
import logging

import psycopg
from django import db
from django.http import HttpRequest, HttpResponse
from django.template import loader

from caretrust.ops.fragment import fragment_response

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
PROBLEM_TYPE = "https://caretrust.example/problems/"

# SQLSTATEs that mean "the server is not there for you now": class 08 (connection exception),
# 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now (starting or stopping).
_UNAVAILABLE_STATES = ("57P01", "57P02", "57P03")


def is_database_unavailable(exc: BaseException | None) -> bool:
    """Whether ``exc`` says the database cannot be reached, as opposed to a query's own error
    (a constraint, a bad value), which stays what it is."""
    if not isinstance(exc, db.OperationalError | db.InterfaceError):
        return False
    if isinstance(exc, db.InterfaceError):
        return True  # "connection already closed": the server went away under us
    cause = exc.__cause__
    if not isinstance(cause, psycopg.Error):
        return True  # raised by Django or psycopg before the server said anything
    state = cause.sqlstate
    return state is None or state.startswith("08") or state in _UNAVAILABLE_STATES


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(("/api/", "/o/"))


def unavailable_problem(request: HttpRequest) -> HttpResponse:
    body = {
        "type": PROBLEM_TYPE + "service-unavailable",
        "title": "Service unavailable",
        "status": 503,
        "detail": "The service is briefly unavailable and nothing was changed. Retry the "
        f"request after {RETRY_AFTER_SECONDS} seconds (with the same Idempotency-Key for a "
        "POST).",
    }
    rid = getattr(request, "request_id", "")
    if rid:
        body["request_id"] = rid
    response = HttpResponse(json.dumps(body), status=503, content_type="application/problem+json")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def unavailable_page(request: HttpRequest) -> HttpResponse:
    html = loader.get_template("503.html").render({"retry_after": RETRY_AFTER_SECONDS})
    response = HttpResponse(html, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def unavailable(request: HttpRequest) -> HttpResponse:
    logger.warning("database unavailable: answered %s %s with 503", request.method, request.path)
    if _is_api(request):
        return unavailable_problem(request)
    if getattr(request, "htmx", False):
        response = fragment_response(
            request,
            503,
            f"The service is briefly unavailable: try again in {RETRY_AFTER_SECONDS} seconds.",
        )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return unavailable_page(request)
