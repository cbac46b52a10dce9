"""Every read of the budgets app: which funds an agency may see, their figures and the
reconciliation reports, and (people's data) a person's charges through the visibility rule.

A pooled fund's figures are the partners' business: a finance officer or pool manager of any
partner agency (or a partner system of one, by its budgets scopes) sees them; nobody else does,
and for them a fund answers 404 exactly as one that does not exist. Every read is audited.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Max, Q, QuerySet, Sum
from django.http import Http404

from budgets import allocation
from budgets.models import (
    Account,
    AccountKind,
    AccountPeriodTotal,
    BudgetLine,
    ClientCharge,
    Commitment,
    Contribution,
    Instalment,
    Journal,
    JournalKind,
    LineBudget,
    Period,
    PooledFund,
    Posting,
    financial_year_of,
)
from caretrust.audit import services as audit
from caretrust.directory.models import Agency, Role
from caretrust.people.models import DataClass, case_file_visibility
from caretrust.people.validators import today_in_london
from caretrust.people.validators import whole_number as digits_rule

FINANCE_ROLES = frozenset({Role.FINANCE_OFFICER, Role.POOL_MANAGER})


def whole_number(value: object) -> int:
    """``value`` as an id: a plain ASCII whole number (not "²", not 10**30), else 0 (matches
    no row). The digit rule is the project's one (``caretrust.people.validators``)."""
    return digits_rule(str(value)) or 0


def may_see_figures(roles: Iterable[str] | None) -> bool:
    """Staff need a finance role; ``None`` is a partner system, checked by its scopes."""
    return roles is None or bool(FINANCE_ROLES & set(roles))


def visible_funds(*, agency: Agency, roles: Iterable[str] | None) -> QuerySet[PooledFund]:
    """The funds the agency is a partner of, for finance staff (or a partner system)."""
    if not may_see_figures(roles):
        return PooledFund.objects.none()
    return PooledFund.objects.filter(partners__agency=agency).select_related("host")


def get_fund(
    *, user: Any, agency: Agency, roles: Iterable[str] | None, fund_id: object, purpose: str
) -> PooledFund:
    """A fund the agency may see, or Http404 (missing and hidden alike; the denial audited)."""
    fund = None
    if whole_number(fund_id):
        fund = visible_funds(agency=agency, roles=roles).filter(pk=whole_number(fund_id)).first()
    if fund is None:
        audit.record(
            "access.denied",
            actor=user,
            agency=agency,
            detail={"fund": str(fund_id)[:40], "purpose": purpose},
        )
        raise Http404("No such fund.")
    audit.record(
        "budgets.fund_viewed", actor=user, agency=agency, obj=fund, detail={"purpose": purpose}
    )
    return fund


def require_host_writer(fund: PooledFund, agency: Agency) -> None:
    """Money is posted by the host (its finance staff or its ledger's partner system): another
    partner sees the figures but may not change them (403)."""
    if fund.host_id != agency.pk:
        raise PermissionDenied("Only the host partner posts to this fund.")


# --- figures ---------------------------------------------------------------------------------


def months_elapsed(year: int, today: date | None = None) -> int:
    """How many months of financial year ``year`` have begun by ``today`` (London), 0 to 12."""
    today = today or today_in_london()
    fy = financial_year_of(today)
    if fy < year:
        return 0
    if fy > year:
        return 12
    return (today.month - 4) % 12 + 1


def balances(fund: PooledFund) -> dict[int, int]:
    """Every account's balance (debits minus credits), from the maintained totals: one query."""
    rows = (
        AccountPeriodTotal.objects.filter(account__fund=fund)
        .values("account_id")
        .annotate(d=Sum("debit_pence"), c=Sum("credit_pence"))
    )
    out = dict.fromkeys(fund.accounts.values_list("pk", flat=True), 0)
    for r in rows:
        out[r["account_id"]] = r["d"] - r["c"]
    return out


@dataclass
class TrialBalanceRow:
    account: Account
    debit_pence: int
    credit_pence: int

    @property
    def net_pence(self) -> int:
        return self.debit_pence - self.credit_pence


def trial_balance(fund: PooledFund, *, year: int | None = None) -> list[TrialBalanceRow]:
    """Each account's total debits and credits (of one year, or all time); they sum to zero."""
    totals = AccountPeriodTotal.objects.filter(account__fund=fund)
    if year is not None:
        totals = totals.filter(period__year=year)
    sums = {
        r["account_id"]: (r["d"], r["c"])
        for r in totals.values("account_id").annotate(d=Sum("debit_pence"), c=Sum("credit_pence"))
    }
    return [
        TrialBalanceRow(a, *sums.get(a.pk, (0, 0)))
        for a in fund.accounts.select_related("partner__agency", "line").order_by("kind", "id")
    ]


