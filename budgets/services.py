"""Every write of the budgets app: setting up a pooled fund, and each way money moves in it
(each through the one posting service, ``budgets.ledger``), commitments, month-end close and
the year-end risk share.

Section 75 of the NHS Act 2006 (section 31 of the Health Act 1999 before it) lets an NHS body
and a council pay agreed contributions into one pooled fund, hosted by one partner and run by a
pool manager, each partner staying accountable for its share; the Better Care Fund pools money
the same way.
"""

from __future__ import annotations

import calendar
import csv
import io
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from budgets import allocation
from budgets.ledger import Draft, LedgerError, Line, drift, period_for, post_drafts, post_journal
from budgets.models import (
    Account,
    AccountKind,
    BudgetLine,
    ClientCharge,
    CloseRun,
    CloseStatus,
    Commitment,
    Contribution,
    FundPartner,
    Instalment,
    Journal,
    JournalKind,
    LineBudget,
    Period,
    PeriodStatus,
    PooledFund,
    Posting,
    RiskSharePercentage,
    RiskShareRule,
    ShareMethod,
    Side,
    StatementImport,
    StatementLine,
    Variance,
    financial_year_bounds,
    financial_year_of,
)
from caretrust.audit import services as audit
from caretrust.directory.models import Agency, Membership, Role
from caretrust.people.models import CaseFile, DataClass

D, C = Side.DEBIT, Side.CREDIT


class BudgetError(LedgerError):
    """A request the budgets app refuses, with a message a finance officer can act on."""


# --- setting up a fund ------------------------------------------------------------------------


@transaction.atomic
def create_fund(
    *,
    name: str,
    slug: str,
    legal_basis: str,
    client_group: str,
    host: Agency,
    pool_manager: Any,
    by: Any = None,
) -> PooledFund:
    """A pooled fund hosted by ``host``; its pool manager must hold the pool manager role
    there (the single accountable officer). The host is its first partner."""
    if (
        not Membership.objects.current()
        .filter(user=pool_manager, agency=host, role=Role.POOL_MANAGER)
        .exists()
    ):
        raise BudgetError(
            {"pool_manager": ["The pool manager must be a pool manager at the host."]}
        )
    fund = PooledFund.objects.create(
        name=name,
        slug=slug,
        legal_basis=legal_basis,
        client_group=client_group,
        host=host,
        pool_manager=pool_manager,
    )
    for kind in (
        AccountKind.CASH,
        AccountKind.COMMITMENTS_CONTRA,
        AccountKind.ACCRUALS,
        AccountKind.CHARGES_RECEIVABLE,
    ):
        Account.objects.create(fund=fund, kind=kind, name=f"{AccountKind(kind).label}")
    add_partner(fund=fund, agency=host)
    audit.record("budgets.fund_created", actor=by, agency=host, obj=fund)
    return fund


@transaction.atomic
def add_partner(*, fund: PooledFund, agency: Agency, by: Any = None) -> FundPartner:
    partner, made = FundPartner.objects.get_or_create(fund=fund, agency=agency)
    if made:
        for kind in (AccountKind.CONTRIBUTION, AccountKind.RECEIVABLE, AccountKind.RISK_SHARE):
            Account.objects.create(
                fund=fund, kind=kind, partner=partner, name=f"{AccountKind(kind).label}: {agency}"
            )
        if by is not None:
            audit.record(
                "budgets.fund_changed",
                actor=by,
                agency=fund.host,
                obj=fund,
                detail={"partner_added": agency.pk},
            )
    return partner


@transaction.atomic
def add_line(
    *,
    fund: PooledFund,
    code: str,
    name: str,
    funding: str,
    charges_allowed: bool = False,
    service_kinds: Sequence[str] = (),
    receives_delay_charges: bool = False,
) -> BudgetLine:
    """A budget line. NHS-funded care is free at the point of delivery, so an NHS line never
    allows client charges; social care is means-tested and may."""
    if funding == "nhs" and charges_allowed:
        raise BudgetError(
            {"charges_allowed": ["NHS-funded care is free at the point of delivery: no charges."]}
        )
    line = BudgetLine.objects.create(
        fund=fund,
        code=code,
        name=name,
        funding=funding,
        charges_allowed=charges_allowed,
        service_kinds=list(service_kinds),
        receives_delay_charges=receives_delay_charges,
    )
    kinds = [AccountKind.EXPENDITURE, AccountKind.COMMITMENT]
    if charges_allowed:
        kinds.append(AccountKind.CLIENT_CHARGES)
    for kind in kinds:
        Account.objects.create(
            fund=fund, kind=kind, line=line, name=f"{name}: {AccountKind(kind).label}"
        )
    return line


def month_bounds(year: int, month: int) -> tuple[date, date]:
    """Month 1 of financial year ``year`` is April ``year``; month 12 is March ``year + 1``."""
    calendar_month = (month + 2) % 12 + 1
    calendar_year = year if month <= 9 else year + 1
    last = calendar.monthrange(calendar_year, calendar_month)[1]
    return date(calendar_year, calendar_month, 1), date(calendar_year, calendar_month, last)


