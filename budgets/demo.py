"""The demo's pooled fund: the Calderbridge intermediate care pool.

A section 75 pool hosted by the council, with the acute trust and the community trust as
partners, and fiona.finance as pool manager. Three financial years of journals (contributions
invoiced and received, provider invoices, accruals that reverse themselves, client charges),
commitments from care packages (posted as care_package.authorised events through the outbox,
as the assessments app would), the last year's risk share settled, every month closed but the
last full one (and the current one), the community trust behind on its contribution, and home
care overspent this year.

Everything goes through the services and the one posting service; a month's journals are
posted in one call (one lock statement, one audit row) to keep seeding quick. Idempotent: if
the fund exists, nothing is done.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from budgets import ledger, services
from budgets.ledger import Draft, Line
from budgets.models import (
    AccountKind,
    CloseStatus,
    FundPartner,
    JournalKind,
    LegalBasis,
    Period,
    PeriodStatus,
    PooledFund,
    ShareMethod,
    Variance,
    financial_year_of,
)
from caretrust.directory.models import Agency
from caretrust.events.services import dispatch_pending
from caretrust.people.models import CaseFile
from caretrust.people.validators import today_in_london

SLUG = "calderbridge-intermediate-care"
CONTRIBUTIONS = {  # agency slug -> agreed contribution a year, pence
    "calderbridge-council": 50_000_000,
    "calderbridge-hospitals": 35_000_000,
    "calder-valley-community": 25_000_000,
}
LINES: list[
    tuple[str, str, str, bool, list[str], bool, int]
] = [  # code, name, funding, charges, kinds, delays, budget a year (pence), spend factor
    ("home-care", "Home care", "social_care", True, ["home_care"], False, 60_000_000),
    (
        "rehabilitation",
        "Community rehabilitation",
        "nhs",
        False,
        ["rehabilitation", "district_nursing"],
        False,
        40_000_000,
    ),
    (
        "equipment",
        "Equipment and adaptations",
        "social_care",
        True,
        ["equipment"],
        False,
        5_000_000,
    ),
    ("delays", "Delayed discharge reimbursement", "social_care", False, [], True, 5_000_000),
]
# How hard each line spends against its budget, by years back from this one.
SPEND = {
    "home-care": [1.02, 0.97, 1.12],
    "rehabilitation": [0.96, 1.04, 0.95],
    "equipment": [1.0, 0.9, 1.05],
    "delays": [0.8, 1.1, 0.7],
}


def seed() -> dict[str, int]:
    if PooledFund.objects.filter(slug=SLUG).exists():
        return {}
    user_model = get_user_model()
    fiona = user_model.objects.get(username="fiona.finance")
    agencies = {a.slug: a for a in Agency.objects.filter(slug__in=CONTRIBUTIONS)}
    council = agencies["calderbridge-council"]
    today = today_in_london()
    this_year = financial_year_of(today)
    years = [this_year - 2, this_year - 1, this_year]
    with transaction.atomic():
        fund = services.create_fund(
            name="Calderbridge intermediate care pool",
            slug=SLUG,
            legal_basis=LegalBasis.SECTION_75_POOL,
            client_group="Older people needing intermediate care (rapid response, reablement, "
            "rehabilitation and discharge to assess)",
            host=council,
            pool_manager=fiona,
            by=fiona,
        )
        partners = {council.slug: FundPartner.objects.get(fund=fund, agency=council)}
        for slug in ("calderbridge-hospitals", "calder-valley-community"):
            partners[slug] = services.add_partner(fund=fund, agency=agencies[slug], by=fiona)
        lines = {}
        for code, name, funding, allows_charges, kinds, delays, _budget in LINES:
            lines[code] = services.add_line(
                fund=fund,
                code=code,
                name=name,
                funding=funding,
                charges_allowed=allows_charges,
                service_kinds=kinds,
                receives_delay_charges=delays,
            )
        for year in years:
            services.open_year(fund=fund, year=year)
            for slug, pence in CONTRIBUTIONS.items():
                services.set_contribution(partner=partners[slug], year=year, agreed_pence=pence)
            for code, *_, budget in LINES:
                services.set_line_budget(line=lines[code], year=year, budget_pence=budget)
            services.set_risk_share(
                fund=fund,
                year=year,
                applies_to=Variance.OVERSPEND,
                rules=[
                    services.RuleSpec(ShareMethod.HOST, cap_pence=5_000_000),
                    services.RuleSpec(ShareMethod.PROPORTIONAL),
                ],
            )
            services.set_risk_share(
                fund=fund,
                year=year,
                applies_to=Variance.UNDERSPEND,
                rules=[services.RuleSpec(ShareMethod.PROPORTIONAL)],
            )
    journals = 0
    rng = random.Random(75)  # noqa: S311 - repeatable demo figures, not secrets
    last_full_month_start = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    for back, year in zip((2, 1, 0), years, strict=True):
        for period in Period.objects.filter(fund=fund, year=year).order_by("month"):
            if period.starts_on > today:
                break
            journals += _post_month(fund, period, partners, lines, back, rng, today, fiona)
            if year < this_year and period.month == 12:
                journals += len(
                    services.approve_settlement(fund=fund, year=year, by=fiona, agency=council)
                )
            if period.ends_on < last_full_month_start:
                run = services.start_close(period=period, by=fiona, agency=council)
                if run.status != CloseStatus.DONE:
                    services.run_close_steps(run.pk)
    commitments = _care_packages(fund, council, fiona, today)
    charges = _client_charges(fund, lines["home-care"], council, fiona, today)
    return {"pooled_funds": 1, "journals": journals + charges, "commitments": commitments}


def _post_month(
    fund: PooledFund,
    period: Period,
    partners: dict[str, FundPartner],
    lines: dict[str, Any],
    back: int,
    rng: random.Random,
    today: dt.date,
    by: Any,
) -> int:
    """One month's journals, in one call of the posting service."""
    drafts: list[Draft] = []
    cash = services.account(fund, AccountKind.CASH)
    last_day = min(period.ends_on, today)
    # Contributions: invoiced quarterly on the 1st; paid on the 20th, except that the community
    # trust has paid nothing since the second quarter of this year.
    if period.month in (1, 4, 7, 10):
        for slug, partner in partners.items():
            amount = CONTRIBUTIONS[slug] // 4
            rec = services.account(fund, AccountKind.RECEIVABLE, partner=partner)
            contrib = services.account(fund, AccountKind.CONTRIBUTION, partner=partner)
            drafts.append(
                Draft(
                    fund,
                    JournalKind.CONTRIBUTION_INVOICED,
                    period.starts_on,
                    [Line(rec, "D", amount), Line(contrib, "C", amount)],
                    reference=f"INV-{slug[:4].upper()}-{period.year}-Q{period.month // 3 + 1}",
                )
            )
            paid_on = period.starts_on + dt.timedelta(days=19)
            behind = slug == "calder-valley-community" and back == 0 and period.month >= 7
            if paid_on <= today and not behind:
                drafts.append(
                    Draft(
                        fund,
                        JournalKind.CONTRIBUTION_RECEIVED,
                        paid_on,
                        [Line(cash, "D", amount), Line(rec, "C", amount)],
                        reference=f"BACS {slug[:4].upper()}-Q{period.month // 3 + 1}",
                    )
                )
    # Provider invoices: four a month per line, around the line's monthly budget.
    for code, *_rest, budget in LINES:
        line = lines[code]
        spend = services.account(fund, AccountKind.EXPENDITURE, line=line)
        month_total = int(budget / 12 * SPEND[code][2 - back])
        for n in range(4):
            day = period.starts_on + dt.timedelta(days=6 * n + 2)
            if day > last_day:
                break
            amount = max(int(month_total / 4 * rng.uniform(0.85, 1.15)), 100)
            drafts.append(
                Draft(
                    fund,
                    JournalKind.EXPENDITURE,
                    day,
                    [Line(spend, "D", amount), Line(cash, "C", amount)],
                    reference=f"PINV-{code[:3].upper()}-{period.starts_on:%y%m}-{n + 1}",
                )
            )
    journals = len(ledger.post_drafts(drafts, by=by, agency=fund.host)) if drafts else 0
    # Month-end accrual for home care not yet invoiced, reversing itself next month.
    if period.ends_on < today:
        services.post_accrual(
            line=lines["home-care"],
            amount_pence=rng.randrange(200_000, 900_000),
            on=period.ends_on,
            by=by,
            agency=fund.host,
            reference=f"ACC-{period.starts_on:%y%m}",
        )
        journals += 2
    return journals


