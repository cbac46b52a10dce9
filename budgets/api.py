"""The budgets endpoints under /api/v1/ (scopes ``budgets:read`` / ``budgets:write``): funds
and their reconciliation, accounts with balances, journals (POST with Idempotency-Key, the way
a host's ledger feeds the pool; reversal), commitments, and care package events posted by hand.

A fund is visible to the agencies that are its partners (finance staff, or a partner system);
anything else answers 404. Only the host posts (403 for another partner)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import QuerySet, Sum
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from budgets import ledger, selectors, services
from budgets.models import (
    Account,
    AccountPeriodTotal,
    Commitment,
    Journal,
    JournalKind,
    PooledFund,
    Side,
    financial_year_of,
)
from budgets.selectors import whole_number
from caretrust.api.conventions import Cursor, idempotent
from caretrust.api.serializers import StrictSerializerMixin
from caretrust.api.views import (
    COMMON_ERRORS,
    IDEMPOTENCY_KEY,
    WRITE_ERRORS,
    AgencyScopedViewSet,
    StrictFilterSet,
)
from caretrust.audit import services as audit
from caretrust.people.validators import today_in_london

# --- serializers -------------------------------------------------------------------------------


class FundSerializer(serializers.ModelSerializer):
    host = serializers.CharField(source="host.slug", read_only=True)
    partners = serializers.SerializerMethodField()

    class Meta:
        model = PooledFund
        fields = ["id", "name", "slug", "legal_basis", "client_group", "host", "partners"]

    def get_partners(self, fund: PooledFund) -> list[str]:
        return [p.agency.slug for p in fund.partners.all()]


class AccountSerializer(serializers.ModelSerializer):
    balance_pence = serializers.SerializerMethodField()

    class Meta:
        model = Account
        fields = ["id", "fund", "kind", "partner", "line", "name", "balance_pence"]

    def get_balance_pence(self, account: Account) -> int:
        cached = self.context.get("balances")
        return cached[account.pk] if cached is not None else ledger.balance(account)


class PostingOutSerializer(serializers.Serializer):
    account = serializers.IntegerField(source="account_id")
    side = serializers.SerializerMethodField()
    amount_pence = serializers.IntegerField()

    def get_side(self, posting: Any) -> str:
        return "debit" if posting.side == Side.DEBIT else "credit"


class JournalSerializer(serializers.ModelSerializer):
    postings = PostingOutSerializer(many=True, read_only=True)
    period = serializers.CharField(source="period.__str__", read_only=True)

    class Meta:
        model = Journal
        fields = [
            "id",
            "fund",
            "period",
            "effective_date",
            "posted_at",
            "kind",
            "reference",
            "memo",
            "reverses",
            "commitment",
            "postings",
        ]


@extend_schema_field({"type": "integer", "minimum": 1})
class PenceField(serializers.Field):
    """A whole number of pence above zero, as a JSON number: "12.50" or 12.5 is refused, not
    rounded (money is never rounded on the way in)."""

    def to_internal_value(self, data: Any) -> int:
        if not isinstance(data, int) or isinstance(data, bool):
            raise serializers.ValidationError(
                "Give amount_pence as a whole number of pence (e.g. 1250 for £12.50)."
            )
        if data <= 0:
            raise serializers.ValidationError(
                "The amount must be above zero; the side says which way it goes."
            )
        return data

    def to_representation(self, value: Any) -> int:
        return int(value)


_POUNDS = re.compile(r"^\d+(\.\d{1,2})?$")


class PostingInSerializer(StrictSerializerMixin, serializers.Serializer):
    account = serializers.IntegerField(min_value=1)
    side = serializers.ChoiceField(choices=["debit", "credit"])
    amount_pence = PenceField(required=False, help_text="Whole pence, above zero.")
    amount = serializers.CharField(
        required=False, max_length=20, help_text='Pounds with at most two decimals, e.g. "12.50".'
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        has_pence, has_pounds = "amount_pence" in data, "amount" in data
        if has_pence == has_pounds:
            raise serializers.ValidationError(
                'Give exactly one of amount_pence (whole pence) or amount (pounds, e.g. "12.50").'
            )
        if has_pounds:
            text = data.pop("amount").strip()
            if text.startswith("-"):
                raise serializers.ValidationError(
                    {"amount": "The amount must be above zero; the side says which way it goes."}
                )
            if not _POUNDS.match(text):
                raise serializers.ValidationError(
                    {"amount": "Pounds with at most two decimal places (whole pence), e.g. 12.50."}
                )
            data["amount_pence"] = int(Decimal(text) * 100)
            if data["amount_pence"] <= 0:
                raise serializers.ValidationError({"amount": "The amount must be above zero."})
        return data


class JournalInSerializer(StrictSerializerMixin, serializers.Serializer):
    fund = serializers.IntegerField(min_value=1)
    effective_date = serializers.DateField(input_formats=["%Y-%m-%d"])
    kind = serializers.ChoiceField(
        choices=[
            JournalKind.MANUAL,
            JournalKind.EXPENDITURE,
            JournalKind.CONTRIBUTION_INVOICED,
            JournalKind.CONTRIBUTION_RECEIVED,
            JournalKind.TRANSFER,
        ],
        default=JournalKind.MANUAL,
    )
    reference = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    memo = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    postings = serializers.ListField(child=PostingInSerializer(), min_length=2, max_length=200)


class ReverseSerializer(StrictSerializerMixin, serializers.Serializer):
    effective_date = serializers.DateField(input_formats=["%Y-%m-%d"])
    memo = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class CommitmentSerializer(serializers.ModelSerializer):
    outstanding_pence = serializers.SerializerMethodField()

    class Meta:
        model = Commitment
        fields = [
            "id",
            "fund",
            "line",
            "year",
            "care_plan_id",
            "service_id",
            "version",
            "weekly_cost_pence",
            "starts_on",
            "ends_on",
            "total_pence",
            "outstanding_pence",
        ]

    def get_outstanding_pence(self, commitment: Commitment) -> int:
        return services.outstanding(commitment)


class CareEventSerializer(StrictSerializerMixin, serializers.Serializer):
    type = serializers.ChoiceField(choices=sorted(services.CARE_EVENT_TYPES.values()))
    payload = serializers.DictField()


# --- views -------------------------------------------------------------------------------------


def _roles(request: Request) -> Any:
    """None for a partner system (its scopes decide), else the member of staff's roles."""
    if getattr(request, "partner", None) is not None:
        return None
    return getattr(request, "roles", frozenset())