@transaction.atomic
def open_year(*, fund: PooledFund, year: int) -> list[Period]:
    """The twelve monthly periods of a financial year (1 April to 31 March), made if missing."""
    periods = []
    for month in range(1, 13):
        starts, ends = month_bounds(year, month)
        period, _ = Period.objects.get_or_create(
            fund=fund, year=year, month=month, defaults={"starts_on": starts, "ends_on": ends}
        )
        periods.append(period)
    return periods


@transaction.atomic
def set_contribution(
    *,
    partner: FundPartner,
    year: int,
    agreed_pence: int,
    instalments: Sequence[tuple[date, int]] | None = None,
    by: Any = None,
) -> Contribution:
    """A partner's agreed contribution for a year and its instalment schedule, which must add
    up to it exactly and fall within the year (quarterly by default)."""
    if not isinstance(agreed_pence, int) or agreed_pence <= 0:
        raise BudgetError(
            {"agreed_pence": ["Give the agreed contribution in whole pence, above 0."]}
        )
    if instalments is None:
        shares = allocation.largest_remainder(agreed_pence, {q: 1 for q in range(4)})
        instalments = [(month_bounds(year, 1 + 3 * q)[0], shares[q]) for q in range(4)]
    start, end = financial_year_bounds(year)
    if sum(a for _, a in instalments) != agreed_pence:
        raise BudgetError(
            {"instalments": ["The instalments must add up to the agreed contribution."]}
        )
    if any(not start <= d <= end for d, _ in instalments):
        raise BudgetError(
            {"instalments": ["Every instalment falls due within the financial year."]}
        )
    contribution = Contribution.objects.create(
        partner=partner, year=year, agreed_pence=agreed_pence
    )
    Instalment.objects.bulk_create(
        Instalment(contribution=contribution, due_on=d, amount_pence=a) for d, a in instalments
    )
    return contribution


@transaction.atomic
def set_line_budget(*, line: BudgetLine, year: int, budget_pence: int) -> LineBudget:
    budget, _ = LineBudget.objects.update_or_create(
        line=line, year=year, defaults={"budget_pence": budget_pence}
    )
    return budget


@dataclass(frozen=True)
class RuleSpec:
    method: str
    cap_pence: int | None = None
    percentages: Mapping[FundPartner, int] | None = None  # basis points, FIXED only


@transaction.atomic
def set_risk_share(
    *, fund: PooledFund, year: int, applies_to: str, rules: Sequence[RuleSpec]
) -> list[RiskShareRule]:
    """The year's risk share for an over- or underspend: rules applied in the order given,
    each up to its cap; the last has no cap, so every penny is shared; fixed percentages add up
    to 100%."""
    if not rules:
        raise BudgetError({"rules": ["Give at least one rule."]})
    if rules[-1].cap_pence is not None:
        raise BudgetError({"rules": ["The last rule must have no cap, so every penny is shared."]})
    for n, spec in enumerate(rules, 1):
        if spec.method == ShareMethod.FIXED:
            pct = spec.percentages or {}
            if sum(pct.values()) != 10_000:
                raise BudgetError(
                    {
                        "rules": [
                            f"Rule {n}: the fixed percentages add up to {sum(pct.values()) / 100}%;"
                            " they must add up to 100%."
                        ]
                    }
                )
            if any(p.fund_id != fund.pk for p in pct):
                raise BudgetError({"rules": [f"Rule {n}: every share is a partner of this fund."]})
    RiskShareRule.objects.filter(fund=fund, year=year, applies_to=applies_to).delete()
    made = []
    for order, spec in enumerate(rules, 1):
        rule = RiskShareRule.objects.create(
            fund=fund,
            year=year,
            applies_to=applies_to,
            order=order,
            method=spec.method,
            cap_pence=spec.cap_pence,
        )
        for partner, bp in (spec.percentages or {}).items():
            RiskSharePercentage.objects.create(rule=rule, partner=partner, basis_points=bp)
        made.append(rule)
    return made


# --- accounts ---------------------------------------------------------------------------------


def account(
    fund: PooledFund,
    kind: str,
    *,
    partner: FundPartner | None = None,
    line: BudgetLine | None = None,
) -> Account:
    return Account.objects.get(fund=fund, kind=kind, partner=partner, line=line)


# --- money moving -------------------------------------------------------------------------------


def invoice_contribution(
    *,
    partner: FundPartner,
    amount_pence: int,
    on: date,
    by: Any = None,
    agency: Any = None,
    reference: str = "",
    idempotency_key: str | None = None,
) -> Journal:
    """The host invoices a partner for (an instalment of) its contribution: Dr the partner's
    receivable, Cr its contribution."""
    fund = partner.fund
    return post_journal(
        fund=fund,
        kind=JournalKind.CONTRIBUTION_INVOICED,
        effective_date=on,
        by=by,
        agency=agency,
        reference=reference,
        idempotency_key=idempotency_key,
        lines=[
            Line(account(fund, AccountKind.RECEIVABLE, partner=partner), D, amount_pence),
            Line(account(fund, AccountKind.CONTRIBUTION, partner=partner), C, amount_pence),
        ],
    )


