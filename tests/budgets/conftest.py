"""A pooled fund for the budgets tests: the council hosts it, the hospital is a partner, the
outsider agency is not. ``fiona`` is the council's finance officer and the pool manager;
``hugh`` is the hospital's finance officer. Financial year 2026 (1 April 2026 to 31 March
2027), open; contributions of 600,000.00 (council) and 400,000.00 (hospital)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest

from budgets import services
from budgets.models import BudgetLine, FundPartner, LegalBasis, PooledFund
from caretrust.directory import services as directory
from caretrust.directory.models import Role
from tests.factories import UserFactory

YEAR = 2026
APRIL = dt.date(2026, 4, 15)
MAY = dt.date(2026, 5, 15)


@dataclass
class Pool:
    fund: PooledFund
    council: FundPartner
    hospital: FundPartner
    home_care: BudgetLine  # social care, charges allowed, takes home_care commitments
    nursing: BudgetLine  # NHS, no charges, takes district_nursing
    delays: BudgetLine  # takes delayed-discharge reimbursement


@pytest.fixture
def fiona(council: Any) -> Any:
    user = UserFactory(username="fiona")
    directory.add_membership(user=user, agency=council, role=Role.FINANCE_OFFICER)
    directory.add_membership(user=user, agency=council, role=Role.POOL_MANAGER)
    return user


@pytest.fixture
def hugh(hospital: Any) -> Any:
    user = UserFactory(username="hugh")
    directory.add_membership(user=user, agency=hospital, role=Role.FINANCE_OFFICER)
    return user


def make_pool(council: Any, hospital: Any, manager: Any, slug: str = "pool") -> Pool:
    fund = services.create_fund(
        name=f"Intermediate care pool {slug}",
        slug=slug,
        legal_basis=LegalBasis.SECTION_75_POOL,
        client_group="Older people needing intermediate care",
        host=council,
        pool_manager=manager,
    )
    council_p = FundPartner.objects.get(fund=fund, agency=council)
    hospital_p = services.add_partner(fund=fund, agency=hospital)
    services.open_year(fund=fund, year=YEAR)
    services.set_contribution(partner=council_p, year=YEAR, agreed_pence=60_000_000)
    services.set_contribution(partner=hospital_p, year=YEAR, agreed_pence=40_000_000)
    home_care = services.add_line(
        fund=fund,
        code="home-care",
        name="Home care",
        funding="social_care",
        charges_allowed=True,
        service_kinds=["home_care"],
    )
    nursing = services.add_line(
        fund=fund,
        code="nursing",
        name="Community nursing",
        funding="nhs",
        service_kinds=["district_nursing"],
    )
    delays = services.add_line(
        fund=fund,
        code="delays",
        name="Delayed discharges",
        funding="social_care",
        receives_delay_charges=True,
    )
    for line, budget in ((home_care, 50_000_000), (nursing, 40_000_000), (delays, 10_000_000)):
        services.set_line_budget(line=line, year=YEAR, budget_pence=budget)
    return Pool(fund, council_p, hospital_p, home_care, nursing, delays)


@pytest.fixture
def pool(council: Any, hospital: Any, fiona: Any) -> Pool:
    return make_pool(council, hospital, fiona)


def schemathesis_ids(hospital: Any, council: Any) -> dict[str, list[str]]:
    """For tests/api/test_schemathesis.py (whose client is the hospital's): ids of a fund the
    hospital hosts and one it is a partner of, for each budgets path with an {id}."""
    import datetime as dt

    from budgets.models import AccountKind
    from caretrust.directory.models import Role as R

    pools = []
    for host, partner, slug in ((hospital, council, "st-own"), (council, hospital, "st-shared")):
        manager = UserFactory()
        directory.add_membership(user=manager, agency=host, role=R.POOL_MANAGER)
        pools.append(make_pool(host, partner, manager, slug=slug))
    journals = [
        str(services.record_expenditure(line=p.home_care, amount_pence=100, on=APRIL).pk)
        for p in pools
    ]
    commitments = [
        str(
            services.commit_service(
                care_plan_id=f"00000000-0000-4000-8000-00000000000{n}",
                version=1,
                case_file_id="00000000-0000-4000-8000-0000000000aa",
                agency_id=p.fund.host_id,
                service={
                    "service_id": "h",
                    "kind": "home_care",
                    "funding": "social_care",
                    "weekly_cost_pence": 700,
                    "start_date": "2026-05-01",
                    "end_date": None,
                },
                on=dt.date(2026, 5, 1),
                event_key=f"st{n}",
            ).pk  # type: ignore[union-attr]
        )
        for n, p in enumerate(pools)
    ]
    funds = [str(p.fund.pk) for p in pools]
    return {
        "/api/v1/funds/{id}/": funds,
        "/api/v1/funds/{id}/reconciliation/": funds,
        "/api/v1/budget-accounts/{id}/": [
            str(services.account(p.fund, AccountKind.CASH).pk) for p in pools
        ],
        "/api/v1/journals/{id}/": journals,
        "/api/v1/journals/{id}/reverse/": journals,
        "/api/v1/commitments/{id}/": commitments,
    }