@dataclass
class ContributionRow:
    partner_id: int
    agency: Agency
    agreed_pence: int
    due_pence: int
    invoiced_pence: int
    received_pence: int
    contribution_account_id: int = 0
    receivable_account_id: int = 0

    @property
    def outstanding_pence(self) -> int:
        return self.invoiced_pence - self.received_pence

    @property
    def behind_pence(self) -> int:
        """What has fallen due by the instalment schedule and not been received."""
        return max(self.due_pence - self.received_pence, 0)


def _by_kind(fund: PooledFund, year: int) -> dict[tuple[int, str, str], int]:
    """(account id, journal kind, side) -> pence, over the year's postings: one query."""
    rows = (
        Posting.objects.filter(account__fund=fund, period__year=year)
        .values("account_id", "journal__kind", "side")
        .annotate(total=Sum("amount_pence"))
        .order_by()
    )
    return {(r["account_id"], r["journal__kind"], r["side"]): r["total"] for r in rows}


def contributions(
    fund: PooledFund, year: int, *, today: date | None = None
) -> list[ContributionRow]:
    """Per partner: the contribution agreed, what has fallen due by the schedule, what the host
    has invoiced and what it has received (net of reversals)."""
    today = today or today_in_london()
    kinds = _by_kind(fund, year)
    accounts = {
        (a.kind, a.partner_id): a.pk
        for a in fund.accounts.filter(kind__in=[AccountKind.CONTRIBUTION, AccountKind.RECEIVABLE])
    }
    agreed = {
        c.partner_id: c.agreed_pence
        for c in Contribution.objects.filter(partner__fund=fund, year=year)
    }
    due: dict[int, int] = defaultdict(int)
    for i in Instalment.objects.filter(
        contribution__partner__fund=fund, contribution__year=year, due_on__lte=today
    ).values("contribution__partner_id", "amount_pence"):
        due[i["contribution__partner_id"]] += i["amount_pence"]
    rows = []
    for partner in fund.partners.select_related("agency").order_by("id"):
        contrib = accounts[(AccountKind.CONTRIBUTION, partner.pk)]
        rec = accounts[(AccountKind.RECEIVABLE, partner.pk)]
        invoiced = sum(
            kinds.get((contrib, k, "C"), 0) - kinds.get((contrib, k, "D"), 0)
            for k in (JournalKind.CONTRIBUTION_INVOICED, JournalKind.REVERSAL, JournalKind.MANUAL)
        )
        received = sum(
            kinds.get((rec, k, "C"), 0) - kinds.get((rec, k, "D"), 0)
            for k in (JournalKind.CONTRIBUTION_RECEIVED,)
        )
        rows.append(
            ContributionRow(
                partner.pk,
                partner.agency,
                agreed.get(partner.pk, 0),
                due.get(partner.pk, 0),
                invoiced,
                received,
                contrib,
                rec,
            )
        )
    return rows


@dataclass
class Month:
    period: Period
    budget_pence: int
    actual_pence: int | None  # None: the month has not begun
    committed_pence: int  # outstanding at the month's end (or now, for months to come)
    forecast_pence: int


@dataclass
class LineReport:
    line: BudgetLine
    budget_pence: int
    months: list[Month] = field(default_factory=list)
    actual_pence: int = 0
    committed_pence: int = 0
    forecast_pence: int = 0
    expenditure_account_id: int = 0
    commitment_account_id: int = 0

    @property
    def variance_pence(self) -> int:
        """Forecast outturn less budget: above zero a forecast overspend."""
        return self.forecast_pence - self.budget_pence