def receive_contribution(
    *,
    partner: FundPartner,
    amount_pence: int,
    on: date,
    by: Any = None,
    agency: Any = None,
    reference: str = "",
    idempotency_key: str | None = None,
) -> Journal:
    """A partner's payment arrives: Dr cash, Cr the partner's receivable."""
    fund = partner.fund
    return post_journal(
        fund=fund,
        kind=JournalKind.CONTRIBUTION_RECEIVED,
        effective_date=on,
        by=by,
        agency=agency,
        reference=reference,
        idempotency_key=idempotency_key,
        lines=[
            Line(account(fund, AccountKind.CASH), D, amount_pence),
            Line(account(fund, AccountKind.RECEIVABLE, partner=partner), C, amount_pence),
        ],
    )


def outstanding(commitment: Commitment) -> int:
    """What is still committed: the balance of the commitment's journals on its line's
    commitment account (derived from postings)."""
    acct = account(commitment.fund, AccountKind.COMMITMENT, line=commitment.line)
    sums = Posting.objects.filter(journal__commitment=commitment, account=acct).aggregate(
        d=Sum("amount_pence", filter=Q(side=D)), c=Sum("amount_pence", filter=Q(side=C))
    )
    return (sums["d"] or 0) - (sums["c"] or 0)


def _commitment_lines(commitment: Commitment, amount: int) -> list[Line]:
    """Raise (amount > 0) or release (amount < 0) a commitment: the line's commitment account
    against the fund's memorandum contra."""
    fund = commitment.fund
    line_acct = account(fund, AccountKind.COMMITMENT, line=commitment.line)
    contra = account(fund, AccountKind.COMMITMENTS_CONTRA)
    if amount > 0:
        return [Line(line_acct, D, amount), Line(contra, C, amount)]
    return [Line(contra, D, -amount), Line(line_acct, C, -amount)]


def record_expenditure(
    *,
    line: BudgetLine,
    amount_pence: int,
    on: date,
    by: Any = None,
    agency: Any = None,
    commitment: Commitment | None = None,
    reference: str = "",
    idempotency_key: str | None = None,
    kind: str = JournalKind.EXPENDITURE,
) -> Journal:
    """Spending on a line (a provider's invoice paid): Dr the line's expenditure, Cr cash. An
    invoice against a commitment releases as much of it as is still outstanding, in the same
    journal."""
    fund = line.fund
    if commitment is not None and commitment.line_id != line.pk:
        raise BudgetError({"commitment": ["The commitment is on another line."]})
    lines = [
        Line(account(fund, AccountKind.EXPENDITURE, line=line), D, amount_pence),
        Line(account(fund, AccountKind.CASH), C, amount_pence),
    ]
    if commitment is not None:
        with transaction.atomic():
            Commitment.objects.select_for_update().get(pk=commitment.pk)
            release = min(outstanding(commitment), amount_pence)
            if release > 0:
                lines += _commitment_lines(commitment, -release)
            return post_journal(
                fund=fund,
                kind=kind,
                effective_date=on,
                lines=lines,
                by=by,
                agency=agency,
                commitment=commitment,
                reference=reference,
                idempotency_key=idempotency_key,
            )
    return post_journal(
        fund=fund,
        kind=kind,
        effective_date=on,
        lines=lines,
        by=by,
        agency=agency,
        reference=reference,
        idempotency_key=idempotency_key,
    )


def post_accrual(
    *,
    line: BudgetLine,
    amount_pence: int,
    on: date,
    by: Any = None,
    agency: Any = None,
    reference: str = "",
) -> tuple[Journal, Journal]:
    """Accrue at month end what was used but not yet invoiced (Dr expenditure, Cr accruals),
    and reverse it on the first day of the next period, both at once: the reversal is made
    with the accrual, so it can never be forgotten."""
    fund = line.fund
    period = period_for(fund, on)
    next_start = period.ends_on + timedelta(days=1)
    open_year(fund=fund, year=financial_year_of(next_start))
    lines = [
        Line(account(fund, AccountKind.EXPENDITURE, line=line), D, amount_pence),
        Line(account(fund, AccountKind.ACCRUALS), C, amount_pence),
    ]
    with transaction.atomic():
        accrual = post_journal(
            fund=fund,
            kind=JournalKind.ACCRUAL,
            effective_date=on,
            lines=lines,
            by=by,
            agency=agency,
            reference=reference,
        )
        from budgets.ledger import reverse_journal

        reversal = reverse_journal(
            journal=accrual,
            effective_date=next_start,
            by=by,
            agency=agency,
            memo=f"Automatic reversal of accrual {accrual.pk}",
        )
    return accrual, reversal


