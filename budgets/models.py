"""Pooled budgets: section 75 funds on a double-entry ledger that PostgreSQL keeps honest.

Why not django-hordak (evaluated first, version 2.0.0): it fits part of the brief (PostgreSQL
triggers, a deferred zero-sum check on a transaction's legs) but not the rest. Its amounts are
django-money decimals, not integer pence; it has no accounting periods, so nothing refuses a
posting into a closed month; its legs may be updated and deleted (its trigger only re-checks
the sum); it has no idempotency key and no notion of a reversal, let alone "once"; its balance
is a SUM over every leg at read time (``get_balance_table``), with no maintained total, which
the figures at a million postings rule out; its CI stops at Django 5.1; and it brings
django-mptt, django-money, django-import-export, django-extensions and babel. Patching all of
that in would leave little of hordak. The ledger here is small instead: ``Account``,
``Journal``, ``Posting`` and a maintained ``AccountPeriodTotal``, with the rules in triggers
(migration 0002) and one posting service (``budgets.ledger``).

The rules the database holds, even against raw SQL:

- a journal balances (debits = credits, at least two postings): a deferred constraint
  trigger, checked at commit;
- journals and postings are append-only: UPDATE and DELETE are refused;
- postings may be added to a journal only in the transaction that made it;
- a journal's effective date lies in its period, and the period is open (read under a share
  lock, so a close racing a posting waits for it or refuses it, never lets it in after);
- a posting's account belongs to the journal's fund;
- an idempotency key is used once per fund; a journal is reversed at most once, and a
  reversal is never itself reversed;
- a closed period never changes or reopens;
- the posting time is the database's clock;
- each account's per-period total is maintained by a trigger from the postings
  (``verify_totals`` proves it equal to them).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

from caretrust.directory.models import Agency
from caretrust.people.models import CaseFile


class LegalBasis(models.TextChoices):
    SECTION_75_POOL = "s75_pool", "Section 75 pooled fund (NHS Act 2006)"
    LEAD_COMMISSIONING = "lead_commissioning", "Lead commissioning (section 75)"
    INTEGRATED_PROVISION = "integrated_provision", "Integrated provision (section 75)"
    BETTER_CARE_FUND = "better_care_fund", "Better Care Fund"


def financial_year_of(day: dt.date) -> int:
    """The financial year (1 April to 31 March) a date falls in, named by its first year:
    2025 is 1 April 2025 to 31 March 2026."""
    return day.year if day.month >= 4 else day.year - 1


def financial_year_bounds(year: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, 4, 1), dt.date(year + 1, 3, 31)


def year_label(year: int) -> str:
    return f"{year}/{(year + 1) % 100:02d}"


class PooledFund(models.Model):
    """A pooled fund agreement: partners pay agreed contributions into one budget for a client
    group, hosted by one partner, with one accountable pool manager."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    legal_basis = models.CharField(max_length=30, choices=LegalBasis.choices)
    client_group = models.CharField(max_length=200)
    host = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="hosted_funds")
    pool_manager = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="managed_funds"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class FundPartner(models.Model):
    fund = models.ForeignKey(PooledFund, on_delete=models.PROTECT, related_name="partners")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="fund_partnerships")

    class Meta:
        ordering = ["fund", "id"]
        constraints = [
            models.UniqueConstraint(fields=["fund", "agency"], name="fund_partner_once"),
        ]

    def __str__(self) -> str:
        return f"{self.agency} in {self.fund}"


class Contribution(models.Model):
    """A partner's agreed contribution for one financial year."""

    partner = models.ForeignKey(FundPartner, on_delete=models.PROTECT, related_name="contributions")
    year = models.PositiveSmallIntegerField(help_text="First year of the financial year.")
    agreed_pence = models.BigIntegerField()

    class Meta:
        ordering = ["partner", "year"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "year"], name="contribution_once_a_year"),
            models.CheckConstraint(condition=Q(agreed_pence__gt=0), name="contribution_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.partner}: {self.agreed_pence}p in {year_label(self.year)}"


class Instalment(models.Model):
    contribution = models.ForeignKey(
        Contribution, on_delete=models.PROTECT, related_name="instalments"
    )
    due_on = models.DateField()
    amount_pence = models.BigIntegerField()

    class Meta:
        ordering = ["contribution", "due_on"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_pence__gt=0), name="instalment_positive"),
            models.UniqueConstraint(
                fields=["contribution", "due_on"], name="instalment_once_a_day"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount_pence}p due {self.due_on}"


