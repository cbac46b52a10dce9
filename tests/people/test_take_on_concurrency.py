"""Two agencies registering the same new NHS number at the same moment: one person, a case
file for each, and no error for either (``take_on_person`` inserts with ON CONFLICT DO
NOTHING and reads the winner back). Real threads, each on its own database connection."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, transaction

from caretrust.audit.models import Action, AuditEvent
from caretrust.people import services
from caretrust.people.models import CaseFile, Person
from caretrust.people.validators import nth_test_nhs_number

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("audit_flushable")]

WAIT = 20  # seconds: a bound on every wait, so a regression fails instead of hanging
NHS_NUMBER = nth_test_nhs_number(300_123)


def _fields(**overrides: Any) -> dict[str, Any]:
    import datetime as dt

    fields = {
        "nhs_number": NHS_NUMBER,
        "given_name": "Mavis",
        "family_name": "Barraclough",
        "date_of_birth": dt.date(1938, 3, 27),
        "address_line_1": "12 Hebble View",
        "town": "Calderbridge",
        "postcode": "HX1 2AB",
    }
    fields.update(overrides)
    return fields


class TakeOn(threading.Thread):
    """One agency's take-on, in a transaction of its own connection, held open after the
    work until ``release()`` (or committed at once when ``hold`` is false)."""

    def __init__(self, agency: Any, by: Any, *, hold: bool, **fields: Any) -> None:
        super().__init__(daemon=True)
        self.agency, self.by, self.fields, self.hold = agency, by, fields, hold
        self.result: Any = None
        self.error: BaseException | None = None
        self.done, self.released = threading.Event(), threading.Event()

    def run(self) -> None:
        try:
            with transaction.atomic():
                self.result = services.take_on_person(agency=self.agency, by=self.by, **self.fields)
                self.done.set()
                if self.hold:
                    assert self.released.wait(WAIT), "never released"
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.error = exc
        finally:
            self.done.set()
            connection.close()

    def finish(self) -> Any:
        self.released.set()
        self.join(WAIT)
        assert not self.is_alive(), "still running"
        if self.error:
            raise self.error
        return self.result


def test_the_second_agency_waits_for_the_first_and_takes_its_person_on(
    council, hospital, carol, nina
):
    first = TakeOn(hospital, nina, hold=True, **_fields())
    first.start()
    assert first.done.wait(WAIT)
    # The hospital's row is written but not committed: the council's insert must wait for it.
    second = TakeOn(council, carol, hold=False, **_fields(given_name="Mave"))
    second.start()
    assert not second.done.wait(1), "the council did not wait for the hospital's transaction"

    hospital_result = first.finish()
    council_result = second.finish()

    assert hospital_result.registered and not council_result.registered
    assert council_result.person.pk == hospital_result.person.pk
    assert Person.objects.filter(nhs_number=NHS_NUMBER).count() == 1
    assert set(
        CaseFile.objects.filter(person=hospital_result.person).values_list("agency", flat=True)
    ) == {hospital.pk, council.pk}
    assert AuditEvent.objects.filter(action=Action.PERSON_TAKEN_ON_NEW).count() == 1
    assert AuditEvent.objects.filter(action=Action.PERSON_TAKEN_ON_EXISTING).count() == 1


def test_if_the_first_rolls_back_the_second_registers_the_person(council, hospital, carol, nina):
    class Abandoned(Exception):
        pass

    def abandon() -> None:
        with transaction.atomic():
            services.take_on_person(agency=hospital, by=nina, **_fields())
            ready.set()
            assert go.wait(WAIT)
            raise Abandoned

    ready, go = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            abandon()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    first = threading.Thread(target=run, daemon=True)
    first.start()
    assert ready.wait(WAIT)
    second = TakeOn(council, carol, hold=False, **_fields())
    second.start()
    go.set()
    first.join(WAIT)
    result = second.finish()

    assert [type(e) for e in errors] == [Abandoned]
    assert result.registered
    assert list(CaseFile.objects.values_list("agency", flat=True)) == [council.pk]


def test_many_agencies_at_once_over_the_api_make_one_person(live_server, council, hospital):
    """The same race through POST /api/v1/persons/, released together by a barrier."""
    import json
    import urllib.error
    import urllib.request

    from tests.api.conftest import PERSON_BODY, make_partner

    partners = [make_partner(a) for a in (council, hospital)]
    start = threading.Barrier(len(partners))
    statuses: list[int] = []

    def post(token: str) -> None:
        request = urllib.request.Request(  # noqa: S310
            f"{live_server.url}/api/v1/persons/",
            data=json.dumps(PERSON_BODY).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            method="POST",
        )
        start.wait(WAIT)
        try:
            with urllib.request.urlopen(request, timeout=WAIT) as response:  # noqa: S310
                statuses.append(response.status)
        except urllib.error.HTTPError as error:
            statuses.append(error.code)

    threads = [threading.Thread(target=post, args=(p.token,)) for p in partners]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)

    assert statuses == [201, 201]
    person = Person.objects.get()
    assert set(CaseFile.objects.filter(person=person).values_list("agency", flat=True)) == {
        council.pk,
        hospital.pk,
    }