def record_client_charge(
    *,
    line: BudgetLine,
    case_file: CaseFile,
    amount_pence: int,
    on: date,
    by: Any,
    agency: Agency,
) -> Journal:
    """Charge a person for means-tested social care on a line that allows charges: Dr charges
    receivable, Cr the line's charges income. NHS-funded care is free at the point of delivery,
    so a line that does not allow charges refuses. The case file must be visible to the agency
    for finance (the one visibility rule)."""
    if not line.charges_allowed:
        raise BudgetError(
            {"line": [f"{line} does not allow client charges (NHS-funded care is free)."]}
        )
    if (
        not CaseFile.objects.visible_to(agency, DataClass.FINANCE, by)
        .filter(pk=case_file.pk)
        .exists()
    ):
        audit.record(
            "access.denied",
            actor=by,
            agency=agency,
            obj=case_file,
            person_id=case_file.person_id,
            detail={"purpose": "client_charge"},
        )
        raise PermissionDenied("The case file is not visible to your agency for finance.")
    fund = line.fund
    with transaction.atomic():
        journal = post_journal(
            fund=fund,
            kind=JournalKind.CLIENT_CHARGE,
            effective_date=on,
            by=by,
            agency=agency,
            lines=[
                Line(account(fund, AccountKind.CHARGES_RECEIVABLE), D, amount_pence),
                Line(account(fund, AccountKind.CLIENT_CHARGES, line=line), C, amount_pence),
            ],
        )
        ClientCharge.objects.create(
            journal=journal, case_file=case_file, line=line, amount_pence=amount_pence
        )
        audit.record(
            "budgets.client_charged",
            actor=by,
            agency=agency,
            obj=journal,
            person_id=case_file.person_id,
            detail={"amount_pence": amount_pence},
        )
    return journal


def transfer_between_lines(
    *,
    source: BudgetLine,
    target: BudgetLine,
    amount_pence: int,
    on: date,
    by: Any = None,
    agency: Any = None,
    reference: str = "",
) -> Journal:
    """Move expenditure from one line to another of the same fund (a correction of coding, or
    a virement agreed by the partners): Dr the target's expenditure, Cr the source's."""
    if source.fund_id != target.fund_id:
        raise BudgetError({"target": ["Both lines must be in the same fund."]})
    if source.pk == target.pk:
        raise BudgetError({"target": ["Choose a different line to transfer to."]})
    fund = source.fund
    return post_journal(
        fund=fund,
        kind=JournalKind.TRANSFER,
        effective_date=on,
        by=by,
        agency=agency,
        reference=reference,
        lines=[
            Line(account(fund, AccountKind.EXPENDITURE, line=target), D, amount_pence),
            Line(account(fund, AccountKind.EXPENDITURE, line=source), C, amount_pence),
        ],
    )


# --- commitments --------------------------------------------------------------------------------


def pence_for_days(weekly_pence: int, days: int) -> int:
    """Weekly cost x weeks, for a number of days, rounded half up to the penny."""
    return (weekly_pence * days * 2 + 7) // 14


def committed_in_year(weekly_pence: int, start: date, end: date | None, year: int) -> int:
    """Weekly cost x weeks of the package within financial year ``year``."""
    first, last = financial_year_bounds(year)
    lo, hi = max(start, first), min(end or last, last)
    return pence_for_days(weekly_pence, (hi - lo).days + 1) if hi >= lo else 0


def _posting_date(fund: PooledFund, wanted: date) -> date:
    """``wanted`` if its period is open, else the first day of the fund's first open period
    after it (a late event is posted now, never into a closed month)."""
    period = Period.objects.filter(fund=fund, starts_on__lte=wanted, ends_on__gte=wanted).first()
    if period is not None and period.is_open:
        return wanted
    later = Period.objects.filter(fund=fund, status=PeriodStatus.OPEN, starts_on__gt=wanted).first()
    if later is None:
        raise BudgetError({"effective_date": [f"No open period of {fund} on or after {wanted}."]})
    return later.starts_on


def line_for_service(agency_id: int, kind: str, funding: str) -> BudgetLine | None:
    """The budget line a care package service is committed on: in a fund the holding agency
    is a partner of, a line of the service's funding that names its kind."""
    for line in (
        BudgetLine.objects.filter(fund__partners__agency_id=agency_id, funding=funding)
        .select_related("fund")
        .order_by("fund_id", "id")
    ):
        if kind in line.service_kinds:
            return line
    return None


def commit_service(
    *,
    care_plan_id: str,
    version: int,
    case_file_id: str,
    agency_id: int,
    service: Mapping[str, Any],
    on: date,
    event_key: str,
) -> Commitment | None:
    """Raise or adjust the commitment for one service of an authorised care package to weekly
    cost x weeks within the financial year. Only the difference from what is already
    committed is posted, so a change posts its effect and a replay posts nothing. None if no
    pooled fund line takes this kind of service."""
    line = line_for_service(agency_id, service["kind"], service["funding"])
    if line is None:
        return None
    start = date.fromisoformat(service["start_date"])
    end = date.fromisoformat(service["end_date"]) if service.get("end_date") else None
    year = financial_year_of(max(start, on))
    open_year(fund=line.fund, year=year)
    total = committed_in_year(int(service["weekly_cost_pence"]), start, end, year)
    commitment, _ = Commitment.objects.select_for_update().get_or_create(
        fund=line.fund,
        care_plan_id=care_plan_id,
        service_id=str(service["service_id"]),
        year=year,
        defaults=dict(
            line=line,
            case_file_id=case_file_id,
            version=version,
            weekly_cost_pence=int(service["weekly_cost_pence"]),
            starts_on=start,
            ends_on=end,
            total_pence=0,
        ),
    )
    if version < commitment.version:
        return commitment  # an older version arriving late changes nothing
    return _adjust(
        commitment,
        total=total,
        weekly=int(service["weekly_cost_pence"]),
        start=start,
        end=end,
        version=version,
        on=on,
        event_key=event_key,
    )


