"""A partner is sent only events that concern its own agency, and never one about a person
its agency may not see; an event that names no agency goes to no partner; a change rolled
back sends nothing."""

from __future__ import annotations

import pytest
from django.db import transaction

from caretrust.audit.models import AuditEvent
from caretrust.events import services as events
from caretrust.events import webhooks
from caretrust.events.models import DeliveryStatus, WebhookAction, WebhookDelivery
from caretrust.sharing import services as sharing
from tests.events.conftest import announce, make_due, subscribe
from tests.factories import CaseFileFactory, PersonFactory, share


def test_a_partner_never_receives_another_agencys_events(
    db, receiver, hospital_client, council_client
):
    subscribe(hospital_client, receiver.url + "/hospital", ("*",))
    subscribe(council_client, receiver.url + "/council", ("*",))

    announce("test.happened", "a1", agencies=[council_client.agency], n=1)
    announce("test.happened", "a2", agencies=[hospital_client.agency], n=2)
    announce("test.happened", "a3", agencies=[hospital_client.agency, council_client.agency], n=3)
    webhooks.deliver_due()

    got = sorted((r.path, r.json["data"]["n"]) for r in receiver.received)
    assert got == [
        ("/hook/council", 1),
        ("/hook/council", 3),
        ("/hook/hospital", 2),
        ("/hook/hospital", 3),
    ]


def test_an_event_naming_no_agency_goes_to_no_partner(db, receiver, hospital_client):
    subscribe(hospital_client, receiver.url, ("*",))

    with transaction.atomic():
        events.emit("test.happened", aggregate_type="thing", aggregate_id="a", payload={})
    events.dispatch_pending()

    assert not WebhookDelivery.objects.exists()
    assert webhooks.deliver_due() == 0
    assert receiver.received == []


def test_only_matching_event_types_are_sent(db, receiver, hospital_client):
    subscribe(hospital_client, receiver.url, ("test.one", "other.*"))

    for n, event_type in enumerate(["test.one", "test.two", "other.x.y", "otherwise.z"]):
        announce(event_type, f"a{n}", agencies=[hospital_client.agency], n=n)
    webhooks.deliver_due()

    assert sorted(b["type"] for b in receiver.bodies()) == ["other.x.y", "test.one"]


def test_a_revoked_client_is_sent_nothing(db, receiver, hospital_client):
    from caretrust.api.services import revoke_partner_client

    subscribe(hospital_client, receiver.url)
    announce("test.happened", "a1", agencies=[hospital_client.agency], n=1)
    revoke_partner_client(partner=hospital_client)
    announce("test.happened", "a2", agencies=[hospital_client.agency], n=2)
    webhooks.deliver_due()

    assert receiver.received == []
    assert WebhookDelivery.objects.get().status == DeliveryStatus.WITHHELD


def test_an_event_about_a_person_the_agency_may_not_see_is_not_sent(
    db, receiver, hospital_client, council, carol
):
    """The emitter listed the hospital, but the person's only file is the council's and is
    not shared: the rule says no, whatever the emitter said."""
    subscribe(hospital_client, receiver.url)
    unseen = CaseFileFactory(agency=council, lead_worker=carol, person=PersonFactory())

    announce(
        "test.happened",
        "a1",
        agencies=[hospital_client.agency, council],
        person_id=str(unseen.person_id),
    )
    webhooks.deliver_due()

    assert receiver.received == []
    assert not WebhookDelivery.objects.exists()


def test_a_shared_person_is_sent_and_the_sending_is_audited(
    db, receiver, hospital_client, council, carol
):
    subscribe(hospital_client, receiver.url)
    shared = CaseFileFactory(agency=council, lead_worker=carol, person=PersonFactory())
    share(shared.person, holder=council, recipient=hospital_client.agency, by=carol)

    announce(
        "test.happened", "a1", agencies=[hospital_client.agency], person_id=str(shared.person_id)
    )
    assert webhooks.deliver_due() == 1

    (body,) = receiver.bodies()
    assert body["data"]["person_id"] == str(shared.person_id)
    row = AuditEvent.objects.get(action=WebhookAction.EVENT_SENT)
    assert str(row.person_id) == str(shared.person_id)
    assert row.agency_id == hospital_client.agency_id
    assert row.actor_id == hospital_client.service_user_id


def test_consent_withdrawn_before_the_attempt_withholds_the_delivery(
    db, receiver, hospital_client, council, carol
):
    subscribe(hospital_client, receiver.url)
    shared = CaseFileFactory(agency=council, lead_worker=carol, person=PersonFactory())
    basis = share(shared.person, holder=council, recipient=hospital_client.agency, by=carol)
    receiver.answer(503)
    announce(
        "test.happened", "a1", agencies=[hospital_client.agency], person_id=str(shared.person_id)
    )
    webhooks.deliver_due()
    assert len(receiver.received) == 1

    sharing.withdraw_basis(basis=basis, by=carol, acting_agency=council, reason="Withdrawn.")
    make_due()
    webhooks.deliver_due()

    assert len(receiver.received) == 1, "sent after the consent was withdrawn"
    assert WebhookDelivery.objects.get().status == DeliveryStatus.WITHHELD


def test_a_payload_naming_a_malformed_person_id_is_not_sent(db, receiver, hospital_client):
    subscribe(hospital_client, receiver.url)

    announce("test.happened", "a1", agencies=[hospital_client.agency], person_id="not-a-uuid")

    assert not WebhookDelivery.objects.exists()


def test_a_change_rolled_back_sends_nothing(
    db, receiver, hospital_client, django_capture_on_commit_callbacks
):
    subscribe(hospital_client, receiver.url)

    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(ZeroDivisionError),
        transaction.atomic(),
    ):
        events.emit(
            "test.happened",
            aggregate_type="thing",
            aggregate_id="a",
            payload={},
            agencies=[hospital_client.agency_id],
        )
        1 / 0  # noqa: B018 - the change fails after emitting
    events.dispatch_pending()
    webhooks.deliver_due()

    assert not WebhookDelivery.objects.exists()
    assert receiver.received == []


def test_a_committed_change_is_delivered_after_commit(
    db, receiver, hospital_client, django_capture_on_commit_callbacks
):
    subscribe(hospital_client, receiver.url)

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        events.emit(
            "test.happened",
            aggregate_type="thing",
            aggregate_id="a",
            payload={"n": 5},
            agencies=[hospital_client.agency_id],
        )
        assert receiver.received == []

    assert [b["data"] for b in receiver.bodies()] == [{"n": 5}]