def _ledger_error(exc: ValidationError) -> serializers.ValidationError:
    detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
    return serializers.ValidationError(detail)


class ById(Cursor):
    ordering = ("id", "pk")


class NewestFirst(Cursor):
    ordering = ("-id", "-pk")


class BudgetsViewSet(AgencyScopedViewSet):
    scope_group = "budgets"
    pagination_class = ById

    def funds(self) -> QuerySet[PooledFund]:
        return selectors.visible_funds(agency=self.agency, roles=_roles(self.request))

    def fund(self, fund_id: Any, purpose: str) -> PooledFund:
        return selectors.get_fund(
            user=self.request.user,
            agency=self.agency,
            roles=_roles(self.request),
            fund_id=fund_id,
            purpose=purpose,
        )

    def audit_list(self, what: str, ids: list[Any]) -> None:
        audit.record(
            "budgets.report_viewed",
            actor=self.request.user,
            agency=self.agency,
            detail={"report": what, "ids": ids[:100], "via": "api"},
        )


class FundFilter(StrictFilterSet):
    fund = django_filters.NumberFilter(field_name="fund_id")


@extend_schema_view(
    list=extend_schema(
        summary="Pooled funds your agency is a partner of",
        responses={200: FundSerializer(many=True), **COMMON_ERRORS},
    ),
    retrieve=extend_schema(
        summary="A pooled fund", responses={200: FundSerializer, **COMMON_ERRORS}
    ),
)
class FundViewSet(BudgetsViewSet):
    serializer_class = FundSerializer
    queryset = PooledFund.objects.none()
    action_query_params = {"reconciliation": frozenset({"year"})}

    def get_queryset(self) -> QuerySet[PooledFund]:
        return self.funds().prefetch_related("partners__agency").order_by("id")

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        assert page is not None
        response = self.get_paginated_response(self.get_serializer(page, many=True).data)
        self.audit_list("funds", [f.pk for f in page])
        return response

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(self.get_serializer(self.fund(pk, "api")).data)

    @extend_schema(
        summary="Reconciliation: contributions, budget lines, trial balance",
        responses={200: dict, **COMMON_ERRORS},
    )
    @action(detail=True, methods=["get"])
    def reconciliation(self, request: Request, pk: str) -> Response:
        fund = self.fund(pk, "api_reconciliation")
        year = request.query_params.get("year", "")
        if year and not 2000 <= whole_number(year) <= 2100:
            raise serializers.ValidationError(
                {"year": ["Give the financial year's first year, e.g. 2026."]}
            )
        fy = whole_number(year) if year else financial_year_of(today_in_london())
        rows = selectors.trial_balance(fund)
        return Response(
            {
                "year": fy,
                "contributions": [
                    {
                        "partner": r.agency.slug,
                        "agreed_pence": r.agreed_pence,
                        "due_pence": r.due_pence,
                        "invoiced_pence": r.invoiced_pence,
                        "received_pence": r.received_pence,
                        "behind_pence": r.behind_pence,
                    }
                    for r in selectors.contributions(fund, fy)
                ],
                "lines": [
                    {
                        "line": r.line.code,
                        "budget_pence": r.budget_pence,
                        "actual_pence": r.actual_pence,
                        "committed_pence": r.committed_pence,
                        "forecast_pence": r.forecast_pence,
                        "months": [
                            {
                                "month": str(m.period),
                                "budget_pence": m.budget_pence,
                                "actual_pence": m.actual_pence,
                                "committed_pence": m.committed_pence,
                                "forecast_pence": m.forecast_pence,
                            }
                            for m in r.months
                        ],
                    }
                    for r in selectors.line_reports(fund, fy)
                ],
                "aged_commitments": [
                    {
                        "commitment": a.commitment.pk,
                        "outstanding_pence": a.outstanding_pence,
                        "band": a.band,
                    }
                    for a in selectors.aged_commitments(fund)
                ],
                "trial_balance": {
                    "debit_pence": sum(r.debit_pence for r in rows),
                    "credit_pence": sum(r.credit_pence for r in rows),
                },
            }
        )