class Funding(models.TextChoices):
    NHS = "nhs", "NHS (free at the point of delivery)"
    SOCIAL_CARE = "social_care", "Social care (means-tested)"


class BudgetLine(models.Model):
    """A line of the pool's budget. Client charges may apply only where ``charges_allowed``:
    NHS-funded care is free at the point of delivery, social care is means-tested."""

    fund = models.ForeignKey(PooledFund, on_delete=models.PROTECT, related_name="lines")
    code = models.SlugField(max_length=40)
    name = models.CharField(max_length=200)
    funding = models.CharField(max_length=20, choices=Funding.choices)
    charges_allowed = models.BooleanField(default=False)
    # Which care package services are committed here ("home_care", ...); empty: none.
    service_kinds = models.JSONField(default=list, blank=True)
    receives_delay_charges = models.BooleanField(default=False)

    class Meta:
        ordering = ["fund", "code"]
        constraints = [
            models.UniqueConstraint(fields=["fund", "code"], name="budget_line_code_once"),
            models.CheckConstraint(
                condition=~(Q(funding="nhs") & Q(charges_allowed=True)),
                name="nhs_line_never_charges",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class LineBudget(models.Model):
    line = models.ForeignKey(BudgetLine, on_delete=models.PROTECT, related_name="budgets")
    year = models.PositiveSmallIntegerField()
    budget_pence = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["line", "year"], name="line_budget_once_a_year"),
            models.CheckConstraint(
                condition=Q(budget_pence__gte=0), name="line_budget_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.line}: {self.budget_pence}p in {year_label(self.year)}"


class Variance(models.TextChoices):
    OVERSPEND = "overspend", "Overspend"
    UNDERSPEND = "underspend", "Underspend"


class ShareMethod(models.TextChoices):
    PROPORTIONAL = "proportional", "In proportion to contributions"
    FIXED = "fixed", "Fixed percentages"
    HOST = "host", "Host bears"


class RiskShareRule(models.Model):
    """One step of the risk share for a year's over- or underspend, applied in ``order``:
    each takes up to its cap (none: the rest) and shares it by its method."""

    fund = models.ForeignKey(PooledFund, on_delete=models.PROTECT, related_name="risk_rules")
    year = models.PositiveSmallIntegerField()
    applies_to = models.CharField(max_length=12, choices=Variance.choices)
    order = models.PositiveSmallIntegerField()
    method = models.CharField(max_length=15, choices=ShareMethod.choices)
    cap_pence = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["fund", "year", "applies_to", "order"]
        constraints = [
            models.UniqueConstraint(
                fields=["fund", "year", "applies_to", "order"], name="risk_rule_order_once"
            ),
            models.CheckConstraint(
                condition=Q(cap_pence__isnull=True) | Q(cap_pence__gt=0), name="risk_cap_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.applies_to} rule {self.order}: {self.method}"


class RiskSharePercentage(models.Model):
    """A partner's fixed share under a FIXED rule, in basis points (10,000 = 100%)."""

    rule = models.ForeignKey(RiskShareRule, on_delete=models.CASCADE, related_name="percentages")
    partner = models.ForeignKey(FundPartner, on_delete=models.PROTECT, related_name="+")
    basis_points = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "partner"], name="risk_percentage_once"),
            models.CheckConstraint(
                condition=Q(basis_points__gt=0, basis_points__lte=10_000),
                name="risk_percentage_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.partner_id}: {self.basis_points} bp"


# --- the ledger ------------------------------------------------------------------------------


class AccountKind(models.TextChoices):
    CONTRIBUTION = "contribution", "Partner contribution"
    RECEIVABLE = "receivable", "Partner receivable"
    RISK_SHARE = "risk_share", "Partner risk-share settlement"
    CASH = "cash", "Cash at bank"
    EXPENDITURE = "expenditure", "Budget line expenditure"
    CLIENT_CHARGES = "client_charges", "Client charges income"
    CHARGES_RECEIVABLE = "charges_receivable", "Client charges receivable"
    COMMITMENT = "commitment", "Commitments"
    COMMITMENTS_CONTRA = "commitments_contra", "Commitments outstanding (memorandum)"
    ACCRUALS = "accruals", "Accruals"


PARTNER_KINDS = {AccountKind.CONTRIBUTION, AccountKind.RECEIVABLE, AccountKind.RISK_SHARE}
LINE_KINDS = {AccountKind.EXPENDITURE, AccountKind.CLIENT_CHARGES, AccountKind.COMMITMENT}


class Account(models.Model):
    fund = models.ForeignKey(PooledFund, on_delete=models.PROTECT, related_name="accounts")
    kind = models.CharField(max_length=25, choices=AccountKind.choices)
    partner = models.ForeignKey(
        FundPartner, on_delete=models.PROTECT, null=True, blank=True, related_name="accounts"
    )
    line = models.ForeignKey(
        BudgetLine, on_delete=models.PROTECT, null=True, blank=True, related_name="accounts"
    )
    name = models.CharField(max_length=250)

    class Meta:
        ordering = ["fund", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["fund", "kind", "partner", "line"],
                nulls_distinct=False,
                name="account_once_per_purpose",
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind__in=sorted(PARTNER_KINDS), partner__isnull=False, line__isnull=True)
                    | Q(kind__in=sorted(LINE_KINDS), partner__isnull=True, line__isnull=False)
                    | (
                        ~Q(kind__in=sorted(PARTNER_KINDS | LINE_KINDS))
                        & Q(partner__isnull=True, line__isnull=True)
                    )
                ),
                name="account_names_what_its_kind_needs",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class PeriodStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class Period(models.Model):
    """A calendar month of a fund's financial year (month 1 is April)."""

    fund = models.ForeignKey(PooledFund, on_delete=models.PROTECT, related_name="periods")
    year = models.PositiveSmallIntegerField()
    month = models.PositiveSmallIntegerField()
    starts_on = models.DateField()
    ends_on = models.DateField()
    status = models.CharField(max_length=10, choices=PeriodStatus.choices, default="open")
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["fund", "starts_on"]
        constraints = [
            models.UniqueConstraint(fields=["fund", "year", "month"], name="period_once"),
            models.CheckConstraint(condition=Q(month__gte=1, month__lte=12), name="period_month"),
            models.CheckConstraint(
                condition=Q(ends_on__gte=models.F("starts_on")), name="period_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return self.starts_on.strftime("%B %Y")

    @property
    def is_open(self) -> bool:
        return self.status == PeriodStatus.OPEN


class JournalKind(models.TextChoices):
    CONTRIBUTION_INVOICED = "contribution_invoiced", "Contribution invoiced"
    CONTRIBUTION_RECEIVED = "contribution_received", "Contribution received"
    EXPENDITURE = "expenditure", "Expenditure"
    COMMITMENT = "commitment", "Commitment"
    COMMITMENT_RELEASE = "commitment_release", "Commitment released"
    ACCRUAL = "accrual", "Accrual"
    CLIENT_CHARGE = "client_charge", "Client charge"
    TRANSFER = "transfer", "Transfer between lines"
    DELAY_REIMBURSEMENT = "delay_reimbursement", "Delayed discharge reimbursement"
    SETTLEMENT = "settlement", "Year-end risk-share settlement"
    MANUAL = "manual", "Journal from the host ledger"
    REVERSAL = "reversal", "Reversal"


class Journal(models.Model):
    """One balanced movement of money in one fund and one period. Never changed: a mistake is
    put right by a reversal (``reverses``), at most one per journal."""

    fund = models.ForeignKey(PooledFund, on_delete=models.PROTECT, related_name="journals")
    period = models.ForeignKey(Period, on_delete=models.PROTECT, related_name="journals")
    effective_date = models.DateField()
    posted_at = models.DateTimeField(db_default=Now())
    # The transaction that posted it (set by the database): postings join it only there.
    posted_in_xact = models.BigIntegerField(null=True, editable=False)
    kind = models.CharField(max_length=25, choices=JournalKind.choices)
    reference = models.CharField(max_length=100, blank=True)
    memo = models.CharField(max_length=300, blank=True)
    # NULL, not "": journals without a key must not collide in the unique constraint.
    idempotency_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    fingerprint = models.CharField(max_length=64, blank=True)
    reverses = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="reversed_by"
    )
    commitment = models.ForeignKey(
        "Commitment", on_delete=models.PROTECT, null=True, blank=True, related_name="journals"
    )
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-posted_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["fund", "idempotency_key"], name="journal_idempotency_key_once"
            ),
        ]
        indexes = [models.Index(fields=["fund", "period"], name="journal_by_period")]

    def __str__(self) -> str:
        return f"Journal {self.pk} ({self.get_kind_display()})"


class Side(models.TextChoices):
    DEBIT = "D", "Debit"
    CREDIT = "C", "Credit"


class Posting(models.Model):
    journal = models.ForeignKey(Journal, on_delete=models.PROTECT, related_name="postings")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="postings")
    period = models.ForeignKey(Period, on_delete=models.PROTECT, related_name="+")
    side = models.CharField(max_length=1, choices=Side.choices)
    amount_pence = models.BigIntegerField()

    class Meta:
        ordering = ["journal", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_pence__gt=0), name="posting_positive"),
            models.CheckConstraint(condition=Q(side__in=["D", "C"]), name="posting_side"),
        ]
        indexes = [models.Index(fields=["account", "period"], name="posting_by_account")]

    def __str__(self) -> str:
        return f"{self.side} {self.amount_pence}p on {self.account_id}"

    @property
    def signed_pence(self) -> int:
        return self.amount_pence if self.side == Side.DEBIT else -self.amount_pence


