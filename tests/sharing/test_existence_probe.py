"""Probing for existence learns nothing: an id that exists but is not shared answers byte for
byte like an id that does not exist, for people, notes and sharing bases. Only the audit trail
tells the two apart."""

import uuid

import pytest
from django.urls import reverse

from caretrust.audit.models import Action
from tests.factories import CaseFileFactory, PersonFactory
from tests.sharing.conftest import PER_RESPONSE_HEADERS, comparable_headers, events, note_in, share

COMPARED_VALUES = ("Content-Type", "Content-Length", "Cache-Control", "X-Frame-Options", "Vary")


def _assert_indistinguishable(hidden, missing):
    assert {"content-type", "x-frame-options"} <= {k.lower() for k in hidden.headers}
    assert hidden.status_code == missing.status_code == 404
    assert hidden.content == missing.content
    assert set(hidden.headers) - PER_RESPONSE_HEADERS == set(missing.headers) - PER_RESPONSE_HEADERS
    assert {k.lower() for k in hidden.headers} - PER_RESPONSE_HEADERS == {
        k.lower() for k in missing.headers
    } - PER_RESPONSE_HEADERS
    for name in COMPARED_VALUES:
        assert hidden.headers.get(name) == missing.headers.get(name), name
    assert comparable_headers(hidden) == comparable_headers(missing)


@pytest.fixture
def probe(nina_client):
    """Settle nina's session first, so no probe is the one that sets the session cookie."""
    nina_client.get(reverse("caseload"))
    return nina_client


@pytest.fixture
def outsiders_basis(council_file, council, outsider_agency, carol):
    """A council basis that concerns only the outsider: nothing to do with the hospital."""
    return share(council_file.person, holder=council, recipient=outsider_agency, by=carol)


def test_an_unshared_person_answers_exactly_like_a_missing_one(probe, council_file):
    hidden = probe.get(reverse("person_detail", args=[council_file.person.pk]))
    missing = probe.get(reverse("person_detail", args=[uuid.uuid4()]))

    _assert_indistinguishable(hidden, missing)
    assert str(council_file.person.pk) not in hidden.content.decode()


def test_a_person_shared_elsewhere_answers_exactly_like_a_missing_one(
    probe, council_file, outsiders_basis
):
    hidden = probe.get(reverse("person_detail", args=[council_file.person.pk]))
    missing = probe.get(reverse("person_detail", args=[uuid.uuid4()]))

    _assert_indistinguishable(hidden, missing)


def test_an_unshared_note_answers_exactly_like_a_missing_one(probe, council_file, carol):
    note = note_in(council_file, by=carol, text="Seen at home; wound healing well.")

    hidden = probe.get(reverse("note_detail", args=[note.pk]))
    missing = probe.get(reverse("note_detail", args=[uuid.uuid4()]))
    garbage = probe.get(reverse("note_detail", args=["not-a-uuid"]))

    _assert_indistinguishable(hidden, missing)
    _assert_indistinguishable(hidden, garbage)


def test_a_note_in_a_class_not_shared_answers_exactly_like_a_missing_one(
    probe, council_file, carol, consent_to_hospital
):
    note = note_in(council_file, by=carol, text="Charging: full cost.", data_class="finance")

    hidden = probe.get(reverse("note_detail", args=[note.pk]))
    missing = probe.get(reverse("note_detail", args=[uuid.uuid4()]))

    _assert_indistinguishable(hidden, missing)


def test_a_basis_that_does_not_concern_the_hospital_answers_exactly_like_a_missing_one(
    probe, outsiders_basis
):
    def url(pk):
        return reverse("withdraw_basis", args=[pk])

    hidden_get = probe.get(url(outsiders_basis.pk))
    missing_get = probe.get(url(uuid.uuid4()))
    hidden_post = probe.post(url(outsiders_basis.pk), {"reason": "Probing for existence."})
    missing_post = probe.post(url(uuid.uuid4()), {"reason": "Probing for existence."})

    _assert_indistinguishable(hidden_get, missing_get)
    _assert_indistinguishable(hidden_post, missing_post)
    _assert_indistinguishable(hidden_get, hidden_post)


def test_a_withdrawn_basis_for_the_hospital_answers_like_a_missing_one(
    probe, carol, consent_to_hospital
):
    from caretrust.sharing.services import withdraw_basis

    withdraw_basis(
        basis=consent_to_hospital,
        reason="Consent withdrawn.",
        by=carol,
        acting_agency=consent_to_hospital.holding_agency,
    )

    hidden = probe.get(reverse("withdraw_basis", args=[consent_to_hospital.pk]))
    missing = probe.get(reverse("withdraw_basis", args=[uuid.uuid4()]))

    _assert_indistinguishable(hidden, missing)


def test_the_audit_tells_not_found_from_not_permitted_for_each_kind_of_object(
    probe, nina, council_file, carol, outsiders_basis
):
    note = note_in(council_file, by=carol, text="Seen at home.")
    missing_person, missing_note, missing_basis = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    probe.get(reverse("person_detail", args=[council_file.person.pk]))
    probe.get(reverse("person_detail", args=[missing_person]))
    probe.get(reverse("note_detail", args=[note.pk]))
    probe.get(reverse("note_detail", args=[missing_note]))
    probe.get(reverse("withdraw_basis", args=[outsiders_basis.pk]))
    probe.get(reverse("withdraw_basis", args=[missing_basis]))

    denied = events(Action.ACCESS_DENIED, actor_id=nina.pk)
    assert [(e.detail["object"], e.detail["id"], e.detail["reason"]) for e in denied] == [
        ("person", str(council_file.person.pk), "not_permitted"),
        ("person", str(missing_person), "not_found"),
        ("note", str(note.pk), "not_permitted"),
        ("note", str(missing_note), "not_found"),
        ("sharing_basis", str(outsiders_basis.pk), "not_permitted"),
        ("sharing_basis", str(missing_basis), "not_found"),
    ]
    assert denied[0].person_id == council_file.person.pk
    assert denied[1].person_id is None


def test_a_person_only_another_health_body_holds_answers_like_a_missing_one(
    probe, outsider_agency, oscar
):
    elsewhere = CaseFileFactory(agency=outsider_agency, lead_worker=oscar, person=PersonFactory())

    hidden = probe.get(reverse("person_detail", args=[elsewhere.person.pk]))
    missing = probe.get(reverse("person_detail", args=[uuid.uuid4()]))

    _assert_indistinguishable(hidden, missing)
