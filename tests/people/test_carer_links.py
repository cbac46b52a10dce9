"""A carer is a person in their own right (issue 16: no answer reveals another agency's
people). A person's page names a carer, or someone they care for, only where the one rule lets
the agency see that person; otherwise it says there is one, and how much care, which is the
viewed person's own record. A name shown is audited as a sight of that person; one withheld is
audited as a refusal."""

from __future__ import annotations

from django.urls import reverse
from django.utils.html import escape

from caretrust.audit.models import Action, AuditEvent
from caretrust.people.services import link_carer
from caretrust.sharing import services as sharing
from tests.factories import CaseFileFactory, PersonFactory, share

NOT_SHARED_CARER = "A carer whose record is not shared with your agency"
NOT_SHARED_CARED_FOR = "Someone whose record is not shared with your agency"


def _carer_known_only_to(agency, worker, council_file, *, hours=40):
    """A daughter caring for the council's person, registered only with ``agency``."""
    carer = PersonFactory(given_name="Harriet", family_name="Quennell")
    CaseFileFactory(agency=agency, lead_worker=worker, person=carer)
    link_carer(
        person=council_file.person,
        carer=carer,
        relationship="daughter",
        hours_per_week=hours,
        by=None,
    )
    return carer


def _sights_of(person):
    return AuditEvent.objects.filter(action=Action.PERSON_VIEWED, person_id=person.pk)


def test_a_carer_known_only_to_another_agency_is_not_named(
    carol_client, council_file, hospital, nina
):
    carer = _carer_known_only_to(hospital, nina, council_file)

    page = carol_client.get(reverse("person_detail", args=[council_file.person.pk]))

    html = page.content.decode()
    assert page.status_code == 200
    assert escape(carer.full_name) not in html and "Quennell" not in html
    assert str(carer.pk) not in html
    assert NOT_SHARED_CARER in html
    assert "about 40 hours of care a week: may be entitled to Carer's Allowance" in html
    assert not _sights_of(carer).exists()
    denial = AuditEvent.objects.get(action=Action.ACCESS_DENIED, detail__object="linked_person")
    assert denial.person_id == council_file.person.pk
    assert denial.detail["withheld"] == [str(carer.pk)]


def test_a_carer_shared_with_the_agency_is_named_linked_and_the_sight_audited(
    carol_client, carol, council, council_file, hospital, nina
):
    carer = _carer_known_only_to(hospital, nina, council_file)
    share(carer, holder=hospital, recipient=council, by=nina)

    html = carol_client.get(reverse("person_detail", args=[council_file.person.pk])).content
    html = html.decode()

    assert escape(carer.full_name) in html
    assert reverse("person_detail", args=[carer.pk]) in html
    assert NOT_SHARED_CARER not in html
    sight = _sights_of(carer).get()
    assert (sight.actor_id, sight.agency_id) == (carol.pk, council.pk)
    assert sight.detail["purpose"] == "named_as_carer_link"
    assert not AuditEvent.objects.filter(
        action=Action.ACCESS_DENIED, detail__object="linked_person"
    ).exists()


def test_withdrawing_the_carers_consent_hides_their_name_on_the_next_request(
    carol_client, council, council_file, hospital, nina
):
    carer = _carer_known_only_to(hospital, nina, council_file)
    basis = share(carer, holder=hospital, recipient=council, by=nina)
    url = reverse("person_detail", args=[council_file.person.pk])
    assert escape(carer.full_name) in carol_client.get(url).content.decode()

    sharing.withdraw_basis(
        basis=basis, by=nina, acting_agency=hospital, reason="The carer asked us to stop sharing."
    )

    html = carol_client.get(url).content.decode()
    assert escape(carer.full_name) not in html
    assert NOT_SHARED_CARER in html


def test_the_person_a_carer_looks_after_is_not_named_unless_shared(
    client, council, council_file, hospital, nina
):
    carer = _carer_known_only_to(hospital, nina, council_file, hours=12)
    client.force_login(nina)
    url = reverse("person_detail", args=[carer.pk])

    html = client.get(url).content.decode()
    assert escape(council_file.person.full_name) not in html
    assert NOT_SHARED_CARED_FOR + " (12 hours a week)" in html
    assert not _sights_of(council_file.person).exists()

    share(council_file.person, holder=council, recipient=hospital, by=council_file.lead_worker)
    html = client.get(url).content.decode()
    assert escape(council_file.person.full_name) in html
    assert NOT_SHARED_CARED_FOR not in html
