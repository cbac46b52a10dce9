"""REST endpoints under /api/v1/. Thin: every read of people's data is a selector's (the same
ones the browser's views call), which starts from the visibility rule and writes the read's
audit row; every write is a service's. No viewset builds a queryset of people's data or
writes to the audit trail itself: a list hands its selector its filters and cursor page."""

from __future__ import annotations

from typing import Any, ClassVar

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import exceptions as drf_exceptions
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from caretrust.api import serializers as s
from caretrust.api.auth import ActsForAnAgency, HasResourceScope
from caretrust.api.conventions import (
    MAX_KEY,
    Cursor,
    Problem,
    ProblemJSONRenderer,
    etag_for,
    idempotent,
    required_version,
    stale,
)
from caretrust.people import selectors as people_selectors
from caretrust.people import services as people_services
from caretrust.people.models import CaseFile, Person
from caretrust.people.validators import normalise_nhs_number
from caretrust.sharing import selectors as sharing_selectors
from caretrust.sharing import services as sharing_services
from caretrust.sharing.models import SharingBasis


def _problem(status_code: int, description: str) -> dict[tuple[int, str], OpenApiResponse]:
    # Errors are served as application/problem+json, so that is the media type documented.
    return {
        (status_code, ProblemJSONRenderer.media_type): OpenApiResponse(
            s.ProblemSerializer, description=description
        )
    }


COMMON_ERRORS = {
    **_problem(
        400,
        "Malformed request, invalid fields, or a query parameter the endpoint does not take "
        "(field-level errors name each).",
    ),
    **_problem(401, "No valid bearer token or session."),
    **_problem(403, "Visible, but this client or role may not do this."),
    **_problem(404, "Does not exist or is not visible to your agency (indistinguishable)."),
    **_problem(429, "Rate limit exceeded; see Retry-After."),
}
WRITE_ERRORS = {
    **COMMON_ERRORS,
    **_problem(
        403,
        "This client lacks the resource's write scope (answered for every id, visible or not, "
        "before any lookup, so it reveals nothing), or this role may not do this.",
    ),
    **_problem(409, "A request with this Idempotency-Key is still being processed."),
    **_problem(422, "This Idempotency-Key was used with a different request body."),
}
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    # 1 to MAX_KEY characters once surrounding spaces are trimmed.
    {"type": "string", "minLength": 1, "maxLength": MAX_KEY, "pattern": r"\S"},
    OpenApiParameter.HEADER,
    required=False,
    description="Any unique string up to 200 characters. A retry with the same key and body "
    "returns the first response instead of acting twice.",
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description='The ETag from your last read, e.g. "<id>-v3". Required.',
)
PERSON_EXAMPLE = OpenApiExample(
    "A person",
    value={
        "nhs_number": "943 476 5919",
        "given_name": "Margaret",
        "family_name": "Holroyd",
        "date_of_birth": "1938-04-12",
        "address_line_1": "14 Mill Lane",
        "address_line_2": "",
        "town": "Calderbridge",
        "postcode": "HX1 2AB",
        "gp_practice": "northgate-surgery",
    },
    request_only=True,
)


class AgencyScopedViewSet(viewsets.GenericViewSet):
    """Common ground: acts for one agency, checks scopes, pages with a cursor."""

    permission_classes = [ActsForAnAgency, HasResourceScope]
    pagination_class = Cursor
    scope_group = ""
    lookup_value_regex = "[^/]+"

    # Query parameters an action reads itself, beyond a list's filters and page (each also
    # documented in the action's schema), by action name.
    action_query_params: ClassVar[dict[str, frozenset[str]]] = {}

    @property
    def agency(self) -> Any:
        return self.request.agency  # type: ignore[attr-defined]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if self.action is not None:  # None: a method the route lacks, answered 405 next
            self._refuse_unknown_query_params(request)

    def known_query_params(self) -> set[str]:
        """What this action reads from the query string: a list's filters (one parameter each)
        and cursor page, and whatever ``action_query_params`` names for the action."""
        known = set(self.action_query_params.get(self.action or "", frozenset()))
        if self.action == "list":
            filterset = getattr(self, "filterset_class", None)
            if filterset is not None and self.filter_backends:
                known |= set(filterset.base_filters)
            paginator = self.paginator
            if paginator is not None:
                known |= {
                    name
                    for name in (
                        getattr(paginator, "cursor_query_param", None),
                        getattr(paginator, "page_size_query_param", None),
                    )
                    if name
                }
        return known

    def _refuse_unknown_query_params(self, request: Request) -> None:
        """A parameter the action does not know is a 400 naming it, not silently ignored: a
        partner's ``?pk=`` or ``?person__in=`` must not look like a filter that worked and
        answered with everything."""
        known = self.known_query_params()
        unknown = sorted(set(request.query_params) - known)
        if unknown:
            expected = ", ".join(sorted(known)) if known else "none"
            raise drf_exceptions.ValidationError(
                {
                    name[:100]: [f"Unknown query parameter; this endpoint takes: {expected}."]
                    for name in unknown[:20]
                }
            )

    def _page(self, queryset: QuerySet[Any]) -> list[Any]:
        """A list endpoint's part in its selector's read: its filters, then the cursor page."""
        page = self.paginate_queryset(self.filter_queryset(queryset))
        assert page is not None
        return page


