"""REST endpoints for referrals and hospital discharge under /api/v1/ (scopes
``referrals:read`` / ``referrals:write``), on the project's conventions: problem documents,
cursor pages, Idempotency-Key on POST, ETag/If-Match on PATCH. Thin: reads through the
selectors (the visibility rule), writes through the services. A step the state machine does
not allow, or a claim someone else holds, answers 409."""

from __future__ import annotations

from typing import Any

import django_filters
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from caretrust.api.conventions import (
    Cursor,
    Problem,
    ProblemJSONRenderer,
    etag_for,
    idempotent,
    required_version,
    stale,
)
from caretrust.api.serializers import ProblemSerializer, StrictSerializerMixin
from caretrust.api.views import (
    COMMON_ERRORS,
    IDEMPOTENCY_KEY,
    IF_MATCH,
    WRITE_ERRORS,
    AgencyScopedViewSet,
    StrictFilterSet,
    _problem,
)
from caretrust.audit import services as audit
from caretrust.directory.models import Agency
from caretrust.people.selectors import get_visible_person
from referrals import discharge as stays
from referrals import selectors, services
from referrals.models import (
    Action,
    DeclineReason,
    DelayReason,
    HospitalStay,
    Need,
    Outcome,
    Referral,
    Service,
    Setting,
    Source,
    Status,
    Urgency,
)

CONFLICT = {
    (409, ProblemJSONRenderer.media_type): OpenApiResponse(
        ProblemSerializer,
        description="The referral's state does not allow this step, or someone else has "
        "claimed it.",
    )
}


def conflict(exc: Exception) -> Problem:
    kind = "already-claimed" if isinstance(exc, services.AlreadyClaimed) else "illegal-transition"
    return Problem(409, "Conflict", str(exc), kind)


# --- Serializers ------------------------------------------------------------------------------


class ReferralServiceSerializer(serializers.ModelSerializer):
    agency: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        source="team.agency", slug_field="slug", read_only=True
    )
    team = serializers.CharField(source="team.name", read_only=True)
    settings = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="Setting codes; empty: any."
    )

    class Meta:
        model = Service
        fields = [
            "id",
            "slug",
            "name",
            "kind",
            "agency",
            "team",
            "min_age",
            "max_age",
            "settings",
            "medically_stable_required",
            "postcode_districts",
            "response_hours",
            "response_working_days",
            "max_episode_days",
            "bed_capacity",
            "admission_criteria",
            "discharge_criteria",
            "active",
        ]
        read_only_fields = fields


class ReferralSerializer(serializers.ModelSerializer):
    service: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    agency: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True
    )
    referring_agency: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="slug", read_only=True, allow_null=True
    )
    person = serializers.SerializerMethodField()
    claimed_by = serializers.CharField(
        source="claimed_by.username", default=None, read_only=True, allow_null=True
    )

    class Meta:
        model = Referral
        fields = [
            "id",
            "reference",
            "status",
            "service",
            "agency",
            "referring_agency",
            "person",
            "source",
            "urgency",
            "setting",
            "needs",
            "reason",
            "unverified",
            "routing_explanation",
            "received_at",
            "due_at",
            "responded_at",
            "breached_at",
            "claimed_by",
            "decline_reason",
            "status_reason",
            "episode_started_on",
            "episode_ends_by",
            "episode_ended_on",
            "outcome",
            "assessment_id",
        ]
        read_only_fields = fields

    decline_reason = serializers.CharField(
        read_only=True, help_text="A decline reason code, or empty if not declined."
    )
    outcome = serializers.CharField(
        read_only=True, help_text="The episode's outcome code, or empty until it ends."
    )

    @extend_schema_field({"type": "string", "format": "uuid", "nullable": True})
    def get_person(self, obj: Referral) -> str | None:
        return str(obj.case_file.person_id) if obj.case_file_id and obj.case_file else None


