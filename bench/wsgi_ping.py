"""Benchmark only (bench/api_load.py, phase C): caretrust's WSGI application with the
bench-only urlconf bench.urls_ping, which adds GET /bench/ping/ (a view that touches no
database) in front of all of caretrust's own URLs. Every middleware still runs.

Serve it with ``gunicorn bench.wsgi_ping:application`` from the repository root.
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "caretrust.settings")

import django
from django.conf import settings

django.setup()
settings.ROOT_URLCONF = "bench.urls_ping"

from caretrust.wsgi import application  # noqa: E402

__all__ = ["application"]