def _care_packages(fund: PooledFund, council: Agency, by: Any, today: dt.date) -> int:
    """Care packages authorised for people the council holds files on, announced as the
    assessments app would (care_package.authorised through the outbox); a few invoices are
    then paid against them."""
    files = list(CaseFile.objects.filter(agency=council).order_by("opened_on", "id")[:16])
    for n, case_file in enumerate(files):
        start = today - dt.timedelta(days=7 * (n % 10) + 3)
        services_: list[dict[str, Any]] = [
            {
                "service_id": f"home-{n}",
                "kind": "home_care",
                "funding": "social_care",
                "provider_agency_id": None,
                "hours_per_week": str(4 + n % 10),
                "cost_per_hour_pence": 2_150,
                "weekly_cost_pence": 2_150 * (4 + n % 10),
                "start_date": start.isoformat(),
                "end_date": None,
            }
        ]
        if n % 3 == 0:
            services_.append(
                {
                    "service_id": f"rehab-{n}",
                    "kind": "rehabilitation",
                    "funding": "nhs",
                    "provider_agency_id": None,
                    "hours_per_week": None,
                    "cost_per_hour_pence": None,
                    "weekly_cost_pence": 18_000,
                    "start_date": start.isoformat(),
                    "end_date": (start + dt.timedelta(weeks=6)).isoformat(),
                }
            )
        payload = {
            "care_plan_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"demo-care-plan-{n}")),
            "version": 1,
            "case_file_id": str(case_file.pk),
            "person_id": str(case_file.person_id),
            "agency_id": council.pk,
            "authorised_by": by.pk,
            "authorised_on": start.isoformat(),
            "weekly_cost_pence": sum(s["weekly_cost_pence"] for s in services_),
            "services": services_,
        }
        services.post_care_package_event(
            event_type="care_package.authorised", payload=payload, by=by, agency=council
        )
    dispatch_pending()
    made = 0
    for commitment in fund.commitments.select_related("line").order_by("id"):
        made += 1
        if commitment.id % 2 == 0 and commitment.starts_on + dt.timedelta(days=7) <= today:
            period = (
                Period.objects.filter(fund=fund, status=PeriodStatus.OPEN, starts_on__lte=today)
                .order_by("starts_on")
                .last()
            )
            if period is not None:
                services.record_expenditure(
                    line=commitment.line,
                    amount_pence=commitment.weekly_cost_pence,
                    on=max(period.starts_on, commitment.starts_on),
                    commitment=commitment,
                    by=by,
                    agency=fund.host,
                    reference=f"PINV-CP-{commitment.pk}",
                )
    return made


def _client_charges(fund: PooledFund, line: Any, council: Agency, by: Any, today: dt.date) -> int:
    """Assessed charges for means-tested home care, on the council's own files."""
    period = (
        Period.objects.filter(fund=fund, status=PeriodStatus.OPEN, starts_on__lte=today)
        .order_by("starts_on")
        .last()
    )
    if period is None:
        return 0
    files = CaseFile.objects.filter(agency=council).order_by("opened_on", "id")[:6]
    for n, case_file in enumerate(files):
        services.record_client_charge(
            line=line,
            case_file=case_file,
            amount_pence=1_500 * (n + 2),
            on=period.starts_on,
            by=by,
            agency=council,
        )
    return len(files)