def _adjust(
    commitment: Commitment,
    *,
    total: int,
    weekly: int,
    start: date,
    end: date | None,
    version: int,
    on: date,
    event_key: str,
) -> Commitment:
    """Post the difference between what the commitment should now be (``total`` less what has
    been spent against it) and what is outstanding."""
    spent = commitment.total_pence - outstanding(commitment) if commitment.pk else 0
    wanted = max(total - spent, 0)
    delta = wanted - outstanding(commitment)
    Commitment.objects.filter(pk=commitment.pk).update(
        version=version,
        weekly_cost_pence=weekly,
        starts_on=start,
        ends_on=end,
        total_pence=spent + wanted,
    )
    commitment.refresh_from_db()
    if delta:
        post_journal(
            fund=commitment.fund,
            kind=JournalKind.COMMITMENT if delta > 0 else JournalKind.COMMITMENT_RELEASE,
            effective_date=_posting_date(commitment.fund, on),
            lines=_commitment_lines(commitment, delta),
            commitment=commitment,
            reference=f"care plan {commitment.care_plan_id} v{version}",
            idempotency_key=f"{event_key}:{commitment.service_id}:{commitment.year}",
        )
    return commitment


@transaction.atomic
def apply_care_package(payload: Mapping[str, Any], *, event_key: str) -> list[Commitment]:
    """care_package.authorised / .changed: each service's commitment brought to weekly cost x
    weeks within the financial year; a service no longer in the package is released."""
    on = date.fromisoformat(payload["authorised_on"])
    version = int(payload["version"])
    kept = []
    for service in payload["services"]:
        c = commit_service(
            care_plan_id=payload["care_plan_id"],
            version=version,
            case_file_id=payload["case_file_id"],
            agency_id=int(payload["agency_id"]),
            service=service,
            on=on,
            event_key=event_key,
        )
        if c is not None:
            kept.append(c)
    dropped = (
        Commitment.objects.select_for_update()
        .filter(care_plan_id=payload["care_plan_id"], version__lte=version)
        .exclude(pk__in=[c.pk for c in kept])
    )
    for c in dropped:
        _adjust(
            c,
            total=0,
            weekly=c.weekly_cost_pence,
            start=c.starts_on,
            end=c.ends_on,
            version=version,
            on=on,
            event_key=event_key,
        )
    return kept


@transaction.atomic
def end_care_package(payload: Mapping[str, Any], *, event_key: str) -> list[Commitment]:
    """care_package.ended: each commitment cut back to the days up to the end date."""
    ended = date.fromisoformat(payload["ended_on"])
    version = int(payload["version"])
    changed = []
    for c in Commitment.objects.select_for_update().filter(care_plan_id=payload["care_plan_id"]):
        end = min(c.ends_on or ended, ended)
        total = committed_in_year(c.weekly_cost_pence, c.starts_on, end, c.year)
        changed.append(
            _adjust(
                c,
                total=total,
                weekly=c.weekly_cost_pence,
                start=c.starts_on,
                end=end,
                version=max(version, c.version),
                on=ended,
                event_key=event_key,
            )
        )
    return changed


@transaction.atomic
def reimburse_delay(payload: Mapping[str, Any], *, event_key: str) -> Journal | None:
    """discharge.delay_charged (where an area has switched the Community Care (Delayed
    Discharges) Act 2003 regime on by local agreement): the council's per-day reimbursement
    of the NHS, spent from the line of a fund the council is a partner of that takes delay
    charges. None if no such line."""
    line = (
        BudgetLine.objects.filter(
            fund__partners__agency_id=int(payload["council_agency_id"]), receives_delay_charges=True
        )
        .select_related("fund")
        .order_by("fund_id", "id")
        .first()
    )
    if line is None:
        return None
    day = date.fromisoformat(payload["date_to"])
    open_year(fund=line.fund, year=financial_year_of(day))
    return record_expenditure(
        line=line,
        amount_pence=int(payload["amount_pence"]),
        on=_posting_date(line.fund, day),
        kind=JournalKind.DELAY_REIMBURSEMENT,
        reference=f"discharge {payload['discharge_id']}",
        idempotency_key=event_key,
    )


# --- month-end close ----------------------------------------------------------------------------


def require_pool_manager(fund: PooledFund, user: Any) -> None:
    """Only the fund's pool manager (its single accountable officer) closes periods and
    approves settlements."""
    if user is None or user.pk != fund.pool_manager_id:
        raise PermissionDenied("Only the pool manager of this fund may do this.")


