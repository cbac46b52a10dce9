"""A NUL (character 0) in a form or a query string is refused with a 400 page that says so.

PostgreSQL cannot hold a NUL in text or JSON, nor even compare one: any value that reaches a
query with one fails there, as a server error. No keyboard types it, so it comes only from a
tampered request or pasted binary; Django's form fields already refuse it, and this is the
one rule for every view that reads ``request.POST`` or ``request.GET`` itself, now and in
future. The partner API is left to its serializers, whose 400s name the field.

An htmx request (an autosave, say) gets the message alone (caretrust.ops.fragment).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, QueryDict

from caretrust.errors import error_response, wants_problem

MESSAGE = (
    "The form contained a character that cannot be stored: a NUL (character 0), which no "
    "keyboard types. Retype the text (or paste it as plain text) and send it again."
)


def _has_nul(data: QueryDict) -> bool:
    return any("\x00" in key or any("\x00" in v for v in values) for key, values in data.lists())


class NulInputMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not wants_problem(request) and (
            _has_nul(request.GET) or (request.method == "POST" and _has_nul(request.POST))
        ):
            return error_response(request, 400, detail=MESSAGE)
        return self.get_response(request)
