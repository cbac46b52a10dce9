"""Errors are pages in the NHS.UK look (problem documents under /api/), the same bytes for "not
found" and "not visible", and Django's debug pages only when a developer asks for them."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from caretrust.people import selectors
from tests.conftest import signed_in
from tests.factories import CaseFileFactory, PersonFactory

DEBUG_LEAKS = ("Using the URLconf", "Traceback", "DEBUG = True", "Request Method")


@pytest.fixture(params=[False, True], ids=["production", "make-run-debug"])
def debug(request, settings):
    """Both ways the app runs: DEBUG off, and make run's DEBUG on without DEBUG_ERROR_PAGES."""
    settings.DEBUG = request.param
    settings.DEBUG_ERROR_PAGES = False
    return request.param


def _assert_styled(response, status, heading):
    assert response.status_code == status
    page = response.content.decode()
    assert response["Content-Type"].startswith("text/html")
    assert "nhsuk-header" in page, "not the styled page"
    assert heading in page
    for leak in DEBUG_LEAKS:
        assert leak not in page


def test_a_person_not_visible_and_one_that_does_not_exist_get_the_same_bytes(
    debug, carol, outsider_agency, oscar
):
    hidden = CaseFileFactory(agency=outsider_agency, lead_worker=oscar, person=PersonFactory())
    client = signed_in(carol)

    not_visible = client.get(reverse("person_detail", args=[hidden.person.pk]))
    missing = client.get(reverse("person_detail", args=[uuid.uuid4()]))

    _assert_styled(not_visible, 404, "Page not found")
    assert not_visible.content == missing.content


def test_an_unknown_address_gets_the_styled_page_not_a_list_of_urls(debug, carol_client):
    _assert_styled(carol_client.get("/no/such/page/"), 404, "Page not found")


def test_a_refused_write_gets_the_styled_403_with_its_reason(
    debug, nina, council_file, council, hospital, carol
):
    from tests.factories import share

    share(council_file.person, holder=council, recipient=hospital, by=carol)

    response = signed_in(nina).post(
        reverse("note_create"),
        {"case_file": str(council_file.pk), "data_class": "clinical_notes", "text": "Visited."},
    )

    _assert_styled(response, 403, "You cannot do this")


def test_an_unexpected_error_gets_the_styled_500_page_with_a_reference(
    debug, carol_client, monkeypatch
):
    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(selectors, "caseload", broken)
    carol_client.raise_request_exception = False

    response = carol_client.get(reverse("caseload"))

    _assert_styled(response, 500, "Sorry, there is a problem with the service")
    assert response["X-Request-ID"] in response.content.decode()


def test_an_unexpected_error_in_the_api_is_a_problem_document_with_the_request_id(
    debug, carol_client, monkeypatch
):
    from caretrust.api import views

    def broken(self, request, *args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(views.PersonViewSet, "list", broken)
    carol_client.raise_request_exception = False

    response = carol_client.get("/api/v1/persons/?family_name=Smith")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 500
    assert body["request_id"] == response["X-Request-ID"]
    assert "a bug" not in response.content.decode()


def test_an_unknown_api_address_is_a_problem_document(debug, carol_client):
    response = carol_client.get("/api/v1/no-such-thing/")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["title"] == "Not found"


def test_a_developer_who_asks_gets_django_s_debug_page(settings, carol_client):
    settings.DEBUG = True
    settings.DEBUG_ERROR_PAGES = True

    response = carol_client.get("/no/such/page/")

    assert response.status_code == 404
    assert "Using the URLconf" in response.content.decode()


def test_an_api_error_is_a_problem_document_even_with_debug_pages_and_logs_its_traceback(
    settings, carol_client, monkeypatch, caplog
):
    """A partner system never gets an HTML page, even from a developer's machine; the
    traceback goes to the log with the request id, not to the client."""
    from caretrust.api import views

    settings.DEBUG = True
    settings.DEBUG_ERROR_PAGES = True

    def broken(self, request, *args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(views.PersonViewSet, "list", broken)
    carol_client.raise_request_exception = False

    response = carol_client.get("/api/v1/persons/?family_name=Smith")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/problem+json"
    assert "a bug" not in response.content.decode()
    logged = [r for r in caplog.records if r.levelname == "ERROR" and r.exc_info]
    assert logged and "a bug" in str(logged[-1].exc_info[1])


# An htmx request's answer goes into part of a page (an autosave's status line, a panel), and
# base.html's htmx-config swaps 4xx and 5xx: each error is the message alone, never a page.
HTMX = {"HTTP_HX_REQUEST": "true"}


def _assert_fragment(response, status, *words):
    assert response.status_code == status
    body = response.content.decode()
    assert "<html" not in body and "nhsuk-error-message" in body
    for word in words:
        assert word in body
    for leak in DEBUG_LEAKS:
        assert leak not in body
    return body


def test_an_htmx_404_is_the_message_alone_and_the_same_for_not_visible_and_missing(
    debug, carol, outsider_agency, oscar
):
    hidden = CaseFileFactory(agency=outsider_agency, lead_worker=oscar, person=PersonFactory())
    client = signed_in(carol)

    not_visible = client.get(reverse("person_detail", args=[hidden.person.pk]), **HTMX)
    missing = client.get(reverse("person_detail", args=[uuid.uuid4()]), **HTMX)

    body = _assert_fragment(not_visible, 404, "no longer there for you")
    assert "not saved" not in body  # a read saves nothing
    assert not_visible.content == missing.content


def test_an_htmx_write_refused_says_why_and_that_it_was_not_saved(
    debug, nina, council_file, council, hospital, carol
):
    from tests.factories import share

    share(council_file.person, holder=council, recipient=hospital, by=carol)

    response = signed_in(nina).post(
        reverse("note_create"),
        {"case_file": str(council_file.pk), "data_class": "clinical_notes", "text": "Visited."},
        **HTMX,
    )

    _assert_fragment(response, 403, "What you last typed was not saved")


def test_an_htmx_request_that_fails_gets_the_message_with_its_reference(
    debug, carol_client, monkeypatch
):
    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(selectors, "caseload", broken)
    carol_client.raise_request_exception = False

    response = carol_client.get(reverse("caseload"), **HTMX)

    _assert_fragment(response, 500, "Something went wrong", response["X-Request-ID"])


def test_an_htmx_request_after_signing_out_is_told_so_not_sent_the_sign_in_page(db, client):
    response = client.post(reverse("note_create"), {"text": "Visited."}, **HTMX)

    _assert_fragment(response, 403, "signed out", "not saved")