def line_reports(fund: PooledFund, year: int, *, today: date | None = None) -> list[LineReport]:
    """Per budget line and month: budget (the year's budget in twelve equal parts, to the
    penny), actual (net expenditure less client charges), committed (outstanding
    commitments), and forecast.

    The forecast projects to year end: months that have begun show their actual; each month
    to come, the uncommitted run rate (actual so far less what was spent against commitments,
    per month elapsed) plus an equal part of the commitments now outstanding. Its year total
    is actual + outstanding commitments + run rate x months left."""
    elapsed = months_elapsed(year, today)
    periods = list(Period.objects.filter(fund=fund, year=year).order_by("month"))
    lines = list(fund.lines.prefetch_related("accounts").order_by("id"))
    budgets = dict(
        LineBudget.objects.filter(line__fund=fund, year=year).values_list("line_id", "budget_pence")
    )
    net: dict[tuple[int, int], int] = defaultdict(int)
    for t in AccountPeriodTotal.objects.filter(account__fund=fund, period__year=year).values(
        "account_id", "period_id", "debit_pence", "credit_pence"
    ):
        net[(t["account_id"], t["period_id"])] += t["debit_pence"] - t["credit_pence"]
    kinds = _by_kind(fund, year)
    reports = []
    for line in lines:
        accts = {a.kind: a.pk for a in line.accounts.all()}
        spend_ids = [
            accts[k] for k in (AccountKind.EXPENDITURE, AccountKind.CLIENT_CHARGES) if k in accts
        ]
        commit_id = accts[AccountKind.COMMITMENT]
        budget = budgets.get(line.pk, 0)
        parts = allocation.largest_remainder(budget, {m: 1 for m in range(1, 13)})
        report = LineReport(
            line,
            budget,
            expenditure_account_id=accts[AccountKind.EXPENDITURE],
            commitment_account_id=commit_id,
        )
        committed = 0
        actual_so_far = 0
        for p in periods:
            month_actual = sum(net[(a, p.pk)] for a in spend_ids)
            committed += net[(commit_id, p.pk)]
            if p.month <= elapsed:
                actual_so_far += month_actual
        released = sum(
            kinds.get((commit_id, k, "C"), 0)
            for k in (JournalKind.EXPENDITURE, JournalKind.DELAY_REIMBURSEMENT)
        )
        left = 12 - elapsed
        run_rate = max(actual_so_far - released, 0) // elapsed if elapsed else 0
        commit_parts = (
            allocation.largest_remainder(max(committed, 0), {m: 1 for m in range(left)})
            if left
            else {}
        )
        running_commit = 0
        for p in periods:
            running_commit += net[(commit_id, p.pk)]
            actual = sum(net[(a, p.pk)] for a in spend_ids)
            if p.month <= elapsed:
                forecast = actual
                shown: int | None = actual
            else:
                forecast = run_rate + commit_parts.get(p.month - elapsed - 1, 0)
                shown = None
            report.months.append(
                Month(
                    p,
                    parts[p.month],
                    shown,
                    running_commit if p.month <= elapsed else committed,
                    forecast,
                )
            )
        report.actual_pence = actual_so_far
        report.committed_pence = committed
        report.forecast_pence = sum(m.forecast_pence for m in report.months)
        reports.append(report)
    return reports


@dataclass
class AgedCommitment:
    commitment: Commitment
    outstanding_pence: int
    age_days: int

    @property
    def band(self) -> str:
        for limit, name in ((30, "0-30 days"), (60, "31-60 days"), (90, "61-90 days")):
            if self.age_days <= limit:
                return name
        return "Over 90 days"


def aged_commitments(fund: PooledFund, *, today: date | None = None) -> list[AgedCommitment]:
    """Commitments with money still outstanding, oldest first, aged from the service's start
    (or from the last invoice against it). Two queries, whatever their number."""
    today = today or today_in_london()
    commit_accounts = list(
        fund.accounts.filter(kind=AccountKind.COMMITMENT).values_list("pk", flat=True)
    )
    rows = (
        Posting.objects.filter(account_id__in=commit_accounts, journal__commitment__isnull=False)
        .values("journal__commitment_id")
        .annotate(
            d=Sum("amount_pence", filter=Q(side="D")),
            c=Sum("amount_pence", filter=Q(side="C")),
        )
    )
    outstanding = {r["journal__commitment_id"]: (r["d"] or 0) - (r["c"] or 0) for r in rows}
    last_invoice = dict(
        Journal.objects.filter(fund=fund, kind=JournalKind.EXPENDITURE, commitment__isnull=False)
        .values("commitment_id")
        .annotate(last=Max("effective_date"))
        .values_list("commitment_id", "last")
    )
    out = []
    for c in Commitment.objects.filter(
        pk__in=[k for k, v in outstanding.items() if v > 0]
    ).select_related("line"):
        since = last_invoice.get(c.pk) or c.starts_on
        out.append(AgedCommitment(c, outstanding[c.pk], max((today - since).days, 0)))
    out.sort(key=lambda a: -a.age_days)
    return out


def postings(
    fund: PooledFund,
    *,
    account_ids: Iterable[int] | None = None,
    period: Period | None = None,
    kind: str | None = None,
) -> QuerySet[Posting]:
    """The postings behind a figure: of some accounts, in a period, of a journal kind."""
    qs = Posting.objects.filter(account__fund=fund).select_related("journal", "account", "period")
    if account_ids is not None:
        qs = qs.filter(account_id__in=list(account_ids))
    if period is not None:
        qs = qs.filter(period=period)
    if kind:
        qs = qs.filter(journal__kind=kind)
    return qs.order_by("-journal__effective_date", "-id")


def person_charges(*, user: Any, agency: Agency, person_id: Any) -> list[ClientCharge]:
    """A person's client charges, only from case files the agency may see for finance (the
    one visibility rule); audited with the charges returned."""
    charges = list(
        ClientCharge.objects.filter(case_file__person_id=person_id)
        .filter(case_file_visibility(agency, DataClass.FINANCE, user, path="case_file"))
        .select_related("journal", "line")
        .order_by("-journal__effective_date")
    )
    audit.record(
        "budgets.charges_viewed",
        actor=user,
        agency=agency,
        person_id=person_id,
        detail={"charges": [c.pk for c in charges]},
    )
    return charges
