"""A refused request rolls back everything it wrote, and its denial is still recorded: the
denial is collected during the request (audit.record_denial) and written by DenialMiddleware
after the request's own transaction has ended, in a transaction of its own."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from caretrust.audit import services as audit
from caretrust.audit.models import Action, AuditEvent
from caretrust.sharing.models import Evidence, Grantor, Purpose
from caretrust.sharing.services import record_consent
from tests.api.conftest import audit_rows_for, make_partner, post_json
from tests.conftest import signed_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def shared_with_hospital(council_file, council, hospital, carol):
    """The council's file, shared with the hospital: the hospital sees the person but holds
    no file of its own on them."""
    record_consent(
        person=council_file.person,
        holding_agency=council,
        recipient_agency=hospital,
        data_classes=["demographics"],
        purpose=Purpose.DIRECT_CARE,
        grantor=Grantor.PERSON,
        grantor_name="The person",
        evidence=Evidence.VERBAL,
        by=carol,
    )
    return council_file.person


def test_a_denial_outside_a_request_is_written_at_once(council, carol):
    audit.record_denial(actor=carol, agency=council, what="person", reason="not_found")

    (row,) = AuditEvent.objects.filter(action=Action.ACCESS_DENIED)
    assert row.detail == {"object": "person", "id": "", "reason": "not_found"}


def test_a_page_refused_after_a_read_keeps_only_its_denial(nina, shared_with_hospital):
    """The consent form reads the person (audited), then refuses: the hospital holds no file
    to share. The read's row goes with the rolled-back request; the denial stays."""
    client = signed_in(nina)
    response = client.get(reverse("record_basis", args=[shared_with_hospital.pk, "consent"]))

    assert response.status_code == 403
    rows = audit_rows_for(response)
    assert [(r.action, r.detail["reason"]) for r in rows] == [
        (Action.ACCESS_DENIED, "no_own_case_file")
    ]
    assert rows[0].person_id == shared_with_hospital.pk


def test_an_api_call_refused_after_a_read_keeps_only_its_denial(
    hospital, shared_with_hospital, council
):
    response = post_json(
        make_partner(hospital, name="Hospital EPR").api,
        "/api/v1/sharing-bases/",
        {
            "person": str(shared_with_hospital.pk),
            "recipient_agency": council.slug,
            "data_classes": ["demographics"],
            "purpose": "direct_care",
            "provision": "permit",
            "grantor": "person",
            "grantor_name": "The person",
            "evidence": "verbal",
        },
    )

    assert response.status_code == 403
    rows = audit_rows_for(response)
    assert [(r.action, r.detail["reason"]) for r in rows] == [
        (Action.ACCESS_DENIED, "no_own_case_file")
    ]


def test_a_404_writes_its_denial_after_the_request_rolled_back(carol_client):
    missing = uuid.uuid4()
    response = carol_client.get(reverse("person_detail", args=[missing]))

    assert response.status_code == 404
    (row,) = audit_rows_for(response)
    assert (row.action, row.detail["id"], row.detail["reason"]) == (
        Action.ACCESS_DENIED,
        str(missing),
        "not_found",
    )
    assert list(audit.verify_chain()) == []


def test_a_denial_written_with_plain_record_inside_a_request_survives_the_refusal(
    carol_client, monkeypatch
):
    """An app that audits its denial with audit.record(ACCESS_DENIED) and then raises gets the
    same deferral as record_denial: the refusal's rollback does not take the row with it."""
    from django.http import Http404

    from caretrust.people import selectors

    def refuse(**kwargs):
        audit.record(Action.ACCESS_DENIED, actor=kwargs["user"], detail={"object": "x"})
        raise Http404

    monkeypatch.setattr(selectors, "caseload", refuse)
    response = carol_client.get(reverse("caseload"))

    assert response.status_code == 404
    (row,) = audit_rows_for(response)
    assert (row.action, row.detail) == (Action.ACCESS_DENIED, {"object": "x"})