class ServiceRefField(serializers.SlugRelatedField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("slug_field", "slug")
        kwargs.setdefault(
            "queryset", Service.objects.filter(active=True).select_related("team__agency")
        )
        kwargs.setdefault(
            "error_messages",
            {"does_not_exist": "Unknown service {value}: give the slug of an active service."},
        )
        super().__init__(**kwargs)


class ReferralCreateSerializer(StrictSerializerMixin, serializers.Serializer):
    person = serializers.UUIDField()
    source = serializers.ChoiceField(choices=Source.choices)  # type: ignore[assignment]
    reason = serializers.CharField(max_length=4000)
    urgency = serializers.ChoiceField(choices=Urgency.choices)
    needs = serializers.ListField(
        child=serializers.ChoiceField(choices=Need.choices), required=False, default=list
    )
    setting = serializers.ChoiceField(choices=Setting.choices, default=Setting.HOME)
    medically_stable = serializers.BooleanField(default=True)
    service = ServiceRefField(
        required=False, allow_null=True, default=None, help_text="Omit to route by the rules."
    )
    consent = serializers.BooleanField(
        default=False,
        help_text="The person consents, now, to share this referral with the receiving agency.",
    )


class ReferralDeclineSerializer(StrictSerializerMixin, serializers.Serializer):
    decline_reason = serializers.ChoiceField(choices=DeclineReason.choices)
    reason = serializers.CharField(max_length=2000, required=False, default="")


class ReferralRedirectSerializer(StrictSerializerMixin, serializers.Serializer):
    to_service = ServiceRefField()
    reason = serializers.CharField(max_length=2000)


class ReferralReasonSerializer(StrictSerializerMixin, serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class ReferralStepSerializer(StrictSerializerMixin, serializers.Serializer):
    pass


class EpisodeEndSerializer(StrictSerializerMixin, serializers.Serializer):
    outcome = serializers.ChoiceField(choices=Outcome.choices)
    ended_on = serializers.DateField(required=False, default=None, input_formats=["%Y-%m-%d"])
    handover_to = ServiceRefField(required=False, allow_null=True, default=None)
    assessment_id = serializers.UUIDField(required=False, allow_null=True, default=None)


class HospitalStaySerializer(serializers.ModelSerializer):
    person = serializers.UUIDField(source="case_file.person_id", read_only=True)
    hospital: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        source="case_file.agency", slug_field="slug", read_only=True
    )
    delay_reason: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True
    )
    council: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        source="council_agency", slug_field="slug", read_only=True, allow_null=True
    )
    delay_days = serializers.SerializerMethodField()

    class Meta:
        model = HospitalStay
        fields = [
            "id",
            "person",
            "hospital",
            "ward",
            "admitted_on",
            "discharge_ready_on",
            "pathway",
            "delay_reason",
            "council",
            "discharged_on",
            "delay_days",
        ]
        read_only_fields = fields

    def get_delay_days(self, obj: HospitalStay) -> int:
        return stays.delay_days(obj)


class HospitalAdmissionSerializer(StrictSerializerMixin, serializers.Serializer):
    person = serializers.UUIDField()
    ward = serializers.CharField(max_length=100)
    admitted_on = serializers.DateField(input_formats=["%Y-%m-%d"])
    discharge_ready_on = serializers.DateField(
        required=False, allow_null=True, default=None, input_formats=["%Y-%m-%d"]
    )
    pathway = serializers.IntegerField(
        required=False, allow_null=True, default=None, min_value=0, max_value=3
    )
    council: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Agency.objects.all(),
        required=False,
        allow_null=True,
        default=None,
    )


class HospitalStayUpdateSerializer(StrictSerializerMixin, serializers.Serializer):
    ward = serializers.CharField(max_length=100, required=False)
    pathway = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=3)
    delay_reason: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="code",
        queryset=DelayReason.objects.filter(active=True),
        required=False,
        allow_null=True,
        error_messages={"does_not_exist": "Unknown reason for delay {value}."},
    )


class ReadyDateReviewSerializer(StrictSerializerMixin, serializers.Serializer):
    discharge_ready_on = serializers.DateField(allow_null=True, input_formats=["%Y-%m-%d"])
    note = serializers.CharField(max_length=300, required=False, default="")


class HospitalDischargeSerializer(StrictSerializerMixin, serializers.Serializer):
    discharged_on = serializers.DateField(input_formats=["%Y-%m-%d"])
    early_reason = serializers.CharField(max_length=300, required=False, default="")