NON_EMPTY_STRING = {"type": "string", "minLength": 1}


@extend_schema_field(NON_EMPTY_STRING)
class NonEmptyCharFilter(django_filters.CharFilter):
    """A text filter; documented as non-empty (StrictFilterSet refuses an empty one)."""


class StrictFilterSet(django_filters.FilterSet):
    """A filter sent with no value, or a yes/no filter that is neither, is an error, not
    silently ignored: ``?person=`` from a blank variable must not answer with everything."""

    def is_valid(self) -> bool:
        valid = bool(super().is_valid())
        for name, flt in self.filters.items():
            if name not in self.data:
                continue
            value = str(self.data.get(name, "")).strip()
            if not value:
                self.form.add_error(name, "Give a value, or leave this filter out.")
                valid = False
            elif isinstance(flt, django_filters.BooleanFilter) and value not in ("true", "false"):
                self.form.add_error(name, "Give true or false.")
                valid = False
        return valid


class PersonFilter(StrictFilterSet):
    nhs_number = django_filters.CharFilter(method="filter_nhs_number")
    family_name = NonEmptyCharFilter(field_name="family_name", lookup_expr="iexact")
    # ISO 8601 only, as documented and as in request bodies (not the browser's 12/04/1938).
    date_of_birth = django_filters.DateFilter(
        field_name="date_of_birth", input_formats=["%Y-%m-%d"]
    )

    class Meta:
        model = Person
        fields = ["nhs_number", "family_name", "date_of_birth"]

    @extend_schema_field({**NON_EMPTY_STRING, "description": "10 digits; spaces allowed."})
    def filter_nhs_number(
        self, queryset: QuerySet[Person], name: str, value: str
    ) -> QuerySet[Person]:
        try:
            return queryset.filter(nhs_number=normalise_nhs_number(value))
        except ValidationError as exc:
            raise drf_exceptions.ValidationError({"nhs_number": exc.messages}) from None