@extend_schema_view(
    list=extend_schema(
        summary="Accounts with balances",
        responses={200: AccountSerializer(many=True), **COMMON_ERRORS},
    ),
    retrieve=extend_schema(
        summary="An account and its balance", responses={200: AccountSerializer, **COMMON_ERRORS}
    ),
)
class AccountViewSet(BudgetsViewSet):
    serializer_class = AccountSerializer
    queryset = Account.objects.none()
    filterset_class = FundFilter

    def get_queryset(self) -> QuerySet[Account]:
        return Account.objects.filter(fund__in=self.funds()).order_by("id")

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        assert page is not None
        sums = {
            r["account_id"]: r["d"] - r["c"]
            for r in AccountPeriodTotal.objects.filter(account__in=[a.pk for a in page])
            .values("account_id")
            .annotate(d=Sum("debit_pence"), c=Sum("credit_pence"))
        }
        balances = {a.pk: sums.get(a.pk, 0) for a in page}
        data = AccountSerializer(page, many=True, context={"balances": balances}).data
        response = self.get_paginated_response(data)
        self.audit_list("accounts", [a.pk for a in page])
        return response

    def retrieve(self, request: Request, pk: str) -> Response:
        account = self.get_queryset().filter(pk=whole_number(pk)).first()
        if account is None:
            self.fund("missing", "api_account")  # audits the denial, answers 404
            raise AssertionError("unreachable")
        self.fund(account.fund_id, "api_account")
        return Response(self.get_serializer(account).data)


