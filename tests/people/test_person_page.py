"""A person's page, and the caseload: a worker sees their agency's people; anyone else's
answer is the same 404 as for a person who does not exist."""

import re
import uuid

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from caretrust.audit.models import Action, AuditEvent
from caretrust.directory import services as directory
from caretrust.directory.models import Role
from caretrust.people.validators import today_in_london
from tests.factories import CaseFileFactory, PersonFactory, UserFactory

# Headers that differ between any two responses, whatever was asked for.
PER_RESPONSE_HEADERS = {"date", "x-request-id", "set-cookie", "content-length"}


def _meaningful_headers(response):
    return {
        k.lower(): v for k, v in response.headers.items() if k.lower() not in PER_RESPONSE_HEADERS
    }


def test_a_worker_sees_the_page_of_a_person_their_agency_has_a_file_on(carol_client, council_file):
    person = council_file.person
    response = carol_client.get(reverse("person_detail", args=[person.pk]))

    page = response.content.decode()
    assert response.status_code == 200
    assert escape(person.full_name) in page
    assert re.fullmatch(r"999 \d{3} \d{4}", person.nhs_number_display)
    assert person.nhs_number_display in page
    assert "Calderbridge Council Adult Social Care" in page


def test_viewing_a_person_is_audited(carol_client, carol, council, council_file):
    carol_client.get(reverse("person_detail", args=[council_file.person.pk]))

    event = AuditEvent.objects.get(action=Action.PERSON_VIEWED)
    assert event.person_id == council_file.person.pk
    assert (event.actor_id, event.agency_id) == (carol.pk, council.pk)


def test_a_person_the_agency_cannot_see_answers_exactly_like_one_that_does_not_exist(
    carol_client, hospital_file
):
    hidden = carol_client.get(reverse("person_detail", args=[hospital_file.person.pk]))
    missing = carol_client.get(reverse("person_detail", args=[uuid.uuid4()]))
    garbage = carol_client.get(reverse("person_detail", args=["not-a-uuid"]))

    assert hidden.status_code == missing.status_code == garbage.status_code == 404
    assert hidden.content == missing.content == garbage.content
    assert _meaningful_headers(hidden) == _meaningful_headers(missing)
    assert _meaningful_headers(hidden) == _meaningful_headers(garbage)
    assert str(hospital_file.person.pk) not in hidden.content.decode()


def test_the_audit_tells_a_hidden_person_from_a_missing_one(carol_client, carol, hospital_file):
    hidden_id = hospital_file.person.pk
    missing_id = uuid.uuid4()
    carol_client.get(reverse("person_detail", args=[hidden_id]))
    carol_client.get(reverse("person_detail", args=[missing_id]))
    carol_client.get(reverse("person_detail", args=["not-a-uuid"]))

    denied = list(AuditEvent.objects.filter(action=Action.ACCESS_DENIED).order_by("id"))
    assert [e.detail["reason"] for e in denied] == ["not_permitted", "not_found", "not_found"]
    assert [e.detail["id"] for e in denied] == [str(hidden_id), str(missing_id), "not-a-uuid"]
    assert [e.person_id for e in denied] == [hidden_id, None, None]
    assert all(e.actor_id == carol.pk for e in denied)
    assert not AuditEvent.objects.filter(action=Action.PERSON_VIEWED).exists()


def test_an_outsider_gets_404_for_a_councils_person(oscar_client, council_file):
    response = oscar_client.get(reverse("person_detail", args=[council_file.person.pk]))

    assert response.status_code == 404
    assert escape(council_file.person.full_name) not in response.content.decode()
    assert AuditEvent.objects.get(action=Action.ACCESS_DENIED).detail["reason"] == "not_permitted"


def test_a_signed_out_visitor_is_sent_to_sign_in(client, council_file):
    response = client.get(reverse("person_detail", args=[council_file.person.pk]))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def _open_files(count, *, agency, worker, prefix):
    return [
        CaseFileFactory(
            agency=agency,
            lead_worker=worker,
            person=PersonFactory(given_name=f"{prefix}{chr(65 + n)}", family_name="Caseload"),
        )
        for n in range(count)
    ]


def test_the_caseload_lists_only_the_workers_own_open_files(carol_client, council, carol):
    mine = _open_files(2, agency=council, worker=carol, prefix="Mine")
    closed = CaseFileFactory(
        agency=council,
        lead_worker=carol,
        person=PersonFactory(given_name="Closedfile", family_name="Caseload"),
        closed_on=today_in_london(),
    )
    sam = UserFactory(username="sam")
    directory.add_membership(user=sam, agency=council, role=Role.SOCIAL_WORKER)
    _open_files(1, agency=council, worker=sam, prefix="Colleagues")

    response = carol_client.get(reverse("caseload"))

    page = response.content.decode()
    assert response.status_code == 200
    assert "2 open case files" in page
    for case_file in mine:
        assert reverse("person_detail", args=[case_file.person.pk]) in page
    assert reverse("person_detail", args=[closed.person.pk]) not in page
    assert "Closedfile" not in page
    assert "Colleagues" not in page


def test_the_caseload_leaves_out_files_of_another_agency(carol_client, carol, hospital):
    # Even a file naming carol as lead is not hers to list while she acts for the council.
    _open_files(1, agency=hospital, worker=carol, prefix="Elsewhere")

    page = carol_client.get(reverse("caseload")).content.decode()
    assert "Elsewhere" not in page
    assert "You lead no open case files" in page


def test_listing_the_caseload_is_audited_with_the_files_shown(carol_client, carol, council):
    mine = _open_files(2, agency=council, worker=carol, prefix="Mine")
    carol_client.get(reverse("caseload"))

    event = AuditEvent.objects.get(action=Action.CASELOAD_LISTED)
    assert event.actor_id == carol.pk
    assert sorted(event.detail["case_files"]) == sorted(str(f.pk) for f in mine)


def test_the_caseload_takes_the_same_number_of_queries_for_2_or_15_files(
    carol_client, council, carol
):
    _open_files(2, agency=council, worker=carol, prefix="Few")
    carol_client.get(reverse("caseload"))  # settle the session's active agency first
    with CaptureQueriesContext(connection) as with_two:
        carol_client.get(reverse("caseload"))

    _open_files(13, agency=council, worker=carol, prefix="More")
    with CaptureQueriesContext(connection) as with_fifteen:
        response = carol_client.get(reverse("caseload"))

    assert "15 open case files" in response.content.decode()
    assert len(with_fifteen) == len(with_two)
