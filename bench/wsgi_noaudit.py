"""Benchmark only (bench/api_load.py, phase B): caretrust's WSGI application with the audit
trail switched off, to measure what auditing costs a request.

It refuses to load unless CARETRUST_BENCH_AUDIT=off is set, so it cannot be served by mistake;
the application itself is unchanged (caretrust.wsgi still audits every read). Serve it with
``gunicorn bench.wsgi_noaudit:application`` from the repository root.
"""

from __future__ import annotations

import os
from typing import Any

if os.environ.get("CARETRUST_BENCH_AUDIT") != "off":
    raise RuntimeError(
        "bench.wsgi_noaudit switches auditing off and is for benchmarks only; set "
        "CARETRUST_BENCH_AUDIT=off to use it. Serve caretrust.wsgi:application otherwise."
    )

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "caretrust.settings")

import django

django.setup()

from caretrust.audit import services as audit_services  # noqa: E402


def _no_audit(*args: Any, **kwargs: Any) -> None:
    """Stands in for caretrust.audit.services.record and .prepare: writes nothing, takes no
    lock. With prepare() answering None, a read that would write its audit row in its own
    statement (audit.along_with) runs as a plain read."""
    return None


# Callers use ``audit.record(...)`` and ``audit.prepare(...)`` through the module, so replacing
# the attributes is enough.
audit_services.record = _no_audit  # type: ignore[assignment]
audit_services.prepare = _no_audit  # type: ignore[assignment]

from caretrust.wsgi import application  # noqa: E402

__all__ = ["application"]
