"""A NUL in what a browser sends is a 400 page that says what is wrong, before any view reads
it (caretrust/ops/nul_guard.py). The partner API is left to its serializers, whose 400s name
the field (tests/api/test_bad_input.py)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from caretrust.people.models import CaseNote

pytestmark = pytest.mark.django_db


def test_a_nul_in_a_form_is_a_400_saying_so_and_writes_nothing(carol_client, council_file):
    notes = CaseNote.objects.count()
    response = carol_client.post(
        reverse("note_create"), {"case_file": str(council_file.pk), "text": "Seen at\x00home"}
    )
    assert response.status_code == 400
    assert "a NUL (character 0)" in response.content.decode()
    assert CaseNote.objects.count() == notes


@pytest.mark.parametrize("query", ["q=Holroyd%00", "nhs_number=999%00", "%00=1"])
def test_a_nul_in_a_search_is_a_400(carol_client, query):
    response = carol_client.get(f"{reverse('person_search')}?{query}")
    assert response.status_code == 400
    assert "a NUL (character 0)" in response.content.decode()


def test_a_nul_on_the_public_referral_form_is_a_400(client):
    response = client.post(reverse("referrals:public"), {"given_name": "Ann\x00"})
    assert response.status_code == 400


def test_an_htmx_request_with_a_nul_gets_the_message_alone(carol_client, council_file):
    """An autosave's answer is swapped into a status line: the message, not a whole page."""
    response = carol_client.post(
        reverse("note_create"),
        {"case_file": str(council_file.pk), "text": "Seen at\x00home"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "a NUL (character 0)" in body
    assert "<html" not in body and "nhsuk-error-message" in body
