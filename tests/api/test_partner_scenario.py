"""The journey the API exists for, end to end through HTTP only: the hospital's system
registers a patient and records their consent to share with the council; the council's
system can then read them; when the consent is withdrawn, the council's very next request
finds nothing. The audit trail tells the story in order."""

from __future__ import annotations

from caretrust.audit.models import Action, AuditEvent
from caretrust.audit.services import verify_chain
from tests.api.conftest import PERSON_BODY, assert_problem, consent_body, post_json


def test_register_share_read_withdraw(hospital_partner, council_partner):
    hospital, council = hospital_partner.api, council_partner.api
    start = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0

    # The hospital registers a patient: its own case file is opened with them.
    registered = post_json(hospital, "/api/v1/persons/", PERSON_BODY, HTTP_IDEMPOTENCY_KEY="p-1")
    assert registered.status_code == 201
    person_id = registered.json()["id"]
    (hospital_file,) = hospital.get("/api/v1/case-files/", {"person": person_id}).json()["results"]
    assert hospital_file["agency"] == "hospital"

    # Before any consent, the council cannot find them, by id or by NHS number.
    assert_problem(council.get(f"/api/v1/persons/{person_id}/"), 404)
    assert council.get("/api/v1/persons/", {"nhs_number": "999 000 0018"}).json()["results"] == []

    # The patient consents to sharing their demographics with the council.
    recorded = post_json(
        hospital,
        "/api/v1/sharing-bases/",
        consent_body(person_id, "council", data_classes=["demographics"]),
        HTTP_IDEMPOTENCY_KEY="c-1",
    )
    assert recorded.status_code == 201
    basis_id = recorded.json()["id"]

    # The council's system reads the person and sees the hospital's file among its case files.
    person = council.get(f"/api/v1/persons/{person_id}/")
    assert person.status_code == 200
    assert person.json()["nhs_number"] == "9990000018"
    files = council.get("/api/v1/case-files/").json()["results"]
    assert [(f["id"], f["agency"], f["visible_data_classes"]) for f in files] == [
        (hospital_file["id"], "hospital", ["demographics"])
    ]
    found = council.get("/api/v1/persons/", {"nhs_number": "999 000 0018"}).json()["results"]
    assert [p["id"] for p in found] == [person_id]
    # The council sees the basis that lets it see, but it is not the council's to withdraw.
    assert council.get(f"/api/v1/sharing-bases/{basis_id}/").json()["status"] == "active"
    assert_problem(
        post_json(council, f"/api/v1/sharing-bases/{basis_id}/withdraw/", {"reason": "Ours?"}),
        403,
    )

    # The patient withdraws their consent.
    withdrawn = post_json(
        hospital,
        f"/api/v1/sharing-bases/{basis_id}/withdraw/",
        {"reason": "The patient withdrew consent by phone."},
    )
    assert withdrawn.status_code == 200
    assert withdrawn.json()["status"] == "withdrawn"

    # The council's very next request finds nothing.
    gone = council.get(f"/api/v1/persons/{person_id}/")
    assert_problem(gone, 404)
    assert council.get("/api/v1/case-files/").json()["results"] == []
    assert_problem(council.get(f"/api/v1/case-files/{hospital_file['id']}/"), 404)

    # The audit trail tells the story, in order, under each client's service user.
    hospital_user = hospital_partner.partner.service_user
    council_user = council_partner.partner.service_user
    story = [
        (e.actor_id, e.action)
        for e in AuditEvent.objects.filter(id__gt=start, person_id=person_id).order_by("id")
        if e.action != Action.PERSON_VIEWED or e.actor_id == council_user.pk
    ]
    h, c = hospital_user.pk, council_user.pk
    assert story == [
        (h, Action.PERSON_CREATED),
        (h, Action.CASEFILE_OPENED),
        (h, Action.PERSON_TAKEN_ON_NEW),
        (c, Action.ACCESS_DENIED),
        (h, Action.BASIS_RECORDED),
        (h, Action.PERMISSIONS_CHANGED),
        (c, Action.PERSON_VIEWED),  # GET person
        (c, Action.PERSON_VIEWED),  # GET the sharing basis
        (h, Action.BASIS_STATUS_CHANGED),
        (h, Action.PERMISSIONS_CHANGED),
        (c, Action.ACCESS_DENIED),
    ]
    withdrawal = AuditEvent.objects.get(action=Action.BASIS_STATUS_CHANGED)
    assert withdrawal.detail["reason"] == "The patient withdrew consent by phone."
    assert withdrawal.request_id == withdrawn["X-Request-ID"]
    denial = AuditEvent.objects.get(request_id=gone["X-Request-ID"])
    assert (denial.action, denial.actor_id) == (Action.ACCESS_DENIED, c)
    assert denial.detail["reason"] == "not_permitted"
    # Searches and lists name the person in their detail, not in person_id.
    council_lists = AuditEvent.objects.filter(
        id__gt=start, actor_id=c, action=Action.CASELOAD_LISTED
    ).order_by("id")
    assert [e.detail["persons"] for e in council_lists] == [[person_id], []]
    assert list(verify_chain()) == []
