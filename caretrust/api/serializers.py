from __future__ import annotations

import copy
from typing import Any, ClassVar

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from caretrust.directory.models import Agency, AgencyKind
from caretrust.people.models import PERSON_FIELDS, CaseFile, DataClass, Person
from caretrust.people.validators import (
    normalise_nhs_number,
    normalise_postcode,
    validate_date_of_birth,
)
from caretrust.sharing.models import (
    Evidence,
    Grantor,
    Provision,
    Purpose,
    SharingBasis,
    Status,
)

NUL_IN_REFERENCE = "Null characters are not allowed (no slug, code or name has one)."


def json_type_error(field: serializers.Field, value: Any) -> str | dict[Any, Any] | None:
    """What is wrong with the JSON type of ``value`` for ``field``, or None. DRF coerces
    (12345 becomes "12345", 1e999999 "inf", "yes" True, 7 the decimal "7"); a partner's wrong
    type is a mistake to name, not to store. Text fields (and decimals, which the document
    gives as strings) take JSON strings only, yes/no fields true or false, whole-number fields
    JSON integers. A list's or dict's children are checked too, each error under its index or
    key, so the answer names the item ("event_types.0")."""
    if value is None:
        return None  # allow_null decides
    text_fields = (
        serializers.CharField,
        serializers.UUIDField,
        serializers.DateField,
        serializers.DateTimeField,
        serializers.DecimalField,
        serializers.SlugRelatedField,
    )
    if isinstance(field, text_fields):
        if not isinstance(value, str):
            return "Give a string (text in double quotes)."
        if isinstance(field, serializers.SlugRelatedField) and "\x00" in value:
            # The database refuses to even look one up (a 500, not a 400).
            return NUL_IN_REFERENCE
        return None
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else "Give true or false."
    if isinstance(field, serializers.IntegerField):
        ok = isinstance(value, int) and not isinstance(value, bool)
        return None if ok else "Give a whole number (a JSON integer, not text)."
    if isinstance(field, serializers.ListField) and isinstance(value, list):
        return _children_errors(field.child, dict(enumerate(value)))
    if isinstance(field, serializers.DictField) and isinstance(value, dict):
        return _children_errors(field.child, value)
    return None


def _children_errors(child: serializers.Field, items: dict[Any, Any]) -> dict[Any, Any] | None:
    wrong = {
        key: error if isinstance(error, dict) else [error]
        for key, item in items.items()
        if (error := json_type_error(child, item)) is not None
    }
    return wrong or None


