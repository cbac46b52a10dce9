"""An htmx request's refusal or error: the message alone, for htmx to swap where the answer
would have gone (base.html's htmx-config swaps 4xx and 5xx).

A whole error page would not fit in an autosave's status line or a panel, and an answer left
unswapped would leave the person typing with no sign that nothing was saved. Used by the
error pages (caretrust.errors), the NUL guard and the database-outage answer, so it renders
without the request's context processors and needs no database.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.template import loader

NOT_SAVED = " What you last typed was not saved: copy it before you reload the page."


def fragment_response(request: HttpRequest, status: int, message: str) -> HttpResponse:
    if request.method != "GET":
        message += NOT_SAVED
    rid = getattr(request, "request_id", "")
    if status >= 500 and rid:
        message += f" If it goes on, give the IT service desk the reference {rid}."
    html = loader.render_to_string("includes/refused_fragment.html", {"detail": message})
    return HttpResponse(html, status=status)