# --- Viewsets ---------------------------------------------------------------------------------


class ServiceCursor(Cursor):
    ordering = ("slug", "id")


@extend_schema_view(
    list=extend_schema(
        summary="The service catalogue",
        responses={200: ReferralServiceSerializer(many=True), **COMMON_ERRORS},
    ),
    retrieve=extend_schema(
        summary="One service", responses={200: ReferralServiceSerializer, **COMMON_ERRORS}
    ),
)
class ServiceViewSet(AgencyScopedViewSet):
    """The area's catalogue: not people's data, the same for every agency."""

    serializer_class = ReferralServiceSerializer
    scope_group = "referrals"
    pagination_class = ServiceCursor
    queryset = Service.objects.none()

    def get_queryset(self) -> QuerySet[Service]:
        return Service.objects.select_related("team__agency").order_by("slug")

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        from caretrust.people.selectors import first_by_uuid

        service = first_by_uuid(self.get_queryset(), pk)
        if service is None:
            raise Problem(404, "Not found", "Not found.", "not-found")
        return Response(self.get_serializer(service).data)


class ReferralCursor(Cursor):
    ordering = ("-received_at", "id")


class ReferralFilter(StrictFilterSet):
    status = django_filters.ChoiceFilter(choices=Status.choices)
    service = django_filters.CharFilter(field_name="service__slug")
    person = django_filters.UUIDFilter(field_name="case_file__person_id")

    class Meta:
        model = Referral
        fields = ["status", "service", "person"]


