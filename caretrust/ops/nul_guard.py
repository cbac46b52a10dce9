"""A NUL (character 0) in a form or a query string is refused with a 400 page that says so.

PostgreSQL cannot hold a NUL in text or JSON, nor even compare one: any value that reaches a
query with one fails there, as a server error. No keyboard types it, so it comes only from a
tampered request or pasted binary; Django's form fields already refuse it, and this is the
one rule for every view that reads ``request.POST`` or ``request.GET`` itself, now and in
future. The partner API is left to its serializers, whose 400s name the field.

An htmx request (an autosave, say) gets the message alone, which htmx swaps where the answer
would have gone (base.html lets 400s swap): the whole error page would not fit there, and an
unswapped answer would leave the person typing with no sign that nothing was saved.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render

from caretrust.errors import error_response, wants_problem

MESSAGE = (
    "The form contained a character that cannot be stored: a NUL (character 0), which no "
    "keyboard types. Go back, retype the text (or paste it as plain text) and send it again."
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
            if getattr(request, "htmx", False):
                return render(
                    request, "includes/input_refused.html", {"detail": MESSAGE}, status=400
                )
            return error_response(request, 400, detail=MESSAGE)
        return self.get_response(request)