class StrictSerializerMixin:
    """Unknown fields and wrong JSON types are errors, not silently ignored or coerced: a typo
    must not look like success."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            fields = self.fields  # type: ignore[attr-defined]
            wrong = {
                name: error if isinstance(error, dict) else [error]
                for name, value in data.items()
                if name in fields
                and not fields[name].read_only
                and (error := json_type_error(fields[name], value)) is not None
            }
            if wrong:
                raise serializers.ValidationError(wrong)
            allowed = {name for name, f in self.fields.items() if not f.read_only}  # type: ignore[attr-defined]
            unknown = sorted(set(data) - allowed)
            if unknown:
                raise serializers.ValidationError(
                    {
                        name: [
                            "Unknown field; expected one of: " + ", ".join(sorted(allowed)) + "."
                        ]
                        for name in unknown
                    }
                )
        return super().to_internal_value(data)  # type: ignore[misc]


class FieldsOnceMixin:
    """DRF's ModelSerializer works its fields out from the model again for every serializer it
    makes: more than half of serialising a person. They depend on the class alone, so they are
    worked out once per class, and each serializer gets its own deep copy of them, as DRF gives
    each its own copy of the declared fields."""

    def get_fields(self) -> dict[str, serializers.Field]:
        cls = type(self)
        prototypes = cls.__dict__.get("_field_prototypes")  # this class's own, not a parent's
        if prototypes is None:
            prototypes = super().get_fields()  # type: ignore[misc]
            cls._field_prototypes = prototypes  # type: ignore[attr-defined]
        return copy.deepcopy(prototypes)


def _django(validate: Any, value: Any) -> Any:
    try:
        return validate(value)
    except DjangoValidationError as exc:
        raise serializers.ValidationError(exc.messages) from None


class AgencyRefField(serializers.SlugRelatedField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("slug_field", "slug")
        kwargs.setdefault(
            "error_messages",
            {
                "does_not_exist": "No agency has the slug {value}.",
                "invalid": "Give the agency's slug: letters, digits and hyphens.",
                "blank": "Give the agency's slug (or null where none is allowed).",
            },
        )
        super().__init__(**kwargs)

    def run_validation(self, data: Any = serializers.empty) -> Any:
        # DRF reads "" as null for relations (for HTML forms); in JSON "" is a mistake.
        if data == "":
            self.fail("blank")
        if isinstance(data, str) and "\x00" in data:
            # No slug has one, and the database refuses to even look (a 500, not a 400).
            self.fail("invalid")
        return super().run_validation(data)


class PersonSerializer(FieldsOnceMixin, StrictSerializerMixin, serializers.ModelSerializer):
    nhs_number = serializers.CharField(
        max_length=20, help_text="10 digits; spaces allowed, e.g. 943 476 5919."
    )
    postcode = serializers.CharField(max_length=10, help_text="A full UK postcode, e.g. LS1 4AP.")
    gp_practice = AgencyRefField(
        queryset=Agency.objects.filter(kind=AgencyKind.GP_PRACTICE), required=False, allow_null=True
    )

    class Meta:
        model = Person
        fields = ["id", *PERSON_FIELDS, "version", "created_at", "updated_at"]
        read_only_fields = ["id", "version", "created_at", "updated_at"]
        extra_kwargs: ClassVar[dict[str, Any]] = {"nhs_number": {"validators": []}}

    def validate_nhs_number(self, value: str) -> str:
        return _django(normalise_nhs_number, value)

    def validate_postcode(self, value: str) -> str:
        return _django(normalise_postcode, value)

    def validate_date_of_birth(self, value: Any) -> Any:
        _django(validate_date_of_birth, value)
        return value


class PersonUpdateSerializer(PersonSerializer):
    """Demographics that may change; the NHS number identifies the person and does not."""

    # Declared, not only listed in Meta.read_only_fields: DRF ignores that list for fields
    # declared on the class, which left nhs_number writable (and documented as such).
    nhs_number = serializers.CharField(read_only=True)

    class Meta(PersonSerializer.Meta):
        read_only_fields = [*PersonSerializer.Meta.read_only_fields, "nhs_number"]


class CaseFileSerializer(FieldsOnceMixin, serializers.ModelSerializer):
    agency: serializers.SlugRelatedField[Agency] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    person = serializers.UUIDField(source="person_id", read_only=True)
    lead_worker = serializers.SerializerMethodField()
    visible_data_classes = serializers.SerializerMethodField()

    class Meta:
        model = CaseFile
        fields = [
            "id",
            "person",
            "agency",
            "lead_worker",
            "opened_on",
            "closed_on",
            "visible_data_classes",
            "created_at",
        ]

    def get_lead_worker(self, obj: CaseFile) -> str:
        return obj.lead_worker.get_full_name() or obj.lead_worker.get_username()

    def get_visible_data_classes(self, obj: CaseFile) -> list[str]:
        return [dc for dc in DataClass.values if getattr(obj, f"can_{dc}", False)]


class SharingBasisSerializer(FieldsOnceMixin, serializers.ModelSerializer):
    person = serializers.UUIDField(source="person_id", read_only=True)
    holding_agency: serializers.SlugRelatedField[Agency] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    recipient_agency: serializers.SlugRelatedField[Agency] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    # Only a consent has a grantor and evidence; other bases store "" (the model's blank
    # choice) and answer null, which the published enums allow.
    grantor = serializers.ChoiceField(
        choices=Grantor.choices, allow_null=True, read_only=True, source="grantor_or_none"
    )
    evidence = serializers.ChoiceField(
        choices=Evidence.choices, allow_null=True, read_only=True, source="evidence_or_none"
    )
    # The status the visibility rule applies now: an active basis past its period or review
    # date reads "expired" before the sweeper has recorded it.
    status = serializers.ChoiceField(choices=Status.choices, source="status_now", read_only=True)

    class Meta:
        model = SharingBasis
        fields = [
            "id",
            "person",
            "holding_agency",
            "recipient_agency",
            "data_classes",
            "kind",
            "provision",
            "purpose",
            "status",
            "period_start",
            "period_end",
            "review_on",
            "grantor",
            "grantor_name",
            "evidence",
            "statutory_reason",
            "recorded_at",
            "version",
        ]
        read_only_fields = fields


class ConsentRequestSerializer(StrictSerializerMixin, serializers.Serializer):
    """Record the person's consent to share (provision "permit") or their refusal ("deny")."""

    person = serializers.UUIDField()
    recipient_agency = AgencyRefField(queryset=Agency.objects.all())
    data_classes = serializers.ListField(
        child=serializers.ChoiceField(choices=DataClass.choices), min_length=1, max_length=6
    )
    purpose = serializers.ChoiceField(choices=Purpose.choices)
    provision = serializers.ChoiceField(choices=Provision.choices, default=Provision.PERMIT)
    grantor = serializers.ChoiceField(choices=Grantor.choices)
    grantor_name = serializers.CharField(max_length=200)
    evidence = serializers.ChoiceField(choices=Evidence.choices)
    period_end = serializers.DateTimeField(required=False, allow_null=True)


class WithdrawRequestSerializer(StrictSerializerMixin, serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class AuditEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    occurred_at = serializers.DateTimeField()
    action = serializers.CharField()
    actor = serializers.CharField(source="actor_username")
    agency_id = serializers.IntegerField(allow_null=True)
    request_id = serializers.CharField()
    detail = serializers.JSONField()


class AccessReportSerializer(serializers.Serializer):
    """One page of a person's access report."""

    count = serializers.IntegerField(help_text="Events in the whole report.")
    page = serializers.IntegerField()
    results = AuditEventSerializer(many=True)


class ProblemSerializer(serializers.Serializer):
    """application/problem+json (RFC 9457)."""

    type = serializers.URLField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    request_id = serializers.CharField(required=False)
    # Documents the problem body only (never used to validate), so shadowing
    # Serializer.errors is harmless here.
    errors = serializers.ListField(  # type: ignore[assignment]
        child=serializers.DictField(child=serializers.CharField()),
        required=False,
        help_text="For validation problems: [{field, message}, ...].",
    )