@extend_schema_view(
    list=extend_schema(
        summary="Referrals your agency may see (received or sent)",
        responses={200: ReferralSerializer(many=True), **COMMON_ERRORS},
    ),
    retrieve=extend_schema(
        summary="Read a referral", responses={200: ReferralSerializer, **COMMON_ERRORS}
    ),
)
class ReferralViewSet(AgencyScopedViewSet):
    serializer_class = ReferralSerializer
    filterset_class = ReferralFilter
    scope_group = "referrals"
    pagination_class = ReferralCursor
    queryset = Referral.objects.none()

    def get_queryset(self) -> QuerySet[Referral]:
        return (
            Referral.objects.visible_to(self.agency, self.request.user)
            .select_related("service", "agency", "referring_agency", "case_file", "claimed_by")
            .order_by("-received_at", "id")
        )

    def get_object(self) -> Referral:
        return selectors.get_visible_referral(
            user=self.request.user, agency=self.agency, referral_id=self.kwargs["pk"], purpose="api"
        )

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        assert page is not None
        response = self.get_paginated_response(self.get_serializer(page, many=True).data)
        audit.record(
            Action.REFERRAL_LISTED,
            actor=request.user,
            agency=self.agency,
            detail={"referrals": [str(r.pk) for r in page], "via": "api"},
        )
        return response

    def retrieve(self, request: Request, pk: str) -> Response:
        referral = self.get_object()
        return Response(self.get_serializer(referral).data, headers={"ETag": etag_for(referral)})

    @extend_schema(
        summary="Make a referral",
        description="Refers a person your agency may see to a service (its slug), or lets "
        "the routing rules choose. To another agency it needs a lawful basis for "
        'referrals: an existing one, or consent given now ("consent": true); '
        "without one the answer is 400 and nothing is written.",
        parameters=[IDEMPOTENCY_KEY],
        request=ReferralCreateSerializer,
        responses={201: ReferralSerializer, **WRITE_ERRORS},
    )
    @idempotent
    def create(self, request: Request) -> Response:
        body = ReferralCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        person = get_visible_person(
            user=request.user, agency=self.agency, person_id=data.pop("person"), purpose="refer"
        )
        referral = services.make_referral(
            agency=self.agency,
            by=request.user,
            person=person,
            consent=services.ConsentAtReferral() if data.pop("consent") else None,
            **data,
        )
        return Response(
            self.get_serializer(referral).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/referrals/{referral.pk}/", "ETag": etag_for(referral)},
        )

    def _step(
        self, request: Request, serializer: type[serializers.Serializer], run: Any
    ) -> Response:
        referral = self.get_object()
        body = serializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            done = run(referral, dict(body.validated_data))
        except (services.IllegalTransition, services.AlreadyClaimed) as exc:
            raise conflict(exc) from None
        fresh = self.get_queryset().get(pk=done.pk)
        return Response(self.get_serializer(fresh).data, headers={"ETag": etag_for(fresh)})

    def _kw(self, referral: Referral) -> dict[str, Any]:
        return {"referral": referral, "agency": self.agency, "by": self.request.user}

    @extend_schema(
        summary="Claim a referral for yourself",
        request=None,
        responses={200: ReferralSerializer, **WRITE_ERRORS, **CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def claim(self, request: Request, pk: str) -> Response:
        return self._step(
            request, ReferralStepSerializer, lambda r, d: services.claim_referral(**self._kw(r))
        )

    @extend_schema(
        summary="Release a claimed referral",
        request=None,
        responses={200: ReferralSerializer, **WRITE_ERRORS, **CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def release(self, request: Request, pk: str) -> Response:
        return self._step(
            request, ReferralStepSerializer, lambda r, d: services.release_referral(**self._kw(r))
        )

    @extend_schema(
        summary="Accept",
        request=None,
        responses={200: ReferralSerializer, **WRITE_ERRORS, **CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def accept(self, request: Request, pk: str) -> Response:
        return self._step(
            request, ReferralStepSerializer, lambda r, d: services.accept_referral(**self._kw(r))
        )

    @extend_schema(
        summary="Decline, with a reason",
        request=ReferralDeclineSerializer,
        responses={200: ReferralSerializer, **WRITE_ERRORS, **CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def decline(self, request: Request, pk: str) -> Response:
        return self._step(
            request,
            ReferralDeclineSerializer,
            lambda r, d: services.decline_referral(
                **self._kw(r), reason_code=d["decline_reason"], reason=d["reason"]
            ),
        )

    @extend_schema(
        summary="Redirect to another service",
        request=ReferralRedirectSerializer,
        responses={200: ReferralSerializer, **WRITE_ERRORS, **CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def redirect(self, request: Request, pk: str) -> Response:
        return self._step(
            request,
            ReferralRedirectSerializer,
            lambda r, d: services.redirect_referral(**self._kw(r), **d),
        )

    @extend_schema(
        summary="Withdraw (the referrer, before acceptance)",
        request=ReferralReasonSerializer,
        responses={200: ReferralSerializer, **WRITE_ERRORS, **CONFLICT},
    )
    @action(detail=True, methods=["post"])
    def withdraw(self, request: Request, pk: str) -> Response:
        return self._step(
            request,
            ReferralReasonSerializer,
            lambda r, d: services.withdraw_referral(**self._kw(r), **d),
        )

    @extend_schema(
        summary="Start the episode",
        request=None,
        responses={200: ReferralSerializer, **WRITE_ERRORS, **CONFLICT},
    )
    @action(detail=True, methods=["post"], url_path="start-episode")
    def start_episode(self, request: Request, pk: str) -> Response:
        return self._step(
            request, ReferralStepSerializer, lambda r, d: services.start_episode(**self._kw(r))
        )

    @extend_schema(
        summary="End the episode, with its outcome",
        request=EpisodeEndSerializer,
        responses={200: ReferralSerializer, **WRITE_ERRORS, **CONFLICT},
    )
    @action(detail=True, methods=["post"], url_path="end-episode")
    def end_episode(self, request: Request, pk: str) -> Response:
        return self._step(
            request, EpisodeEndSerializer, lambda r, d: services.end_episode(**self._kw(r), **d)
        )


class StayCursor(Cursor):
    ordering = ("-created_at", "id")


class StayFilter(StrictFilterSet):
    in_hospital = django_filters.BooleanFilter(field_name="discharged_on", lookup_expr="isnull")
    person = django_filters.UUIDFilter(field_name="case_file__person_id")

    class Meta:
        model = HospitalStay
        fields = ["in_hospital", "person"]


@extend_schema_view(
    list=extend_schema(
        summary="Hospital stays your agency may see",
        responses={200: HospitalStaySerializer(many=True), **COMMON_ERRORS},
    ),
    retrieve=extend_schema(
        summary="Read a hospital stay", responses={200: HospitalStaySerializer, **COMMON_ERRORS}
    ),
)
class HospitalStayViewSet(AgencyScopedViewSet):
    """For a hospital's patient administration system: admissions, board-round discharge
    ready dates, pathway and reason for delay, discharge."""

    serializer_class = HospitalStaySerializer
    filterset_class = StayFilter
    scope_group = "referrals"
    pagination_class = StayCursor
    queryset = HospitalStay.objects.none()

    def get_queryset(self) -> QuerySet[HospitalStay]:
        return selectors._stays(self.agency, self.request.user).order_by("-created_at", "id")

    def get_object(self) -> HospitalStay:
        return selectors.get_visible_stay(
            user=self.request.user, agency=self.agency, stay_id=self.kwargs["pk"]
        )

    def _holder(self, stay: HospitalStay) -> None:
        if stay.case_file.agency_id != self.agency.pk:
            raise PermissionDenied("Only the hospital that holds this stay can change it.")

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        assert page is not None
        response = self.get_paginated_response(self.get_serializer(page, many=True).data)
        audit.record(
            Action.DISCHARGE_LISTED,
            actor=request.user,
            agency=self.agency,
            detail={"stays": [str(s.pk) for s in page], "via": "api"},
        )
        return response

    def retrieve(self, request: Request, pk: str) -> Response:
        stay = self.get_object()
        return Response(self.get_serializer(stay).data, headers={"ETag": etag_for(stay)})

    @extend_schema(
        summary="Record an admission",
        parameters=[IDEMPOTENCY_KEY],
        request=HospitalAdmissionSerializer,
        responses={201: HospitalStaySerializer, **WRITE_ERRORS},
    )
    @idempotent
    def create(self, request: Request) -> Response:
        body = HospitalAdmissionSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        person = get_visible_person(
            user=request.user, agency=self.agency, person_id=data.pop("person"), purpose="admission"
        )
        stay = stays.record_admission(
            agency=self.agency,
            by=request.user,
            person=person,
            council_agency=data.pop("council"),
            **data,
        )
        return Response(
            self.get_serializer(stay).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/hospital-stays/{stay.pk}/", "ETag": etag_for(stay)},
        )

    @extend_schema(
        summary="Change the ward, pathway (0-3) or reason for delay",
        parameters=[IF_MATCH],
        request=HospitalStayUpdateSerializer,
        responses={
            200: HospitalStaySerializer,
            **COMMON_ERRORS,
            **_problem(412, "Stale ETag."),
            **_problem(428, "If-Match missing."),
        },
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        stay = self.get_object()
        self._holder(stay)
        version = required_version(request, stay)
        body = HospitalStayUpdateSerializer(data=request.data, partial=True)
        body.is_valid(raise_exception=True)
        try:
            updated = stays.update_stay(
                stay=stay,
                agency=self.agency,
                by=request.user,
                expected_version=version,
                **body.validated_data,
            )
        except services.StaleVersion:
            raise stale() from None
        return Response(self.get_serializer(updated).data, headers={"ETag": etag_for(updated)})

    @extend_schema(
        summary="A board round's discharge ready date",
        request=ReadyDateReviewSerializer,
        responses={200: HospitalStaySerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="ready-date")
    def ready_date(self, request: Request, pk: str) -> Response:
        stay = self.get_object()
        self._holder(stay)
        body = ReadyDateReviewSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        updated = stays.review_ready_date(
            stay=stay, agency=self.agency, by=request.user, **body.validated_data
        )
        return Response(self.get_serializer(updated).data, headers={"ETag": etag_for(updated)})

    @extend_schema(
        summary="Record the discharge",
        request=HospitalDischargeSerializer,
        responses={200: HospitalStaySerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    def discharge(self, request: Request, pk: str) -> Response:
        stay = self.get_object()
        self._holder(stay)
        body = HospitalDischargeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        updated = stays.record_discharge(
            stay=stay, agency=self.agency, by=request.user, **body.validated_data
        )
        return Response(self.get_serializer(updated).data, headers={"ETag": etag_for(updated)})
