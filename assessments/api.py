"""The assessments API under /api/v1/: assessments, sections, scales, meetings, care plans and
addenda, on the platform's conventions (problem+json, cursor pages, Idempotency-Key on POST,
ETag/If-Match on PATCH, scopes ``assessments:read`` / ``assessments:write``, audit of every
read and write). Thin: reads through the selectors, writes through the services."""

from __future__ import annotations

import re
from typing import Any

import django_filters
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from assessments import selectors, services
from assessments.models import (
    OUTCOME_KEYS,
    Addendum,
    Assessment,
    AttendeeRole,
    AuditAction,
    CarePlan,
    CarePlanService,
    Depth,
    Funding,
    JointMeeting,
    MeetingAttendee,
    Place,
    Scale,
    ScaleResult,
    Section,
    ServiceKind,
)
from caretrust.api.conventions import Cursor, Problem, ProblemJSONRenderer, etag_for, idempotent
from caretrust.api.serializers import AgencyRefField, StrictSerializerMixin
from caretrust.api.views import (
    COMMON_ERRORS,
    IDEMPOTENCY_KEY,
    IF_MATCH,
    WRITE_ERRORS,
    AgencyScopedViewSet,
    StrictFilterSet,
)
from caretrust.audit import services as audit
from caretrust.directory.models import Agency
from caretrust.people.models import CaseFile
from caretrust.people.selectors import get_visible_person

SCOPE = "assessments"


def _problem(code: int, description: str) -> dict[Any, OpenApiResponse]:
    from caretrust.api.serializers import ProblemSerializer

    return {
        (code, ProblemJSONRenderer.media_type): OpenApiResponse(
            ProblemSerializer, description=description
        )
    }


CONFLICT = _problem(409, "The assessment is signed off (write an addendum), or a key is busy.")
STALE = {
    **_problem(412, "Stale ETag: someone saved since you read it (your draft is kept)."),
    **_problem(428, "If-Match missing."),
}

# --- Serializers ------------------------------------------------------------------------------


class SectionSummarySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    domain = serializers.CharField(source="domain.key")
    author = serializers.IntegerField(source="author_id", allow_null=True)
    author_agency = serializers.CharField(source="author_agency.slug", allow_null=True)
    status = serializers.CharField()
    version = serializers.IntegerField()


class AssessmentSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    case_file = serializers.UUIDField(source="case_file_id")
    person = serializers.UUIDField(source="case_file.person_id")
    agency = serializers.CharField(source="case_file.agency.slug")
    form = serializers.CharField(source="form.slug")
    form_version = serializers.IntegerField(source="form.version")
    depth = serializers.CharField()
    reason = serializers.CharField()
    episode = serializers.CharField()
    lead = serializers.IntegerField(source="lead_id")
    status = serializers.CharField()
    version = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    signed_off_at = serializers.DateTimeField(allow_null=True)
    sections = SectionSummarySerializer(many=True, source="sections.all")


class AssessmentCreateSerializer(StrictSerializerMixin, serializers.Serializer):
    person = serializers.UUIDField(help_text="Your agency must hold a case file on the person.")
    depth = serializers.ChoiceField(choices=Depth.choices)
    reason = serializers.CharField(max_length=500)
    episode = serializers.CharField(max_length=200)


class SectionSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    assessment = serializers.UUIDField(source="assessment_id")
    domain = serializers.CharField(source="domain.key")
    title = serializers.CharField(source="domain.title")
    author = serializers.IntegerField(source="author_id", allow_null=True)
    author_agency = serializers.CharField(source="author_agency.slug", allow_null=True)
    answers = serializers.DictField(child=serializers.JSONField())
    narrative = serializers.CharField(allow_blank=True)
    status = serializers.CharField()
    version = serializers.IntegerField()
    updated_at = serializers.DateTimeField()
    signed_at = serializers.DateTimeField(allow_null=True)


