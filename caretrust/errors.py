"""Error answers: styled pages in the browser, problem documents under /api/.

The same page answers a 404 whether the thing asked for does not exist or the agency may not
see it: it names nothing from the request, so the two are byte for byte the same. Django's
debug pages (which list every URL and setting) appear only when a developer asks for them
with ``DEBUG_ERROR_PAGES=true``; ``make run``'s DEBUG alone does not show them.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from django.conf import settings
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from caretrust.ops.fragment import fragment_response
from caretrust.ops.outage import is_database_unavailable, unavailable

logger = logging.getLogger("django.request")

PROBLEM_TYPE_BASE = "https://caretrust.example/problems/"

_PAGES = {
    400: ("400.html", "Bad request", "malformed-request", "The request could not be understood."),
    403: ("403.html", "Forbidden", "forbidden", "You may not do this."),
    404: ("404.html", "Not found", "not-found", "Not found."),
    429: ("429.html", "Too many requests", "rate-limited", "Too many requests: try again soon."),
    500: ("500.html", "Server error", "error", "Something went wrong on our side."),
}

# An htmx request's 404 is a part of a page that has gone (a section, a panel): say what may
# have happened. The same words whatever the reason, as for every 404.
_FRAGMENT_DEFAULTS = {
    404: "This is no longer there for you: it was removed, or is no longer shared with your "
    "agency. Reload the page.",
}


def wants_problem(request: HttpRequest) -> bool:
    """Partner systems get problem documents, whatever went wrong and wherever."""
    return request.path.startswith("/api/")


def error_response(request: HttpRequest, status: int, *, detail: str = "") -> HttpResponse:
    """The answer for ``status``: a problem document under /api/, the message alone to an htmx
    request, else the styled page. ``detail`` (a 403's reason, say) is shown except on a 404."""
    template, title, kind, default = _PAGES[status]
    if wants_problem(request):
        body: dict[str, Any] = {
            "type": PROBLEM_TYPE_BASE + kind,
            "title": title,
            "status": status,
            "detail": (detail if status != 404 else "") or default,
        }
        rid = getattr(request, "request_id", "")
        if rid:
            body["request_id"] = rid
        return JsonResponse(body, status=status, content_type="application/problem+json")
    if getattr(request, "htmx", False):
        return fragment_response(
            request,
            status,
            (detail if status != 404 else "") or _FRAGMENT_DEFAULTS.get(status, default),
        )
    context = {"detail": detail if status != 404 else ""}
    return render(request, template, context, status=status)


def status_for(exc: BaseException) -> int | None:
    """The status an exception a view raised stands for (None: an unexpected error)."""
    if isinstance(exc, Http404):
        return 404
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, BadRequest | SuspiciousOperation):
        return 400
    return None


def reason_of(exc: BaseException) -> str:
    """A PermissionDenied's message is written for the user (services raise them so)."""
    return str(exc) if isinstance(exc, PermissionDenied) else ""


def no_such_page(request: HttpRequest) -> HttpResponse:
    """The last URL pattern: whatever no other pattern matched."""
    raise Http404


# Django's handlers, for DEBUG off (caretrust/urls.py names them).
def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    return error_response(request, 400)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    return error_response(request, 403, detail=reason_of(exception))


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return error_response(request, 404)


def server_error(request: HttpRequest) -> HttpResponse:
    # Django calls this inside the except of the failed request: a database that went away
    # (in a middleware's query, or at COMMIT) is 503 with Retry-After, not a 500.
    if is_database_unavailable(sys.exc_info()[1]):
        return unavailable(request)
    return error_response(request, 500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return error_response(
        request,
        403,
        detail="The form had expired or came from somewhere else. Go back, reload the page "
        "and try again.",
    )


class ErrorPagesMiddleware:
    """With DEBUG on (``make run``) and no ``DEBUG_ERROR_PAGES``, answer a view's 404, 403 and
    unexpected errors with the same pages production shows, instead of Django's debug pages.
    Under /api/ an unexpected error is a 500 problem document with the request id, DEBUG or
    not. The error is logged with its traceback either way."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response: HttpResponse = self.get_response(request)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_database_unavailable(exception):
            return unavailable(request)
        status = status_for(exception)
        debug_pages = settings.DEBUG and settings.DEBUG_ERROR_PAGES
        if status is None:
            if debug_pages and not wants_problem(request):
                return None  # Django's debug page, asked for
            if not settings.DEBUG and not wants_problem(request):
                return None  # Django logs it and calls server_error: the same page
            logger.error(
                "Internal Server Error: %s",
                request.path,
                exc_info=exception,
                extra={"status_code": 500, "request": request},
            )
            return error_response(request, 500)
        if debug_pages or not settings.DEBUG:
            return None
        return error_response(request, status, detail=reason_of(exception))