@transaction.atomic
def start_close(*, period: Period, by: Any, agency: Any = None) -> CloseRun:
    """Ask for a period to be closed; returns the run (the existing one if a run is already
    queued, running or done, so asking twice never closes twice). Periods close in order."""
    require_pool_manager(period.fund, by)
    existing = CloseRun.objects.filter(period=period).exclude(status=CloseStatus.FAILED).first()
    if existing is not None:
        return existing
    if Period.objects.filter(
        fund=period.fund, starts_on__lt=period.starts_on, status=PeriodStatus.OPEN
    ).exists():
        raise BudgetError({"period": ["Close the earlier open months first."]})
    run = CloseRun.objects.create(period=period, started_by=by)
    audit.record(
        "budgets.close_started",
        actor=by,
        agency=agency,
        obj=period,
        detail={"fund": period.fund_id, "run": run.pk},
    )
    from budgets.tasks import run_close

    transaction.on_commit(lambda: run_close.delay(run.pk))
    return run


CLOSE_STEPS = [
    "Checking earlier months",
    "Checking totals against postings",
    "Checking the trial balance",
    "Closing the month",
]


def run_close_steps(run_id: int) -> CloseRun:
    """The month-end close, step by step, each step committed so the page can show progress.
    Safe to run again: a done run does nothing; the close itself is a conditional UPDATE of an
    open period, so the period is closed once."""
    run = CloseRun.objects.select_related("period__fund").get(pk=run_id)
    if run.status == CloseStatus.DONE:
        return run
    period = run.period
    CloseRun.objects.filter(pk=run.pk).update(
        status=CloseStatus.RUNNING, steps_total=len(CLOSE_STEPS)
    )

    def step(n: int, message: str) -> None:
        CloseRun.objects.filter(pk=run.pk).update(steps_done=n, message=message)

    try:
        if Period.objects.filter(
            fund=period.fund, starts_on__lt=period.starts_on, status=PeriodStatus.OPEN
        ).exists():
            raise BudgetError("Close the earlier open months first.")
        step(1, CLOSE_STEPS[1])
        if drift(period.fund):
            raise BudgetError("The maintained totals differ from the postings.")
        step(2, CLOSE_STEPS[2])
        from budgets.ledger import trial_balance_total

        if trial_balance_total(period.fund) != 0:
            raise BudgetError("The trial balance does not sum to zero.")
        step(3, CLOSE_STEPS[3])
        with transaction.atomic():
            Period.objects.filter(pk=period.pk, status=PeriodStatus.OPEN).update(
                status=PeriodStatus.CLOSED, closed_at=timezone.now(), closed_by=run.started_by
            )
            CloseRun.objects.filter(pk=run.pk).update(
                status=CloseStatus.DONE,
                steps_done=len(CLOSE_STEPS),
                message="Closed",
                finished_at=timezone.now(),
            )
            audit.record(
                "budgets.period_closed",
                actor=run.started_by,
                agency=period.fund.host,
                obj=period,
                detail={"fund": period.fund_id, "run": run.pk},
            )
    except BudgetError as exc:
        CloseRun.objects.filter(pk=run.pk).update(
            status=CloseStatus.FAILED,
            message=" ".join(exc.messages)[:300],
            finished_at=timezone.now(),
        )
    run.refresh_from_db()
    return run


# --- year end -----------------------------------------------------------------------------------


def line_variance(line: BudgetLine, year: int) -> int:
    """Net spend on the line in the year (expenditure less client charges) minus its budget:
    above zero an overspend, below an underspend."""
    budget = (
        LineBudget.objects.filter(line=line, year=year)
        .values_list("budget_pence", flat=True)
        .first()
        or 0
    )
    net = 0
    for acct in line.accounts.filter(
        kind__in=[AccountKind.EXPENDITURE, AccountKind.CLIENT_CHARGES]
    ):
        sums = acct.totals.filter(period__year=year).aggregate(
            d=Sum("debit_pence"), c=Sum("credit_pence")
        )
        net += (sums["d"] or 0) - (sums["c"] or 0)
    return net - budget


def share_steps(fund: PooledFund, year: int, applies_to: str) -> list[allocation.Step]:
    steps = []
    for rule in RiskShareRule.objects.filter(
        fund=fund, year=year, applies_to=applies_to
    ).prefetch_related("percentages"):
        if rule.method == ShareMethod.FIXED:
            weights = {p.partner_id: p.basis_points for p in rule.percentages.all()}
        elif rule.method == ShareMethod.HOST:
            weights = {FundPartner.objects.get(fund=fund, agency=fund.host).pk: 1}
        else:
            weights = dict(
                Contribution.objects.filter(partner__fund=fund, year=year).values_list(
                    "partner_id", "agreed_pence"
                )
            )
        steps.append(allocation.Step(weights=weights, cap_pence=rule.cap_pence))
    if not steps:
        raise BudgetError(
            {
                "year": [
                    f"No risk-share rules for an {Variance(applies_to).label.lower()} in this year."
                ]
            }
        )
    return steps


