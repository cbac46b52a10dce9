"""The referrals API's bad inputs (each a clear 4xx problem document that writes nothing),
its 409s, and a hospital PAS driving a stay from admission to discharge."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from typing import Any

import pytest
from django.utils import timezone
from oauth2_provider.models import AccessToken

from caretrust.api.services import create_partner_client
from caretrust.people.validators import today_in_london
from caretrust.sharing.models import SharingBasis
from referrals.models import HospitalStay, Referral
from tests.api.conftest import bearer
from tests.factories import CaseFileFactory, PersonFactory
from tests.referrals.helpers import internal_referral

pytestmark = pytest.mark.django_db
TODAY = today_in_london()


@pytest.fixture(autouse=True)
def _cheap_client_secrets(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def api_for(agency: Any) -> Any:
    new = create_partner_client(
        agency=agency, name=f"{agency.slug} system", scopes=["referrals:read", "referrals:write"]
    )
    token = secrets.token_urlsafe(30)
    AccessToken.objects.create(
        application=new.partner.application,
        token=token,
        expires=timezone.now() + dt.timedelta(hours=1),
        scope="referrals:read referrals:write",
    )
    return bearer(token)


def post(api: Any, url: str, body: dict[str, Any], **headers: Any) -> Any:
    return api.post(url, json.dumps(body), content_type="application/json", **headers)


@pytest.fixture
def ward_person(hospital: Any, nina: Any) -> Any:
    person = PersonFactory()
    CaseFileFactory(person=person, agency=hospital, lead_worker=nina)
    return person


def fields_of(response: Any) -> set[str]:
    return {e["field"] for e in response.json().get("errors", [])}


def test_unknown_service_source_and_fields_are_400s_that_write_nothing(
    hospital: Any, nina: Any, ward_person: Any, rapid: Any
) -> None:
    api = api_for(hospital)
    response = post(
        api,
        "/api/v1/referrals/",
        {
            "person": str(ward_person.pk),
            "source": "pigeon",
            "reason": "x" * 5,
            "urgency": "urgent",
            "service": "no-such-service",
            "colour": "blue",
        },
    )
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert {"colour"} <= fields_of(response)
    response = post(
        api,
        "/api/v1/referrals/",
        {
            "person": str(ward_person.pk),
            "source": "pigeon",
            "reason": "help",
            "urgency": "urgent",
            "service": "no-such-service",
        },
    )
    assert fields_of(response) == {"source", "service"}
    assert "Unknown service no-such-service" in response.content.decode()
    assert Referral.objects.count() == 0


def test_a_referral_without_a_lawful_basis_is_a_400_and_writes_nothing(
    hospital: Any, ward_person: Any, rapid: Any, rita: Any
) -> None:
    api = api_for(hospital)
    body = {
        "person": str(ward_person.pk),
        "source": "ward",
        "reason": "Ready to go home",
        "urgency": "urgent",
        "service": rapid.slug,
    }
    response = post(api, "/api/v1/referrals/", body)
    assert response.status_code == 400 and "lawful basis" in response.content.decode()
    assert Referral.objects.count() == 0 and SharingBasis.objects.count() == 0
    response = post(api, "/api/v1/referrals/", {**body, "consent": True})
    assert response.status_code == 201, response.content
    assert response.json()["agency"] == rapid.team.agency.slug


def test_an_illegal_transition_and_a_second_claim_answer_409(
    community: Any, rapid: Any, rita: Any, ruth: Any
) -> None:
    referral = internal_referral(community, rita, rapid)
    from referrals import services

    services.claim_referral(referral=referral, agency=community, by=ruth)
    api = api_for(community)
    response = post(api, f"/api/v1/referrals/{referral.pk}/claim/", {})
    assert response.status_code == 409
    assert response.json()["type"].endswith("already-claimed")
    response = post(api, f"/api/v1/referrals/{referral.pk}/start-episode/", {})
    assert response.status_code == 409
    assert "cannot be episode active" in response.json()["detail"]
    assert Referral.objects.get(pk=referral.pk).status == "received"


def test_a_pas_drives_a_stay_from_admission_to_discharge(
    hospital: Any, nina: Any, ward_person: Any
) -> None:
    api = api_for(hospital)
    admitted = (TODAY - dt.timedelta(days=10)).isoformat()
    response = post(
        api,
        "/api/v1/hospital-stays/",
        {"person": str(ward_person.pk), "ward": "Ward 7", "admitted_on": admitted},
    )
    assert response.status_code == 201, response.content
    stay_id = response.json()["id"]
    bad = post(
        api,
        f"/api/v1/hospital-stays/{stay_id}/ready-date/",
        {"discharge_ready_on": (TODAY - dt.timedelta(days=20)).isoformat()},
    )
    assert bad.status_code == 400 and "before the admission date" in bad.content.decode()
    ok = post(
        api,
        f"/api/v1/hospital-stays/{stay_id}/ready-date/",
        {"discharge_ready_on": (TODAY - dt.timedelta(days=3)).isoformat()},
    )
    assert ok.status_code == 200 and ok.json()["delay_days"] == 3
    etag = ok["ETag"]
    bad = api.patch(
        f"/api/v1/hospital-stays/{stay_id}/",
        json.dumps({"pathway": 4}),
        content_type="application/json",
        HTTP_IF_MATCH=etag,
    )
    assert bad.status_code == 400 and fields_of(bad) == {"pathway"}
    bad = api.patch(
        f"/api/v1/hospital-stays/{stay_id}/",
        json.dumps({"delay_reason": "bogus"}),
        content_type="application/json",
        HTTP_IF_MATCH=etag,
    )
    assert bad.status_code == 400
    ok = api.patch(
        f"/api/v1/hospital-stays/{stay_id}/",
        json.dumps({"pathway": 1, "delay_reason": "pathway-1"}),
        content_type="application/json",
        HTTP_IF_MATCH=etag,
    )
    assert ok.status_code == 200 and ok.json()["delay_reason"] == "pathway-1"
    stale = api.patch(
        f"/api/v1/hospital-stays/{stay_id}/",
        json.dumps({"pathway": 2}),
        content_type="application/json",
        HTTP_IF_MATCH=etag,
    )
    assert stale.status_code == 412
    early = post(
        api,
        f"/api/v1/hospital-stays/{stay_id}/discharge/",
        {"discharged_on": (TODAY - dt.timedelta(days=5)).isoformat()},
    )
    assert early.status_code == 400 and "say why" in early.content.decode()
    done = post(
        api, f"/api/v1/hospital-stays/{stay_id}/discharge/", {"discharged_on": TODAY.isoformat()}
    )
    assert done.status_code == 200 and done.json()["discharged_on"] == TODAY.isoformat()
    assert HospitalStay.objects.get(pk=stay_id).discharged_on == TODAY


def test_an_admission_with_a_ready_date_before_it_is_a_400_that_writes_nothing(
    hospital: Any, ward_person: Any
) -> None:
    api = api_for(hospital)
    response = post(
        api,
        "/api/v1/hospital-stays/",
        {
            "person": str(ward_person.pk),
            "ward": "Ward 7",
            "admitted_on": TODAY.isoformat(),
            "discharge_ready_on": (TODAY - dt.timedelta(days=1)).isoformat(),
        },
    )
    assert response.status_code == 400
    assert HospitalStay.objects.count() == 0
