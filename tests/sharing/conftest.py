"""Shared fixtures for the sharing suite: consent recorded by the council for the hospital, a
Caldicott guardian, case notes, and small helpers for reading the audit trail."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from caretrust.audit.models import AuditEvent
from caretrust.directory import services as directory
from caretrust.directory.models import Role
from caretrust.people.models import CaseNote, DataClass
from caretrust.people.services import write_note
from caretrust.sharing import services as sharing
from caretrust.sharing.models import Evidence, Grantor, Purpose, SharingBasis
from tests.conftest import signed_in
from tests.factories import UserFactory, share

# Headers whose values differ between any two responses, whatever was asked for.
PER_RESPONSE_HEADERS = frozenset({"date", "x-request-id", "set-cookie"})


def refuse(
    person: Any, *, holder: Any, recipient: Any, by: Any, classes: tuple[str, ...]
) -> SharingBasis:
    """The person's refusal to share ``classes`` of ``holder``'s file with ``recipient``."""
    return sharing.record_refusal(
        person=person,
        holding_agency=holder,
        recipient_agency=recipient,
        data_classes=list(classes),
        purpose=Purpose.DIRECT_CARE,
        grantor=Grantor.PERSON,
        grantor_name="The person",
        evidence=Evidence.WRITTEN,
        by=by,
    )


def note_in(
    case_file: Any,
    *,
    by: Any,
    text: str,
    data_class: str = DataClass.CLINICAL_NOTES,
    restricted: bool = False,
) -> CaseNote:
    """A note written through the service by a member of the holding agency."""
    return write_note(
        agency=case_file.agency,
        by=by,
        case_file=case_file.pk,
        data_class=data_class,
        text=text,
        restricted=restricted,
    )


def staff(agency: Any, role: str, username: str, **fields: Any) -> Any:
    user = UserFactory(username=username, **fields)
    directory.add_membership(user=user, agency=agency, role=role)
    return user


def events(action: str, **filters: Any) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, **filters).order_by("id"))


def comparable_headers(response: Any) -> dict[str, str]:
    """Every header except those that differ between any two responses."""
    return {
        k.lower(): v for k, v in response.headers.items() if k.lower() not in PER_RESPONSE_HEADERS
    }


@pytest.fixture
def nina_client(nina: Any) -> Client:
    return signed_in(nina)


@pytest.fixture
def consent_to_hospital(council_file: Any, council: Any, hospital: Any, carol: Any) -> SharingBasis:
    """carol records the person's consent to share the council's file (demographics only)
    with the hospital."""
    return share(council_file.person, holder=council, recipient=hospital, by=carol)


@pytest.fixture
def grace(council: Any) -> Any:
    """The council's Caldicott guardian."""
    return staff(council, Role.CALDICOTT_GUARDIAN, "grace", email="grace.guardian@council.example")


@pytest.fixture
def grace_client(grace: Any) -> Client:
    return signed_in(grace)