def risk_share(fund: PooledFund, year: int) -> dict[int, dict[int, int]]:
    """Per line (id), each partner's share (partner id -> pence, above zero: the partner pays
    in; below: it is repaid) of the line's variance, by the risk-share rules, to the penny."""
    result: dict[int, dict[int, int]] = {}
    for line in fund.lines.all():
        v = line_variance(line, year)
        if v == 0:
            result[line.pk] = {}
            continue
        applies = Variance.OVERSPEND if v > 0 else Variance.UNDERSPEND
        shares = allocation.apply_steps(abs(v), share_steps(fund, year, applies))
        result[line.pk] = {p: s if v > 0 else -s for p, s in shares.items() if s}
    return result


def approve_settlement(
    *, fund: PooledFund, year: int, by: Any, agency: Any = None
) -> list[Journal]:
    """The pool manager approves the year-end settlement: each line's variance shared by the
    risk-share rules (largest remainder, so the shares add up exactly), posted as one journal
    per line in March (month 12): an overspend share is invoiced to the partner (Dr its
    receivable, Cr its risk-share account), an underspend share is owed back to it (the
    reverse). Once per year and line (idempotency keys)."""
    require_pool_manager(fund, by)
    shares = risk_share(fund, year)
    march = month_bounds(year, 12)[1]
    drafts = []
    for line_id, per_partner in shares.items():
        lines: list[Line] = []
        for partner_id, amount in sorted(per_partner.items()):
            partner = FundPartner.objects.get(pk=partner_id)
            rec = account(fund, AccountKind.RECEIVABLE, partner=partner)
            rsk = account(fund, AccountKind.RISK_SHARE, partner=partner)
            if amount > 0:
                lines += [Line(rec, D, amount), Line(rsk, C, amount)]
            else:
                lines += [Line(rsk, D, -amount), Line(rec, C, -amount)]
        if lines:
            drafts.append(
                Draft(
                    fund=fund,
                    kind=JournalKind.SETTLEMENT,
                    effective_date=march,
                    lines=lines,
                    reference=f"risk share {year} line {line_id}",
                    idempotency_key=f"settlement:{year}:{line_id}",
                )
            )
    journals = post_drafts(drafts, by=by, agency=agency)
    audit.record(
        "budgets.settlement_approved",
        actor=by,
        agency=agency,
        obj=fund,
        detail={"year": year, "journals": [j.pk for j in journals]},
    )
    return journals


# --- statement import -----------------------------------------------------------------------------

STATEMENT_COLUMNS = ["date", "reference", "amount"]
_POUNDS = re.compile(r"^-?\d+(\.\d{1,2})?$")


def parse_pounds(text: str) -> int:
    """'1234.50' -> 123450 pence; more than two decimal places is refused, not rounded."""
    text = text.strip().replace(",", "").replace("£", "")
    if not _POUNDS.match(text):
        raise ValueError("an amount in pounds with at most two decimal places, e.g. 1234.50")
    try:
        return int(Decimal(text) * 100)
    except InvalidOperation:
        raise ValueError("an amount in pounds, e.g. 1234.50") from None


@transaction.atomic
def import_statement(
    *, fund: PooledFund, filename: str, content: str, by: Any, agency: Any = None
) -> StatementImport:
    """Import the host's bank statement (CSV: date, reference, amount in pounds, money in
    positive) and match each line to a cash posting of the same amount and direction within
    three days, preferring one whose journal reference appears in the line's reference. Wrong
    columns, a bad row or a duplicate row refuse the whole file."""
    reader = csv.DictReader(io.StringIO(content))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if header != STATEMENT_COLUMNS:
        raise BudgetError(
            {
                "file": [
                    f"The columns must be {', '.join(STATEMENT_COLUMNS)} "
                    f"(found: {', '.join(header) or 'none'})."
                ]
            }
        )
    rows: list[tuple[int, date, str, int]] = []
    errors: list[str] = []
    seen: dict[tuple[str, str, str], int] = {}
    for n, raw in enumerate(reader, 2):
        values = {k.strip().lower(): (v or "").strip() for k, v in raw.items() if k}
        key = (values["date"], values["reference"], values["amount"])
        if key in seen:
            errors.append(f"Row {n} repeats row {seen[key]}.")
            continue
        seen[key] = n
        try:
            day = date.fromisoformat(values["date"])
        except ValueError:
            errors.append(f"Row {n}: the date must be YYYY-MM-DD.")
            continue
        try:
            pence = parse_pounds(values["amount"])
        except ValueError as exc:
            errors.append(f"Row {n}: the amount must be {exc}.")
            continue
        rows.append((n, day, values["reference"][:100], pence))
    if errors:
        raise BudgetError({"file": errors})
    if not rows:
        raise BudgetError({"file": ["The file has no rows."]})
    statement = StatementImport.objects.create(fund=fund, filename=filename[:200], imported_by=by)
    cash = account(fund, AccountKind.CASH)
    taken = set(
        StatementLine.objects.filter(statement__fund=fund, matched__isnull=False).values_list(
            "matched_id", flat=True
        )
    )
    for n, day, ref, pence in rows:
        side = D if pence > 0 else C
        candidates = list(
            Posting.objects.filter(
                account=cash,
                side=side,
                amount_pence=abs(pence),
                journal__effective_date__range=(day - timedelta(days=3), day + timedelta(days=3)),
            )
            .exclude(pk__in=taken)
            .select_related("journal")
            .order_by("journal__effective_date", "id")
        )
        best = next(
            (p for p in candidates if p.journal.reference and p.journal.reference in ref), None
        )
        best = best or (candidates[0] if candidates else None)
        if best is not None:
            taken.add(best.pk)
        StatementLine.objects.create(
            statement=statement, row=n, date=day, reference=ref, amount_pence=pence, matched=best
        )
    audit.record(
        "budgets.statement_imported",
        actor=by,
        agency=agency,
        obj=statement,
        detail={"fund": fund.pk, "rows": len(rows)},
    )
    return statement


