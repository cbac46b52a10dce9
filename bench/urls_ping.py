"""Benchmark only: caretrust's URLs plus GET /bench/ping/, a view that touches no database.

The view is excluded from ATOMIC_REQUESTS (which would otherwise open the request's database
connection and run the connection health check's ``SELECT 1``), so it measures Django, the
middleware stack and gunicorn alone. Without a session cookie the session and authentication
middleware do not touch the database either.
"""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.urls import include, path


@transaction.non_atomic_requests
def ping(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


urlpatterns = [
    path("bench/ping/", ping, name="bench-ping"),
    path("", include("caretrust.urls")),
]