@extend_schema_view(
    list=extend_schema(
        summary="Journals", responses={200: JournalSerializer(many=True), **COMMON_ERRORS}
    ),
    retrieve=extend_schema(
        summary="A journal and its postings", responses={200: JournalSerializer, **COMMON_ERRORS}
    ),
)
class JournalViewSet(BudgetsViewSet):
    serializer_class = JournalSerializer
    queryset = Journal.objects.none()
    filterset_class = FundFilter
    pagination_class = NewestFirst  # type: ignore[assignment]

    def get_queryset(self) -> QuerySet[Journal]:
        return (
            Journal.objects.filter(fund__in=self.funds())
            .select_related("period")
            .prefetch_related("postings")
            .order_by("-id")
        )

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        assert page is not None
        response = self.get_paginated_response(self.get_serializer(page, many=True).data)
        self.audit_list("journals", [j.pk for j in page])
        return response

    def _journal(self, pk: str, purpose: str) -> Journal:
        journal = self.get_queryset().filter(pk=whole_number(pk)).first()
        if journal is None:
            self.fund("missing", purpose)
            raise AssertionError("unreachable")
        self.fund(journal.fund_id, purpose)
        return journal

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(self.get_serializer(self._journal(pk, "api_journal")).data)

    @extend_schema(
        summary="Post a journal (the host's ledger feeding the pool)",
        description="Debits must equal credits; each amount is whole pence above zero "
        "(amount_pence) or pounds with at most two decimals (amount), the side saying which way "
        "it goes; every account is the fund's; the effective date is in an open period. Send an "
        "Idempotency-Key: a retry returns the first journal.",
        parameters=[IDEMPOTENCY_KEY],
        request=JournalInSerializer,
        responses={201: JournalSerializer, **WRITE_ERRORS},
    )
    @idempotent
    def create(self, request: Request) -> Response:
        body = JournalInSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        fund = self.fund(data["fund"], "api_post")
        selectors.require_host_writer(fund, self.agency)
        accounts = {
            a.pk: a for a in Account.objects.filter(pk__in=[p["account"] for p in data["postings"]])
        }
        errors = [
            f"postings[{n}].account: no account {p['account']} in this fund."
            for n, p in enumerate(data["postings"])
            if p["account"] not in accounts or accounts[p["account"]].fund_id != fund.pk
        ]
        if errors:
            raise serializers.ValidationError({"postings": errors})
        lines = [
            ledger.Line(
                accounts[p["account"]],
                Side.DEBIT if p["side"] == "debit" else Side.CREDIT,
                p["amount_pence"],
            )
            for p in data["postings"]
        ]
        key = request.headers.get("Idempotency-Key")
        try:
            journal = ledger.post_journal(
                fund=fund,
                kind=data["kind"],
                effective_date=data["effective_date"],
                lines=lines,
                by=request.user,
                agency=self.agency,
                reference=data["reference"],
                memo=data["memo"],
                idempotency_key=f"api:{key.strip()}" if key else None,
            )
        except ValidationError as exc:
            raise _ledger_error(exc) from None
        journal = self.get_queryset().get(pk=journal.pk)
        return Response(
            self.get_serializer(journal).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/journals/{journal.pk}/"},
        )

    @extend_schema(
        summary="Reverse a journal (once; a reversal is never reversed)",
        parameters=[IDEMPOTENCY_KEY],
        request=ReverseSerializer,
        responses={201: JournalSerializer, **WRITE_ERRORS},
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def reverse(self, request: Request, pk: str) -> Response:
        journal = self._journal(pk, "api_reverse")
        selectors.require_host_writer(journal.fund, self.agency)
        body = ReverseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            reversal = ledger.reverse_journal(
                journal=journal, by=request.user, agency=self.agency, **body.validated_data
            )
        except ValidationError as exc:
            raise _ledger_error(exc) from None
        reversal = self.get_queryset().get(pk=reversal.pk)
        return Response(self.get_serializer(reversal).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(
        summary="Commitments", responses={200: CommitmentSerializer(many=True), **COMMON_ERRORS}
    ),
    retrieve=extend_schema(
        summary="A commitment", responses={200: CommitmentSerializer, **COMMON_ERRORS}
    ),
)
class CommitmentViewSet(BudgetsViewSet):
    serializer_class = CommitmentSerializer
    queryset = Commitment.objects.none()
    filterset_class = FundFilter

    def get_queryset(self) -> QuerySet[Commitment]:
        return Commitment.objects.filter(fund__in=self.funds()).order_by("id")

    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        assert page is not None
        response = self.get_paginated_response(self.get_serializer(page, many=True).data)
        self.audit_list("commitments", [c.pk for c in page])
        return response

    def retrieve(self, request: Request, pk: str) -> Response:
        commitment = self.get_queryset().filter(pk=whole_number(pk)).first()
        if commitment is None:
            self.fund("missing", "api_commitment")
            raise AssertionError("unreachable")
        self.fund(commitment.fund_id, "api_commitment")
        return Response(self.get_serializer(commitment).data)


class CareEventViewSet(BudgetsViewSet):
    serializer_class = CareEventSerializer
    queryset = Commitment.objects.none()

    @extend_schema(
        summary="Post a care package event by hand",
        description="Where the assessments app does not yet announce care packages: the same "
        "event (care_package.authorised, .changed or .ended, payload as in the event contract) "
        "through the same outbox. The case file must be your agency's own.",
        parameters=[IDEMPOTENCY_KEY],
        request=CareEventSerializer,
        responses={202: dict, **WRITE_ERRORS},
    )
    @idempotent
    def create(self, request: Request) -> Response:
        body = CareEventSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            event = services.post_care_package_event(
                event_type=body.validated_data["type"],
                payload=body.validated_data["payload"],
                by=request.user,
                agency=self.agency,
            )
        except ValidationError as exc:
            raise _ledger_error(exc) from None
        return Response(
            {"event_id": str(event.event_id), "type": event.type}, status=status.HTTP_202_ACCEPTED
        )