def new_key() -> str:
    return uuid.uuid4().hex


def chunks(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# --- care package events posted by hand (where the assessments app is absent) -----------------

CARE_EVENT_TYPES = {
    "authorised": "care_package.authorised",
    "changed": "care_package.changed",
    "ended": "care_package.ended",
}


def _check_date(
    errors: dict[str, list[str]], field: str, value: Any, *, optional: bool = False
) -> None:
    if value is None and optional:
        return
    try:
        date.fromisoformat(str(value))
    except ValueError:
        errors.setdefault(field, []).append("Give a date as YYYY-MM-DD.")


def validate_care_package_payload(
    event_type: str, payload: Mapping[str, Any]
) -> dict[str, list[str]]:
    """What is wrong with a care package event's payload, against the contract in
    ``caretrust.events.contracts`` (empty: nothing)."""
    errors: dict[str, list[str]] = {}

    def need(field: str, kind: type) -> None:
        value = payload.get(field)
        if value is None or not isinstance(value, kind) or isinstance(value, bool):
            errors.setdefault(field, []).append(f"Required, a {kind.__name__}.")

    need("care_plan_id", str)
    need("version", int)
    for key in ("care_plan_id", "case_file_id"):
        if isinstance(payload.get(key), str):
            try:
                uuid.UUID(payload[key])
            except ValueError:
                errors.setdefault(key, []).append("Give a UUID.")
    if event_type == "care_package.ended":
        _check_date(errors, "ended_on", payload.get("ended_on"))
        return errors
    need("case_file_id", str)
    need("agency_id", int)
    need("weekly_cost_pence", int)
    _check_date(errors, "authorised_on", payload.get("authorised_on"))
    services = payload.get("services")
    if not isinstance(services, list) or not services:
        errors.setdefault("services", []).append("Give at least one service.")
        return errors
    for n, svc in enumerate(services):
        where = f"services[{n}]"
        if not isinstance(svc, dict):
            errors.setdefault(where, []).append("Each service is an object.")
            continue
        if not isinstance(svc.get("service_id"), str) or not svc.get("service_id"):
            errors.setdefault(f"{where}.service_id", []).append("Required, a string.")
        if not isinstance(svc.get("kind"), str):
            errors.setdefault(f"{where}.kind", []).append("Required, e.g. home_care.")
        if svc.get("funding") not in ("nhs", "social_care"):
            errors.setdefault(f"{where}.funding", []).append("Either nhs or social_care.")
        cost = svc.get("weekly_cost_pence")
        if not isinstance(cost, int) or isinstance(cost, bool) or cost < 0:
            errors.setdefault(f"{where}.weekly_cost_pence", []).append(
                "A whole number of pence, not negative."
            )
        _check_date(errors, f"{where}.start_date", svc.get("start_date"))
        _check_date(errors, f"{where}.end_date", svc.get("end_date"), optional=True)
    return errors


@transaction.atomic
def post_care_package_event(
    *, event_type: str, payload: Mapping[str, Any], by: Any, agency: Agency | None = None
) -> Any:
    """Announce a care package event by hand, where the assessments app does not (yet) emit it:
    the same event through the same outbox (``caretrust.events.services.emit``), so budgets
    handles it exactly as it would the real one. The case file must be the agency's own."""
    from caretrust.events.services import emit

    if event_type not in CARE_EVENT_TYPES.values():
        raise BudgetError({"type": [f"One of {', '.join(CARE_EVENT_TYPES)}."]})
    errors = validate_care_package_payload(event_type, payload)
    if errors:
        raise BudgetError(errors)
    if (
        agency is not None
        and event_type != "care_package.ended"
        and (
            int(payload["agency_id"]) != agency.pk
            or not CaseFile.objects.filter(pk=payload["case_file_id"], agency=agency).exists()
        )
    ):
        raise BudgetError({"case_file_id": ["Name a case file of your own agency."]})
    event = emit(
        event_type,
        aggregate_type="care_plan",
        aggregate_id=payload["care_plan_id"],
        payload=dict(payload),
    )
    audit.record(
        "budgets.event_posted",
        actor=by,
        agency=agency,
        obj=event,
        detail={"type": event_type, "care_plan_id": payload["care_plan_id"]},
    )
    return event
