"""The year-end risk share: every penny of a variance shared, by the rules in their order,
with the largest-remainder rounding, across awkward amounts and three or more partners."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from budgets import allocation, ledger, services
from budgets.ledger import LedgerError
from budgets.models import AccountKind, ShareMethod, Variance
from tests.budgets.conftest import YEAR
from tests.factories import AgencyFactory

WEIGHTS = st.dictionaries(st.integers(1, 50), st.integers(0, 10**9), min_size=1, max_size=7).filter(
    lambda w: sum(w.values()) > 0
)


@given(amount=st.integers(-(10**12), 10**12), weights=WEIGHTS)
def test_largest_remainder_shares_add_up_exactly_and_differ_from_exact_by_under_a_penny(
    amount, weights
):
    shares = allocation.largest_remainder(amount, weights)

    assert sum(shares.values()) == amount
    total = sum(weights.values())
    for key, w in weights.items():
        assert abs(shares[key] - amount * w / total) < 1


@given(
    amount=st.integers(0, 10**11),
    steps=st.lists(st.tuples(WEIGHTS, st.integers(1, 10**8)), max_size=3),
    last=WEIGHTS,
)
def test_capped_rules_in_order_share_every_penny(amount, steps, last):
    rules = [allocation.Step(w, cap) for w, cap in steps] + [allocation.Step(last, None)]

    shares = allocation.apply_steps(amount, rules)

    assert sum(shares.values()) == amount
    assert all(v >= 0 for v in shares.values())


def test_a_third_of_a_penny_goes_to_the_largest_remainders_in_order():
    assert allocation.largest_remainder(100, {1: 1, 2: 1, 3: 1}) == {1: 34, 2: 33, 3: 33}
    assert allocation.largest_remainder(-100, {1: 1, 2: 1, 3: 1}) == {1: -34, 2: -33, 3: -33}
    assert allocation.largest_remainder(2, {1: 1, 2: 2, 3: 3}) == {1: 0, 2: 1, 3: 1}


def test_an_overspend_is_shared_host_first_up_to_its_cap_then_by_contributions(pool, fiona):
    community = services.add_partner(fund=pool.fund, agency=AgencyFactory(slug="community"))
    services.set_contribution(partner=community, year=YEAR, agreed_pence=33_333_333)
    services.set_risk_share(
        fund=pool.fund,
        year=YEAR,
        applies_to=Variance.OVERSPEND,
        rules=[
            services.RuleSpec(ShareMethod.HOST, cap_pence=1_000_000),
            services.RuleSpec(ShareMethod.PROPORTIONAL),
        ],
    )
    services.set_risk_share(
        fund=pool.fund,
        year=YEAR,
        applies_to=Variance.UNDERSPEND,
        rules=[services.RuleSpec(ShareMethod.PROPORTIONAL)],
    )
    # Home care over its 500,000.00 budget by 77,777.77, among three partners.
    services.record_expenditure(
        line=pool.home_care, amount_pence=50_000_000 + 7_777_777, on=dt.date(2027, 3, 1)
    )

    shares = services.risk_share(pool.fund, YEAR)[pool.home_care.pk]

    assert sum(shares.values()) == 7_777_777
    rest = 7_777_777 - 1_000_000
    weights = {pool.council.pk: 60_000_000, pool.hospital.pk: 40_000_000, community.pk: 33_333_333}
    expected = allocation.largest_remainder(rest, weights)
    expected[pool.council.pk] += 1_000_000
    assert shares == expected


def test_the_settlement_posts_each_share_once_by_the_pool_manager_only(pool, fiona, hugh):
    services.set_risk_share(
        fund=pool.fund,
        year=YEAR,
        applies_to=Variance.OVERSPEND,
        rules=[
            services.RuleSpec(
                ShareMethod.FIXED, percentages={pool.council: 5000, pool.hospital: 5000}
            )
        ],
    )
    services.set_risk_share(
        fund=pool.fund,
        year=YEAR,
        applies_to=Variance.UNDERSPEND,
        rules=[services.RuleSpec(ShareMethod.PROPORTIONAL)],
    )
    services.record_expenditure(line=pool.nursing, amount_pence=40_000_001, on=dt.date(2026, 6, 1))

    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.approve_settlement(fund=pool.fund, year=YEAR, by=hugh)
    journals = services.approve_settlement(fund=pool.fund, year=YEAR, by=fiona)
    again = services.approve_settlement(fund=pool.fund, year=YEAR, by=fiona)

    assert [j.pk for j in again] == [j.pk for j in journals]
    receivables = {
        p: ledger.balance(services.account(pool.fund, AccountKind.RECEIVABLE, partner=p))
        for p in (pool.council, pool.hospital)
    }
    # Nursing over by 1p (to the council, the earlier partner); the other lines under budget
    # in full (home care 500,000.00, delays 100,000.00) and repaid 60:40.
    assert receivables[pool.council] == 1 - 30_000_000 - 6_000_000
    assert receivables[pool.hospital] == 0 - 20_000_000 - 4_000_000


def test_fixed_percentages_must_add_up_to_100_and_the_last_rule_has_no_cap(pool):
    with pytest.raises(LedgerError, match=r"add up to 99\.99%"):
        services.set_risk_share(
            fund=pool.fund,
            year=YEAR,
            applies_to=Variance.OVERSPEND,
            rules=[
                services.RuleSpec(
                    ShareMethod.FIXED, percentages={pool.council: 5000, pool.hospital: 4999}
                )
            ],
        )
    with pytest.raises(LedgerError, match="last rule must have no cap"):
        services.set_risk_share(
            fund=pool.fund,
            year=YEAR,
            applies_to=Variance.OVERSPEND,
            rules=[services.RuleSpec(ShareMethod.HOST, cap_pence=5)],
        )