class AnswerValueField(serializers.JSONField):
    """One answer: text, a whole number or a date (ISO 8601) as the question's kind needs."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str | int) or isinstance(data, bool):
            raise serializers.ValidationError("Give text, a whole number or a date (YYYY-MM-DD).")
        if isinstance(data, str) and (len(data) > 2000 or "\x00" in data):
            raise serializers.ValidationError("Give text of up to 2,000 characters.")
        return data


class SectionUpdateSerializer(StrictSerializerMixin, serializers.Serializer):
    answers = serializers.DictField(child=AnswerValueField(), required=False)
    narrative = serializers.CharField(max_length=20_000, allow_blank=True, required=False)


class DelegateSerializer(StrictSerializerMixin, serializers.Serializer):
    author = serializers.CharField(max_length=150, help_text="The author's username.")
    author_agency = AgencyRefField(queryset=Agency.objects.all())


class ScaleSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    assessment = serializers.UUIDField(source="assessment_id", allow_null=True)
    person = serializers.UUIDField(source="case_file.person_id")
    scale = serializers.CharField()
    items = serializers.DictField(child=serializers.IntegerField())
    total = serializers.IntegerField()
    cutoff = serializers.IntegerField(allow_null=True)
    assessed_on = serializers.DateField()
    created_at = serializers.DateTimeField()


class ScaleCreateSerializer(StrictSerializerMixin, serializers.Serializer):
    assessment = serializers.UUIDField()
    scale = serializers.ChoiceField(choices=Scale.choices)
    items = serializers.DictField(child=serializers.IntegerField(min_value=-1000, max_value=1000))
    assessed_on = serializers.DateField()


class AttendeeSerializer(StrictSerializerMixin, serializers.Serializer):
    role = serializers.ChoiceField(choices=AttendeeRole.choices)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    carer_link = serializers.IntegerField(required=False, min_value=1, max_value=2**31 - 1)


class MeetingSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    assessment = serializers.UUIDField(source="assessment_id")
    held_on = serializers.DateField()
    place = serializers.CharField()
    place_detail = serializers.CharField(allow_blank=True)
    attendees = serializers.SerializerMethodField()
    wishes = serializers.CharField()
    views = serializers.CharField(allow_blank=True)
    decisions = serializers.CharField(allow_blank=True)
    from_impairment_or_illness = serializers.BooleanField()
    outcomes_not_achieved = serializers.ListField(child=serializers.CharField())
    significant_impact_on_wellbeing = serializers.BooleanField()
    eligible = serializers.BooleanField(source="eligible_computed")
    eligibility_confirmed = serializers.BooleanField()
    carer_assessment_requested = serializers.BooleanField()
    agreed_package = serializers.CharField(allow_blank=True)

    def get_attendees(self, obj: JointMeeting) -> list[dict[str, str]]:
        return [{"role": a.role, "name": a.name} for a in obj.attendees.all()]


class MeetingCreateSerializer(StrictSerializerMixin, serializers.Serializer):
    assessment = serializers.UUIDField()
    held_on = serializers.DateField()
    place = serializers.ChoiceField(choices=Place.choices)
    place_detail = serializers.CharField(max_length=200, required=False, allow_blank=True)
    attendees = AttendeeSerializer(many=True, max_length=30)  # type: ignore[call-arg]
    wishes = serializers.CharField(max_length=5000)
    views = serializers.CharField(max_length=10_000, required=False, allow_blank=True)
    decisions = serializers.CharField(max_length=10_000, required=False, allow_blank=True)
    from_impairment_or_illness = serializers.BooleanField()
    outcomes_not_achieved = serializers.ListField(
        child=serializers.ChoiceField(choices=OUTCOME_KEYS), max_length=10
    )
    significant_impact_on_wellbeing = serializers.BooleanField()
    eligibility_confirmed = serializers.BooleanField()
    carer_assessment_requested = serializers.BooleanField(required=False, default=False)
    carer_assessment_notes = serializers.CharField(
        max_length=5000, required=False, allow_blank=True
    )
    agreed_package = serializers.CharField(max_length=10_000, required=False, allow_blank=True)


class ServiceSerializer(StrictSerializerMixin, serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    kind = serializers.ChoiceField(choices=ServiceKind.choices)
    funding = serializers.ChoiceField(choices=Funding.choices)
    provider_agency = AgencyRefField(queryset=Agency.objects.all(), required=False, allow_null=True)
    hours_per_week = serializers.DecimalField(
        max_digits=5, decimal_places=2, required=False, allow_null=True
    )
    cost_per_hour_pence = serializers.IntegerField(
        required=False, allow_null=True, max_value=10_000_000
    )
    weekly_cost_pence = serializers.IntegerField(read_only=True)
    start_date = serializers.DateField()
    review_date = serializers.DateField(required=False, allow_null=True)
    end_date = serializers.DateField(required=False, allow_null=True)


class CarePlanSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    assessment = serializers.UUIDField(source="assessment_id")
    goals = serializers.CharField()
    review_on = serializers.DateField()
    status = serializers.CharField()
    version = serializers.IntegerField()
    authorised_on = serializers.DateField(allow_null=True)
    ended_on = serializers.DateField(allow_null=True)
    weekly_cost_pence = serializers.IntegerField()
    services = ServiceSerializer(many=True, source="services.all")


class CarePlanCreateSerializer(StrictSerializerMixin, serializers.Serializer):
    assessment = serializers.UUIDField()
    goals = serializers.CharField(max_length=5000)
    review_on = serializers.DateField()
    services = ServiceSerializer(many=True, max_length=20)  # type: ignore[call-arg]


class EndSerializer(StrictSerializerMixin, serializers.Serializer):
    ended_on = serializers.DateField()


class AddendumSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    assessment = serializers.UUIDField(source="assessment_id")
    section = serializers.UUIDField(source="section_id", allow_null=True)
    author = serializers.IntegerField(source="author_id")
    author_agency = serializers.CharField(source="author_agency.slug", allow_null=True)
    reason = serializers.CharField()
    text = serializers.CharField()
    written_at = serializers.DateTimeField()


class AddendumCreateSerializer(StrictSerializerMixin, serializers.Serializer):
    assessment = serializers.UUIDField()
    section = serializers.UUIDField(required=False, allow_null=True)
    reason = serializers.CharField(max_length=500)
    text = serializers.CharField(max_length=10_000)


class EmptySerializer(StrictSerializerMixin, serializers.Serializer):
    """No body needed."""


# --- Common ground ---------------------------------------------------------------------------


class AssessmentApiViewSet(AgencyScopedViewSet):
    scope_group = SCOPE
    kind = ""

    def _list(self, queryset: QuerySet[Any], serializer: type[serializers.Serializer]) -> Response:
        page = self.paginate_queryset(self.filter_queryset(queryset))
        assert page is not None
        response = self.get_paginated_response(serializer(page, many=True).data)
        audit.record(
            AuditAction.ASSESSMENT_LISTED,
            actor=self.request.user,
            agency=self.agency,
            detail={self.kind: [str(o.pk) for o in page], "via": "api"},
        )
        return response

    def _assessment(self, pk: Any, purpose: str) -> Assessment:
        return selectors.get_assessment(
            user=self.request.user, agency=self.agency, assessment_id=pk, purpose=purpose
        )


def _signed_off_is_409(call: Any) -> Any:
    try:
        return call()
    except services.AssessmentSignedOff as exc:
        raise Problem(409, "Conflict", exc.messages[0], "signed-off") from None


class AssessmentFilter(StrictFilterSet):
    person = django_filters.UUIDFilter(field_name="case_file__person_id")
    status = django_filters.ChoiceFilter(
        choices=[("draft", "draft"), ("in_progress", "in_progress"), ("signed_off", "signed_off")]
    )

    class Meta:
        model = Assessment
        fields = ["person", "status"]


def _assessment_rows(qs: QuerySet[Assessment]) -> QuerySet[Assessment]:
    return qs.select_related("case_file__agency", "form").prefetch_related(
        Prefetch("sections", Section.objects.select_related("domain", "author_agency"))
    )


@extend_schema_view(
    list=extend_schema(
        summary="Assessments your agency may see",
        responses={200: AssessmentSerializer(many=True), **COMMON_ERRORS},
    ),
    retrieve=extend_schema(
        summary="Read an assessment", responses={200: AssessmentSerializer, **COMMON_ERRORS}
    ),
)
class AssessmentViewSet(AssessmentApiViewSet):
    serializer_class = AssessmentSerializer
    filterset_class = AssessmentFilter
    queryset = Assessment.objects.none()
    kind = "assessments"

    def get_queryset(self) -> QuerySet[Assessment]:
        return _assessment_rows(
            selectors.visible_assessments(self.agency, self.request.user).order_by(
                "-created_at", "id"
            )
        )

    def list(self, request: Request) -> Response:
        return self._list(self.get_queryset(), AssessmentSerializer)

    def retrieve(self, request: Request, pk: str) -> Response:
        found = self._assessment(pk, "api")
        a = _assessment_rows(Assessment.objects.filter(pk=found.pk)).get()
        return Response(AssessmentSerializer(a).data, headers={"ETag": etag_for(a)})

    @extend_schema(
        summary="Start an assessment",
        description="In your agency's own case file on the person (403 if it has none); one "
        "section per domain of the newest form version; you (the client) lead it.",
        parameters=[IDEMPOTENCY_KEY],
        request=AssessmentCreateSerializer,
        responses={201: AssessmentSerializer, **WRITE_ERRORS},
    )
    @idempotent
    def create(self, request: Request) -> Response:
        data = AssessmentCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        person = get_visible_person(
            user=request.user, agency=self.agency, person_id=values.pop("person"), purpose="api"
        )
        case_file = CaseFile.objects.filter(person=person, agency=self.agency).first()
        if case_file is None:
            raise PermissionDenied(f"{self.agency} holds no case file on this person.")
        created = services.start_assessment(
            case_file=case_file, by=request.user, agency=self.agency, **values
        )
        a = _assessment_rows(Assessment.objects.filter(pk=created.pk)).get()
        return Response(
            AssessmentSerializer(a).data,
            status=status.HTTP_201_CREATED,
            headers={"ETag": etag_for(a), "Location": f"/api/v1/assessments/{a.pk}/"},
        )

    @extend_schema(
        summary="Sign off the assessment (the lead)",
        description="Every section the depth requires must be signed by its author (else "
        "400, naming them). Afterwards nothing changes in place: write addenda.",
        parameters=[IDEMPOTENCY_KEY],
        request=EmptySerializer,
        responses={200: AssessmentSerializer, **WRITE_ERRORS, **CONFLICT},
    )
    @action(detail=True, methods=["post"], url_path="sign-off")
    @idempotent
    def sign_off(self, request: Request, pk: str) -> Response:
        EmptySerializer(data=request.data).is_valid(raise_exception=True)
        found = self._assessment(pk, "sign_off")
        _signed_off_is_409(
            lambda: services.sign_off_assessment(
                assessment=found, by=request.user, agency=self.agency
            )
        )
        a = _assessment_rows(Assessment.objects.filter(pk=found.pk)).get()
        return Response(AssessmentSerializer(a).data, headers={"ETag": etag_for(a)})

    @extend_schema(
        summary="Adopt a signed assessment instead of assessing again",
        description="For a receiving service of another agency that may see it (with the "
        "person's consent). Counted as one re-assessment avoided for your service.",
        parameters=[IDEMPOTENCY_KEY],
        request=EmptySerializer,
        responses={201: AssessmentSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def adopt(self, request: Request, pk: str) -> Response:
        EmptySerializer(data=request.data).is_valid(raise_exception=True)
        found = self._assessment(pk, "adopt")
        services.adopt_assessment(assessment=found, by=request.user, agency=self.agency)
        a = _assessment_rows(Assessment.objects.filter(pk=found.pk)).get()
        return Response(AssessmentSerializer(a).data, status=status.HTTP_201_CREATED)


# --- Sections ----------------------------------------------------------------------------------


class SectionCursor(Cursor):
    ordering = ("assessment_id", "domain__order")


class SectionFilter(StrictFilterSet):
    assessment = django_filters.UUIDFilter(field_name="assessment_id")

    class Meta:
        model = Section
        fields = ["assessment"]


_TAG = re.compile(r'^\s*(?:W/)?"([0-9a-f-]{36})-v([0-9]{1,9})"\s*$')


def _if_match_version(request: Request, obj: Any) -> int:
    """The version named by If-Match: 428 without it, 400 if malformed, 412 if it names
    another object. A stale version is for the service to find, so the draft is kept."""
    header = request.headers.get("If-Match")
    if not header:
        raise Problem(
            428,
            "Precondition required",
            "Send If-Match with the ETag you last read, so your change cannot "
            "overwrite someone else's.",
            "if-match-required",
        )
    match = _TAG.match(header)
    if match is None:
        raise Problem(
            400,
            "Bad request",
            'If-Match must be the one ETag from your last read, e.g. "<id>-v3".',
            "bad-if-match",
        )
    if match.group(1) != str(obj.pk):
        raise Problem(412, "Precondition failed", "That ETag is for another record.", "stale")
    return int(match.group(2))


@extend_schema_view(
    list=extend_schema(
        summary="Sections of assessments your agency may see",
        responses={200: SectionSerializer(many=True), **COMMON_ERRORS},
    ),
    retrieve=extend_schema(
        summary="Read a section", responses={200: SectionSerializer, **COMMON_ERRORS}
    ),
)
class SectionViewSet(AssessmentApiViewSet):
    serializer_class = SectionSerializer
    filterset_class = SectionFilter
    pagination_class = SectionCursor
    queryset = Section.objects.none()
    kind = "sections"
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Section]:
        return selectors.visible_sections(self.agency, self.request.user).select_related(
            "domain", "author_agency"
        )

    def list(self, request: Request) -> Response:
        return self._list(self.get_queryset(), SectionSerializer)

    def _get(self, pk: str, purpose: str) -> Section:
        return selectors.get_section(
            user=self.request.user, agency=self.agency, section_id=pk, purpose=purpose
        )

    def retrieve(self, request: Request, pk: str) -> Response:
        section = self._get(pk, "api")
        return Response(SectionSerializer(section).data, headers={"ETag": etag_for(section)})

    @extend_schema(
        summary="Save a section (its author)",
        description="Send If-Match with the section's ETag. Answers are checked against the "
        "assessment's form version. If someone saved since, 412: nothing is overwritten and "
        "your draft is kept as a conflict (its id in conflict_id) beside the newer version.",
        parameters=[IF_MATCH],
        request=SectionUpdateSerializer,
        responses={200: SectionSerializer, **COMMON_ERRORS, **STALE, **CONFLICT},
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        section = self._get(pk, "api_save")
        version = _if_match_version(request, section)
        data = SectionUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        answers = data.validated_data.get("answers", section.answers)
        narrative = data.validated_data.get("narrative", section.narrative)
        outcome = _signed_off_is_409(
            lambda: services.save_section(
                section_id=section.pk,
                answers=answers,
                narrative=narrative,
                based_on_version=version,
                by=request.user,
                agency=self.agency,
            )
        )
        if outcome.conflict is not None:
            # A response, not an exception: the kept draft commits with the request.
            body = {
                "type": "https://caretrust.example/problems/stale-version",
                "title": "Precondition failed",
                "status": 412,
                "detail": "Someone saved this section since you read it. Your draft is kept "
                f"(conflict {outcome.conflict.pk}); read the section again and reapply.",
                "request_id": getattr(request._request, "request_id", ""),
            }
            response = Response(body, status=412, content_type=ProblemJSONRenderer.media_type)
            response.accepted_renderer = ProblemJSONRenderer()
            response.accepted_media_type = ProblemJSONRenderer.media_type
            response["X-Conflict-Id"] = str(outcome.conflict.pk)
            return response
        return Response(
            SectionSerializer(outcome.section).data, headers={"ETag": etag_for(outcome.section)}
        )

    @extend_schema(
        summary="Sign a section (its author)",
        description="Send If-Match. Every question the depth requires must be answered.",
        parameters=[IF_MATCH, IDEMPOTENCY_KEY],
        request=EmptySerializer,
        responses={200: SectionSerializer, **WRITE_ERRORS, **STALE, **CONFLICT},
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def sign(self, request: Request, pk: str) -> Response:
        EmptySerializer(data=request.data).is_valid(raise_exception=True)
        section = self._get(pk, "api_sign")
        version = _if_match_version(request, section)
        try:
            signed = _signed_off_is_409(
                lambda: services.sign_section(
                    section_id=section.pk,
                    by=request.user,
                    agency=self.agency,
                    based_on_version=version,
                )
            )
        except services.StaleVersion as exc:
            raise Problem(412, "Precondition failed", exc.messages[0], "stale-version") from None
        signed = self._get(pk, "api_signed")
        return Response(SectionSerializer(signed).data, headers={"ETag": etag_for(signed)})

    @extend_schema(
        summary="Delegate a section (the lead)",
        description="To a named professional, who may work for another agency: only if that "
        "agency may see your assessments on the person (their consent).",
        parameters=[IDEMPOTENCY_KEY],
        request=DelegateSerializer,
        responses={200: SectionSerializer, **WRITE_ERRORS, **CONFLICT},
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def delegate(self, request: Request, pk: str) -> Response:
        from django.contrib.auth import get_user_model

        data = DelegateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        section = self._get(pk, "api_delegate")
        author = get_user_model().objects.filter(username=data.validated_data["author"]).first()
        if author is None:
            raise serializers.ValidationError({"author": ["No member of staff has that username."]})
        _signed_off_is_409(
            lambda: services.delegate_section(
                section=section,
                author=author,
                author_agency=data.validated_data["author_agency"],
                by=request.user,
                agency=self.agency,
            )
        )
        fresh = self._get(pk, "api_delegated")
        return Response(SectionSerializer(fresh).data, headers={"ETag": etag_for(fresh)})


# --- Scales, meetings, care plans, addenda ---------------------------------------------------


class ByAssessmentFilter(StrictFilterSet):
    assessment = django_filters.UUIDFilter(field_name="assessment_id")

    class Meta:
        model = ScaleResult
        fields = ["assessment"]


@extend_schema_view(
    list=extend_schema(
        summary="Scale results your agency may see",
        responses={200: ScaleSerializer(many=True), **COMMON_ERRORS},
    ),
    retrieve=extend_schema(
        summary="Read a scale result", responses={200: ScaleSerializer, **COMMON_ERRORS}
    ),
)
class ScaleViewSet(AssessmentApiViewSet):
    serializer_class = ScaleSerializer
    filterset_class = ByAssessmentFilter
    queryset = ScaleResult.objects.none()
    kind = "scales"

    def get_queryset(self) -> QuerySet[ScaleResult]:
        return selectors.visible_scales(self.agency, self.request.user).select_related("case_file")

    def list(self, request: Request) -> Response:
        return self._list(self.get_queryset(), ScaleSerializer)

    def retrieve(self, request: Request, pk: str) -> Response:
        result = selectors.get_scale(user=request.user, agency=self.agency, scale_id=pk)
        return Response(ScaleSerializer(result).data)

    @extend_schema(
        summary="Record a scale (Barthel 0-20 or AMTS), scored on the server",
        description="Each item is checked against the scale's allowed scores; the total is "
        "computed. By the lead or a section author, before sign-off.",
        parameters=[IDEMPOTENCY_KEY],
        request=ScaleCreateSerializer,
        responses={201: ScaleSerializer, **WRITE_ERRORS, **CONFLICT},
    )
    @idempotent
    def create(self, request: Request) -> Response:
        data = ScaleCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = dict(data.validated_data)
        assessment = self._assessment(v.pop("assessment"), "api_scale")
        result = _signed_off_is_409(
            lambda: services.record_scale(
                assessment=assessment, by=request.user, agency=self.agency, **v
            )
        )
        result = ScaleResult.objects.select_related("case_file").get(pk=result.pk)
        return Response(
            ScaleSerializer(result).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/scales/{result.pk}/"},
        )


class MeetingCursor(Cursor):
    ordering = ("-recorded_at", "id")


class MeetingFilter(ByAssessmentFilter):
    class Meta:
        model = JointMeeting
        fields = ["assessment"]


def _meetings() -> QuerySet[JointMeeting]:
    return JointMeeting.objects.prefetch_related(
        Prefetch("attendees", MeetingAttendee.objects.order_by("id"))
    )


@extend_schema_view(
    list=extend_schema(
        summary="Joint assessment meetings your agency may see",
        responses={200: MeetingSerializer(many=True), **COMMON_ERRORS},
    ),
    retrieve=extend_schema(
        summary="Read a meeting", responses={200: MeetingSerializer, **COMMON_ERRORS}
    ),
)
class MeetingViewSet(AssessmentApiViewSet):
    serializer_class = MeetingSerializer
    filterset_class = MeetingFilter
    pagination_class = MeetingCursor
    queryset = JointMeeting.objects.none()
    kind = "meetings"

    def get_queryset(self) -> QuerySet[JointMeeting]:
        return _meetings().filter(
            selectors.assessment_rule(self.agency, self.request.user, "assessment__case_file")
        )

    def list(self, request: Request) -> Response:
        return self._list(self.get_queryset(), MeetingSerializer)

    def retrieve(self, request: Request, pk: str) -> Response:
        meeting = selectors._one(
            self.get_queryset().select_related("assessment__case_file"),
            JointMeeting,
            user=request.user,
            agency=self.agency,
            kind="meeting",
            raw_id=pk,
        )
        audit.record(
            AuditAction.ASSESSMENT_VIEWED,
            actor=request.user,
            agency=self.agency,
            obj=meeting,
            person_id=meeting.assessment.case_file.person_id,
            detail={"purpose": "meeting", "via": "api"},
        )
        return Response(MeetingSerializer(meeting).data)

    @extend_schema(
        summary="Record the joint assessment meeting (the lead)",
        description="At least a qualified nurse, a care manager (or social worker) and an OT "
        "or physiotherapist; carers only from the person's carer links (carer_link); the "
        "person's wishes in their own words. The Care Act 2014 eligibility decision is "
        "computed from the answers; eligibility_confirmed must be true.",
        parameters=[IDEMPOTENCY_KEY],
        request=MeetingCreateSerializer,
        responses={201: MeetingSerializer, **WRITE_ERRORS},
    )
    @idempotent
    def create(self, request: Request) -> Response:
        data = MeetingCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = dict(data.validated_data)
        assessment = self._assessment(v.pop("assessment"), "api_meeting")
        meeting = services.record_meeting(
            assessment=assessment, by=request.user, agency=self.agency, **v
        )
        meeting = _meetings().get(pk=meeting.pk)
        return Response(
            MeetingSerializer(meeting).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/meetings/{meeting.pk}/"},
        )


class CarePlanFilter(ByAssessmentFilter):
    class Meta:
        model = CarePlan
        fields = ["assessment"]


def _plans(qs: QuerySet[CarePlan]) -> QuerySet[CarePlan]:
    return qs.prefetch_related(
        Prefetch("services", CarePlanService.objects.select_related("provider_agency"))
    )


@extend_schema_view(
    list=extend_schema(
        summary="Care plans your agency may see",
        responses={200: CarePlanSerializer(many=True), **COMMON_ERRORS},
    ),
    retrieve=extend_schema(
        summary="Read a care plan", responses={200: CarePlanSerializer, **COMMON_ERRORS}
    ),
)
class CarePlanViewSet(AssessmentApiViewSet):
    serializer_class = CarePlanSerializer
    filterset_class = CarePlanFilter
    queryset = CarePlan.objects.none()
    kind = "care_plans"

    def get_queryset(self) -> QuerySet[CarePlan]:
        return _plans(selectors.visible_care_plans(self.agency, self.request.user))

    def list(self, request: Request) -> Response:
        return self._list(self.get_queryset(), CarePlanSerializer)

    def _get(self, pk: str) -> CarePlan:
        plan = selectors.get_care_plan(user=self.request.user, agency=self.agency, care_plan_id=pk)
        return (
            _plans(CarePlan.objects.filter(pk=plan.pk))
            .select_related("assessment__case_file")
            .get()
        )

    def retrieve(self, request: Request, pk: str) -> Response:
        plan = self._get(pk)
        return Response(CarePlanSerializer(plan).data, headers={"ETag": etag_for(plan)})

    @extend_schema(
        summary="Agree a care plan for a signed-off assessment (the holding agency)",
        description="Goals in the person's words; services with funding (nhs: free; "
        "social_care: means-tested), hours a week (0-168) and cost an hour in integer pence "
        "(0 or more); the weekly cost is computed. Authorise it to announce the package.",
        parameters=[IDEMPOTENCY_KEY],
        request=CarePlanCreateSerializer,
        responses={201: CarePlanSerializer, **WRITE_ERRORS},
    )
    @idempotent
    def create(self, request: Request) -> Response:
        data = CarePlanCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = dict(data.validated_data)
        assessment = self._assessment(v.pop("assessment"), "api_care_plan")
        plan = services.save_care_plan(
            assessment=assessment,
            goals=v["goals"],
            review_on=v["review_on"],
            services=[dict(s) for s in v["services"]],
            by=request.user,
            agency=self.agency,
        )
        plan = _plans(CarePlan.objects.filter(pk=plan.pk)).get()
        return Response(
            CarePlanSerializer(plan).data,
            status=status.HTTP_201_CREATED,
            headers={"ETag": etag_for(plan), "Location": f"/api/v1/care-plans/{plan.pk}/"},
        )

    @extend_schema(
        summary="Authorise the care plan",
        description="Announces care_package.authorised (or care_package.changed after a "
        "change) once, after commit.",
        parameters=[IDEMPOTENCY_KEY],
        request=EmptySerializer,
        responses={200: CarePlanSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def authorise(self, request: Request, pk: str) -> Response:
        EmptySerializer(data=request.data).is_valid(raise_exception=True)
        plan = self._get(pk)
        services.authorise_care_plan(care_plan=plan, by=request.user, agency=self.agency)
        plan = self._get(pk)
        return Response(CarePlanSerializer(plan).data, headers={"ETag": etag_for(plan)})

    @extend_schema(
        summary="End the care package",
        description="Announces care_package.ended.",
        parameters=[IDEMPOTENCY_KEY],
        request=EndSerializer,
        responses={200: CarePlanSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def end(self, request: Request, pk: str) -> Response:
        data = EndSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        plan = self._get(pk)
        services.end_care_plan(
            care_plan=plan,
            ended_on=data.validated_data["ended_on"],
            by=request.user,
            agency=self.agency,
        )
        plan = self._get(pk)
        return Response(CarePlanSerializer(plan).data, headers={"ETag": etag_for(plan)})


class AddendumCursor(Cursor):
    ordering = ("-written_at", "id")


class AddendumFilter(ByAssessmentFilter):
    class Meta:
        model = Addendum
        fields = ["assessment"]


@extend_schema_view(
    list=extend_schema(
        summary="Addenda to assessments your agency may see",
        responses={200: AddendumSerializer(many=True), **COMMON_ERRORS},
    ),
    retrieve=extend_schema(
        summary="Read an addendum", responses={200: AddendumSerializer, **COMMON_ERRORS}
    ),
)
class AddendumViewSet(AssessmentApiViewSet):
    serializer_class = AddendumSerializer
    filterset_class = AddendumFilter
    pagination_class = AddendumCursor
    queryset = Addendum.objects.none()
    kind = "addenda"

    def get_queryset(self) -> QuerySet[Addendum]:
        return Addendum.objects.filter(
            selectors.assessment_rule(self.agency, self.request.user, "assessment__case_file")
        ).select_related("author_agency")

    def list(self, request: Request) -> Response:
        return self._list(self.get_queryset(), AddendumSerializer)

    def retrieve(self, request: Request, pk: str) -> Response:
        addendum = selectors._one(
            self.get_queryset().select_related("assessment__case_file"),
            Addendum,
            user=request.user,
            agency=self.agency,
            kind="addendum",
            raw_id=pk,
        )
        audit.record(
            AuditAction.ASSESSMENT_VIEWED,
            actor=request.user,
            agency=self.agency,
            obj=addendum,
            person_id=addendum.assessment.case_file.person_id,
            detail={"purpose": "addendum", "via": "api"},
        )
        return Response(AddendumSerializer(addendum).data)

    @extend_schema(
        summary="Add an addendum to a signed-off assessment",
        description="After sign-off nothing is edited in place: a change is a dated addendum "
        "with its author and reason.",
        parameters=[IDEMPOTENCY_KEY],
        request=AddendumCreateSerializer,
        responses={201: AddendumSerializer, **WRITE_ERRORS},
    )
    @idempotent
    def create(self, request: Request) -> Response:
        data = AddendumCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = dict(data.validated_data)
        assessment = self._assessment(v.pop("assessment"), "api_addendum")
        section_id = v.pop("section", None)
        section = None
        if section_id is not None:
            section = Section.objects.filter(assessment=assessment, pk=section_id).first()
            if section is None:
                raise serializers.ValidationError(
                    {"section": ["That section is not part of this assessment."]}
                )
        addendum = services.write_addendum(
            assessment=assessment, section=section, by=request.user, agency=self.agency, **v
        )
        addendum = Addendum.objects.select_related("author_agency").get(pk=addendum.pk)
        return Response(
            AddendumSerializer(addendum).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/addenda/{addendum.pk}/"},
        )


def register(router: Any) -> None:
    router.register("assessments", AssessmentViewSet, basename="assessment")
    router.register("sections", SectionViewSet, basename="section")
    router.register("scales", ScaleViewSet, basename="scale")
    router.register("meetings", MeetingViewSet, basename="meeting")
    router.register("care-plans", CarePlanViewSet, basename="care-plan")
    router.register("addenda", AddendumViewSet, basename="addendum")
