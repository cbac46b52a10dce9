"""factory_boy factories. People and agencies are created through the model layer with valid
data; services are exercised by the tests themselves."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import cache
from typing import Any

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password

from caretrust.directory import services as directory
from caretrust.directory.models import Agency, AgencyKind, Team
from caretrust.people.models import CaseFile, DataClass, Person
from caretrust.people.validators import nth_test_nhs_number
from caretrust.sharing import services as sharing
from caretrust.sharing.models import Evidence, Grantor, Purpose, SharingBasis

PASSWORD = "correct-horse-battery"


@cache
def hashed_password() -> str:
    # Argon2 is deliberately slow: hash once per run, not once per user.
    return make_password(PASSWORD)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("first_name", locale="en_GB")
    last_name = factory.Faker("last_name", locale="en_GB")
    password = factory.LazyFunction(hashed_password)


class AgencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agency

    name = factory.Sequence(lambda n: f"Agency {n}")
    slug = factory.Sequence(lambda n: f"agency-{n}")
    kind = AgencyKind.COUNCIL_ASC

    @classmethod
    def _create(cls, model_class: type, *args: object, **kwargs: object) -> Agency:
        return directory.create_agency(**kwargs)  # type: ignore[arg-type]


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    agency = factory.SubFactory(AgencyFactory)
    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")


class PersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Person

    nhs_number = factory.Sequence(lambda n: nth_test_nhs_number(400_000 + n))
    given_name = factory.Faker("first_name", locale="en_GB")
    family_name = factory.Faker("last_name", locale="en_GB")
    # Wraps every 300 people (1935 to 2014): an unbounded sequence reaches the future after
    # ~340 people in one run, and such a person fails validation when next changed.
    date_of_birth = factory.Sequence(
        lambda n: dt.date(1935, 1, 1) + dt.timedelta(days=97 * (n % 300))
    )
    address_line_1 = factory.Sequence(lambda n: f"{n + 1} Mill Lane")
    town = "Calderbridge"
    postcode = "HX1 2AB"


class CaseFileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CaseFile

    person = factory.SubFactory(PersonFactory)
    agency = factory.SubFactory(AgencyFactory)
    lead_worker = factory.SubFactory(UserFactory)
    opened_on = dt.date(2026, 1, 5)


def share(
    person: Any,
    *,
    holder: Any,
    recipient: Any,
    by: Any,
    classes: Iterable[str] = (DataClass.DEMOGRAPHICS,),
    **extra: Any,
) -> SharingBasis:
    """The person's consent, recorded by ``by`` for ``holder``, to share with ``recipient``."""
    return sharing.record_consent(
        person=person,
        holding_agency=holder,
        recipient_agency=recipient,
        data_classes=list(classes),
        purpose=Purpose.DIRECT_CARE,
        grantor=Grantor.PERSON,
        grantor_name="The person",
        evidence=Evidence.VERBAL,
        by=by,
        **extra,
    )