@extend_schema_view(
    list=extend_schema(
        summary="Find people your agency may see",
        description="Look up by NHS number, or filter by family name and date "
        "of birth. Only people on whom your agency may see a case "
        "file are returned; the ids returned are audited.",
        responses={200: s.PersonSerializer(many=True), **COMMON_ERRORS},
    ),
    retrieve=extend_schema(
        summary="Read a person", responses={200: s.PersonSerializer, **COMMON_ERRORS}
    ),
)
class PersonViewSet(AgencyScopedViewSet):
    serializer_class = s.PersonSerializer
    filterset_class = PersonFilter
    scope_group = "persons"
    queryset = Person.objects.none()
    action_query_params = {"access_report": frozenset({"page"})}

    def get_object(self) -> Person:
        return people_selectors.get_visible_person(
            user=self.request.user, agency=self.agency, person_id=self.kwargs["pk"], purpose="api"
        )

    def list(self, request: Request) -> Response:
        page = people_selectors.list_persons(
            user=request.user, agency=self.agency, page=self._page, query=request.query_params
        )
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        person = self.get_object()
        return Response(self.get_serializer(person).data, headers={"ETag": etag_for(person)})

    @extend_schema(
        summary="Register a person, or take on one already registered",
        description="Opens your agency's case file on the person: registering them if "
        "the NHS number is new, or, if it is already registered, taking on that person "
        "(your own file; nothing of any other agency's files comes with it). The answer "
        "is the same either way: 201 and the person as your file now shows them. Details "
        "you send that differ from the person's record do not change it; they are noted "
        "in your file for reconciliation with PDS.",
        parameters=[IDEMPOTENCY_KEY],
        examples=[PERSON_EXAMPLE],
        responses={201: s.PersonSerializer, **WRITE_ERRORS},
    )
    @idempotent
    def create(self, request: Request) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        person = people_services.take_on_person(
            agency=self.agency, by=request.user, **serializer.validated_data
        ).person
        return Response(
            self.get_serializer(person).data,
            status=status.HTTP_201_CREATED,
            headers={"ETag": etag_for(person), "Location": f"/api/v1/persons/{person.pk}/"},
        )

    @extend_schema(
        summary="Update a person's demographics",
        description="Send If-Match with the ETag from your last read. 428 without "
        "it, 412 if someone changed the record since. Only an agency "
        "with its own case file on the person may change it (else 403).",
        parameters=[IF_MATCH],
        request=s.PersonUpdateSerializer,
        responses={
            200: s.PersonSerializer,
            **COMMON_ERRORS,
            **_problem(412, "Stale ETag."),
            **_problem(428, "If-Match missing."),
        },
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        person = self.get_object()
        version = required_version(request, person)
        serializer = s.PersonUpdateSerializer(person, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        try:
            updated = people_services.update_demographics(
                person=person,
                expected_version=version,
                changes=dict(serializer.validated_data),
                agency=self.agency,
                by=request.user,
            )
        except people_services.StaleVersion:
            raise stale() from None
        return Response(self.get_serializer(updated).data, headers={"ETag": etag_for(updated)})

    @extend_schema(
        summary="Who has seen this person's record",
        description="For a subject access request. Staff sessions of a Caldicott "
        "guardian or agency administrator of an agency holding a file "
        "on the person; partner clients are refused (403).",
        parameters=[
            OpenApiParameter(
                "page",
                OpenApiTypes.INT,
                OpenApiParameter.QUERY,
                required=False,
                description="Page number, from 1.",
            )
        ],
        # One page of the report ({count, page, results}), not a cursor-paged, filtered list.
        responses={200: s.AccessReportSerializer, **COMMON_ERRORS},
    )
    @action(
        detail=True,
        methods=["get"],
        url_path="access-report",
        filter_backends=[],
        pagination_class=None,
    )
    def access_report(self, request: Request, pk: str) -> Response:
        person = self.get_object()
        if getattr(request, "partner", None) is not None:
            raise Problem(
                403,
                "Forbidden",
                "Access reports are for staff with a governance role, not for partner systems.",
                "forbidden",
            )
        number = request.query_params.get("page", "1")
        if not (number.isascii() and number.isdigit() and int(number) >= 1):
            raise drf_exceptions.ValidationError({"page": ["Give a page number: 1 or more."]})
        page = sharing_selectors.access_report(
            user=request.user, agency=self.agency, person=person, page=int(number)
        )
        return Response(
            {
                "count": page.paginator.count,
                "page": page.number,
                "results": s.AuditEventSerializer(page.object_list, many=True).data,
            }
        )


class CaseFileFilter(StrictFilterSet):
    person = django_filters.UUIDFilter(field_name="person_id")
    agency = NonEmptyCharFilter(field_name="agency__slug")
    open = django_filters.BooleanFilter(field_name="closed_on", lookup_expr="isnull")

    class Meta:
        model = CaseFile
        fields = ["person", "agency", "open"]


@extend_schema_view(
    list=extend_schema(
        summary="Case files your agency may see",
        responses={200: s.CaseFileSerializer(many=True), **COMMON_ERRORS},
    ),
    retrieve=extend_schema(
        summary="Read a case file", responses={200: s.CaseFileSerializer, **COMMON_ERRORS}
    ),
)
class CaseFileViewSet(AgencyScopedViewSet):
    serializer_class = s.CaseFileSerializer
    filterset_class = CaseFileFilter
    scope_group = "casefiles"
    queryset = CaseFile.objects.none()

    def list(self, request: Request) -> Response:
        page = people_selectors.list_case_files(
            user=request.user, agency=self.agency, page=self._page
        )
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        case_file = people_selectors.get_visible_case_file(
            user=request.user, agency=self.agency, case_file_id=pk, via="api"
        )
        return Response(self.get_serializer(case_file).data, headers={"ETag": etag_for(case_file)})


class BasisCursor(Cursor):
    ordering = ("-recorded_at", "id")


class SharingBasisFilter(StrictFilterSet):
    person = django_filters.UUIDFilter(field_name="person_id")
    status = NonEmptyCharFilter(field_name="status")

    class Meta:
        model = SharingBasis
        fields = ["person", "status"]


@extend_schema_view(
    list=extend_schema(
        summary="Sharing bases that concern your agency",
        description="Bases on your agency's own files, and bases that let your "
        "agency see another's, for people your agency may see.",
        responses={200: s.SharingBasisSerializer(many=True), **COMMON_ERRORS},
    ),
    retrieve=extend_schema(
        summary="Read a sharing basis", responses={200: s.SharingBasisSerializer, **COMMON_ERRORS}
    ),
)
class SharingBasisViewSet(AgencyScopedViewSet):
    serializer_class = s.SharingBasisSerializer
    filterset_class = SharingBasisFilter
    scope_group = "sharing"
    queryset = SharingBasis.objects.none()
    pagination_class = BasisCursor

    def _get(self, pk: str, *, audit_view: bool = True) -> SharingBasis:
        return sharing_selectors.get_visible_basis(
            user=self.request.user,
            agency=self.agency,
            basis_id=pk,
            audit_view=audit_view,
            via="api",
        )

    def list(self, request: Request) -> Response:
        page = sharing_selectors.list_bases(user=request.user, agency=self.agency, page=self._page)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request: Request, pk: str) -> Response:
        basis = self._get(pk)
        return Response(self.get_serializer(basis).data, headers={"ETag": etag_for(basis)})

    @extend_schema(
        summary="Record consent to share, or a refusal",
        description="For your agency's own case file on the person. provision "
        '"deny" records a refusal, which always wins. Break-glass is '
        "not available through the API.",
        parameters=[IDEMPOTENCY_KEY],
        request=s.ConsentRequestSerializer,
        examples=[
            OpenApiExample(
                "Consent to share with the council",
                value={
                    "person": "3f1c1d2e-8a4b-4c51-9a55-0f7f1b2f5e10",
                    "recipient_agency": "calderbridge-council",
                    "data_classes": ["demographics", "assessments"],
                    "purpose": "discharge",
                    "provision": "permit",
                    "grantor": "person",
                    "grantor_name": "Margaret Holroyd",
                    "evidence": "verbal",
                },
                request_only=True,
            )
        ],
        responses={201: s.SharingBasisSerializer, **WRITE_ERRORS},
    )
    @idempotent
    def create(self, request: Request) -> Response:
        data = s.ConsentRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        person = people_selectors.get_visible_person(
            user=request.user,
            agency=self.agency,
            person_id=values.pop("person"),
            purpose="record_consent",
        )
        sharing_selectors.require_own_file(
            user=request.user, agency=self.agency, person=person, purpose="record_consent"
        )
        basis = sharing_services.record_consent(
            person=person, holding_agency=self.agency, by=request.user, **values
        )
        return Response(
            self.get_serializer(basis).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/sharing-bases/{basis.pk}/", "ETag": etag_for(basis)},
        )

    @extend_schema(
        summary="Withdraw a sharing basis",
        description="Takes effect on the recipient's very next request.",
        parameters=[IDEMPOTENCY_KEY],
        request=s.WithdrawRequestSerializer,
        responses={200: s.SharingBasisSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def withdraw(self, request: Request, pk: str) -> Response:
        data = s.WithdrawRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        basis = self._get(pk, audit_view=False)  # the withdrawal's own row accounts for it
        updated = sharing_services.withdraw_basis(
            basis=basis,
            by=request.user,
            acting_agency=self.agency,
            reason=data.validated_data["reason"],
        )
        return Response(self.get_serializer(updated).data, headers={"ETag": etag_for(updated)})
