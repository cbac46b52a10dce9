"""Which database errors mean "unavailable, retry" (503) and which stay a query's own error."""

from __future__ import annotations

import psycopg
import pytest
from django import db
from psycopg import errors

from caretrust.ops.outage import is_database_unavailable, unavailable


def wrapped(django_class: type[Exception], cause: Exception | None) -> Exception:
    exc = django_class(str(cause))
    exc.__cause__ = cause
    return exc


@pytest.mark.parametrize(
    "cause",
    [
        errors.AdminShutdown("terminating connection due to administrator command"),
        errors.CannotConnectNow("the database system is shutting down"),
        errors.ConnectionFailure("connection failure"),
        psycopg.OperationalError("connection refused"),  # no SQLSTATE: the client's own
        None,
    ],
)
def test_connection_failures_are_unavailable(cause):
    assert is_database_unavailable(wrapped(db.OperationalError, cause))


def test_a_closed_connection_is_unavailable():
    assert is_database_unavailable(db.InterfaceError("connection already closed"))


@pytest.mark.parametrize(
    ("django_class", "cause"),
    [
        (db.OperationalError, errors.DeadlockDetected("deadlock detected")),
        (db.OperationalError, errors.QueryCanceled("canceling statement due to timeout")),
        (db.IntegrityError, errors.UniqueViolation("duplicate key")),
        (db.DataError, errors.NumericValueOutOfRange("out of range")),
    ],
)
def test_a_querys_own_errors_are_not(django_class, cause):
    assert not is_database_unavailable(wrapped(django_class, cause))


def test_other_exceptions_are_not():
    assert not is_database_unavailable(ValueError("x"))
    assert not is_database_unavailable(None)


def test_an_htmx_request_is_told_in_a_fragment_when_to_retry(rf):
    """An autosave during an outage: the status line says so (no database needed to say it)."""
    request = rf.post("/sections/x/", HTTP_HX_REQUEST="true")
    request.htmx = True

    response = unavailable(request)

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    body = response.content.decode()
    assert "<html" not in body and "briefly unavailable" in body and "not saved" in body