class AccountPeriodTotal(models.Model):
    """Debits and credits of one account in one period, kept by a trigger on Posting: a balance
    reads at most twelve rows a year instead of every posting."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="totals")
    period = models.ForeignKey(Period, on_delete=models.PROTECT, related_name="+")
    debit_pence = models.BigIntegerField(default=0)
    credit_pence = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "period"], name="account_total_once"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id} in {self.period_id}"


# --- commitments, charges, statements, close -------------------------------------------------


class Commitment(models.Model):
    """Money a care package service will cost on a line within one financial year: weekly cost x
    weeks. Its outstanding amount is the balance of its journals on the commitment account."""

    fund = models.ForeignKey(PooledFund, on_delete=models.PROTECT, related_name="commitments")
    line = models.ForeignKey(BudgetLine, on_delete=models.PROTECT, related_name="commitments")
    year = models.PositiveSmallIntegerField()
    care_plan_id = models.UUIDField()
    service_id = models.CharField(max_length=64)
    case_file_id = models.UUIDField()
    version = models.PositiveIntegerField()
    weekly_cost_pence = models.BigIntegerField()
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)
    total_pence = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["fund", "starts_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["fund", "care_plan_id", "service_id", "year"], name="commitment_once"
            ),
            models.CheckConstraint(condition=Q(total_pence__gte=0), name="commitment_not_negative"),
        ]

    def __str__(self) -> str:
        return f"Commitment {self.pk} on {self.line_id}"


class ClientCharge(models.Model):
    """A person's charge for means-tested care: people's data, in the finance data class of the
    case file, so seen only through the visibility rule."""

    journal = models.OneToOneField(Journal, on_delete=models.PROTECT, related_name="client_charge")
    case_file = models.ForeignKey(CaseFile, on_delete=models.PROTECT, related_name="+")
    line = models.ForeignKey(BudgetLine, on_delete=models.PROTECT, related_name="+")
    amount_pence = models.BigIntegerField()

    def __str__(self) -> str:
        return f"Charge {self.pk} ({self.amount_pence}p)"


class StatementImport(models.Model):
    fund = models.ForeignKey(PooledFund, on_delete=models.PROTECT, related_name="statements")
    filename = models.CharField(max_length=200)
    imported_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    imported_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.filename


class StatementLine(models.Model):
    statement = models.ForeignKey(StatementImport, on_delete=models.CASCADE, related_name="lines")
    row = models.PositiveIntegerField()
    date = models.DateField()
    reference = models.CharField(max_length=100)
    amount_pence = models.BigIntegerField(help_text="Money in positive, money out negative.")
    matched = models.ForeignKey(
        Posting, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["statement", "row"]
        constraints = [
            models.UniqueConstraint(
                fields=["matched"], condition=Q(matched__isnull=False), name="posting_matched_once"
            ),
        ]

    def __str__(self) -> str:
        return f"Row {self.row} of {self.statement_id}"


class CloseStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Closed"
    FAILED = "failed", "Failed"


class CloseRun(models.Model):
    """A month-end close of one period, run by a Celery job that reports its progress here. At
    most one run that has not failed per period, so the period is never closed twice."""

    period = models.ForeignKey(Period, on_delete=models.PROTECT, related_name="close_runs")
    status = models.CharField(max_length=10, choices=CloseStatus.choices, default="queued")
    steps_done = models.PositiveSmallIntegerField(default=0)
    steps_total = models.PositiveSmallIntegerField(default=4)
    message = models.CharField(max_length=300, blank=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["period"], condition=~Q(status="failed"), name="close_run_once"
            ),
        ]

    def __str__(self) -> str:
        return f"Close of {self.period_id} ({self.status})"

    @property
    def percent(self) -> int:
        return round(100 * self.steps_done / self.steps_total) if self.steps_total else 100
