"""The standard cast, after healthchecks' Alice, Bob and Charlie:

- ``council`` holds case files; ``carol`` is a care manager there.
- ``hospital`` is an agency the council may come to share with; ``nina`` is a nurse there.
- ``outsider_agency`` and ``oscar`` (an outsider) must never see anything of the others'.
- ``dual`` works for both the council and the hospital.

``audit_flushable`` is for modules whose tests commit (``live_server``, ``transactional_db``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from caretrust.directory import services as directory
from caretrust.directory.models import AgencyKind, Role
from tests.factories import AgencyFactory, CaseFileFactory, PersonFactory, UserFactory


@pytest.fixture
def council(db: Any) -> Any:
    return AgencyFactory(
        name="Calderbridge Council Adult Social Care", slug="council", kind=AgencyKind.COUNCIL_ASC
    )


@pytest.fixture
def hospital(db: Any) -> Any:
    return AgencyFactory(
        name="Calderbridge Hospitals NHS Trust", slug="hospital", kind=AgencyKind.ACUTE_TRUST
    )


@pytest.fixture
def outsider_agency(db: Any) -> Any:
    return AgencyFactory(
        name="Westvale Community Health", slug="westvale", kind=AgencyKind.COMMUNITY_HEALTH
    )


def _staff(username: str, agency: Any, role: str) -> Any:
    user = UserFactory(username=username)
    directory.add_membership(user=user, agency=agency, role=role)
    return user


@pytest.fixture
def carol(council: Any) -> Any:
    return _staff("carol", council, Role.CARE_MANAGER)


@pytest.fixture
def nina(hospital: Any) -> Any:
    return _staff("nina", hospital, Role.NURSE)


@pytest.fixture
def oscar(outsider_agency: Any) -> Any:
    return _staff("oscar", outsider_agency, Role.OCCUPATIONAL_THERAPIST)


@pytest.fixture
def dual(council: Any, hospital: Any) -> Any:
    user = _staff("dual", council, Role.OCCUPATIONAL_THERAPIST)
    directory.add_membership(user=user, agency=hospital, role=Role.OCCUPATIONAL_THERAPIST)
    return user


@pytest.fixture
def council_file(council: Any, carol: Any) -> Any:
    """A person with an open council case file led by carol."""
    return CaseFileFactory(agency=council, lead_worker=carol, person=PersonFactory())


@pytest.fixture
def hospital_file(hospital: Any, nina: Any) -> Any:
    return CaseFileFactory(agency=hospital, lead_worker=nina, person=PersonFactory())


def signed_in(user: Any) -> Client:
    """A client with a session for the user (the sign-in form itself is tested in
    tests/directory/test_login.py)."""
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.fixture
def carol_client(carol: Any) -> Client:
    return signed_in(carol)


@pytest.fixture
def oscar_client(oscar: Any) -> Client:
    return signed_in(oscar)


@pytest.fixture(scope="module")
def audit_flushable(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """For modules whose tests commit: let the transactional flush empty the audit trail.

    ``transactional_db`` (which ``live_server`` needs) cleans up after each test by TRUNCATE
    of every table; the audit tables' TRUNCATE triggers (audit migrations 0002 and 0006)
    refuse that, failing the teardown. They are suspended in the test database for the module
    only, and restored after the last flush: a module-scoped fixture outlives every
    function-scoped teardown. The UPDATE/DELETE triggers stay on throughout.
    """
    _alter_audit_truncate_trigger("DISABLE", django_db_blocker)
    yield
    _alter_audit_truncate_trigger("ENABLE", django_db_blocker)


def _alter_audit_truncate_trigger(verb: str, django_db_blocker: Any) -> None:
    with django_db_blocker.unblock():
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE audit_auditevent {verb} TRIGGER audit_no_truncate")
            cursor.execute(
                f"ALTER TABLE audit_auditchainhead {verb} TRIGGER audit_head_no_truncate"
            )
        # Close it, or it outlives the session and blocks dropping the test database: once
        # Playwright has run, this is not always the connection pytest-django closes.
        connection.close()
