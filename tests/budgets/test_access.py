"""Who sees a fund's figures (finance staff of a partner), who sees a person's charges (only
through the visibility rule, finance class), and who closes periods (the pool manager)."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from budgets import selectors, services
from budgets.models import Period
from caretrust.audit.models import AuditEvent
from caretrust.directory import services as directory
from caretrust.directory.models import Role
from caretrust.people.models import DataClass
from tests.budgets.conftest import APRIL
from tests.factories import CaseFileFactory, UserFactory, share


def test_finance_staff_of_any_partner_see_the_funds_figures(pool, fiona, hugh, council, hospital):
    for user, agency in ((fiona, council), (hugh, hospital)):
        fund = selectors.get_fund(
            user=user,
            agency=agency,
            roles={Role.FINANCE_OFFICER},
            fund_id=pool.fund.pk,
            purpose="dashboard",
        )
        assert fund == pool.fund
    assert AuditEvent.objects.filter(action="budgets.fund_viewed").count() == 2


def test_an_outsider_and_a_non_finance_role_get_404_and_it_is_audited(
    pool, outsider_agency, oscar, carol, council
):
    ian = UserFactory()
    directory.add_membership(user=ian, agency=outsider_agency, role=Role.FINANCE_OFFICER)
    for user, agency, roles in (
        (ian, outsider_agency, {Role.FINANCE_OFFICER}),
        (carol, council, {Role.CARE_MANAGER}),
    ):
        with pytest.raises(Http404):
            selectors.get_fund(
                user=user, agency=agency, roles=roles, fund_id=pool.fund.pk, purpose="dashboard"
            )
    with pytest.raises(Http404):
        selectors.get_fund(
            user=ian,
            agency=outsider_agency,
            roles={Role.FINANCE_OFFICER},
            fund_id=999_999,
            purpose="dashboard",
        )
    assert AuditEvent.objects.filter(action="access.denied").count() == 3


def test_a_persons_charges_are_seen_only_through_the_finance_share(
    pool, fiona, council, hospital, carol, hugh
):
    case_file = CaseFileFactory(agency=council, lead_worker=carol)
    services.record_client_charge(
        line=pool.home_care,
        case_file=case_file,
        amount_pence=4_000,
        on=APRIL,
        by=fiona,
        agency=council,
    )
    person = case_file.person

    assert len(selectors.person_charges(user=fiona, agency=council, person_id=person.pk)) == 1
    assert selectors.person_charges(user=hugh, agency=hospital, person_id=person.pk) == []

    share(person, holder=council, recipient=hospital, by=carol, classes=[DataClass.DEMOGRAPHICS])
    assert selectors.person_charges(user=hugh, agency=hospital, person_id=person.pk) == []

    share(person, holder=council, recipient=hospital, by=carol, classes=[DataClass.FINANCE])
    assert len(selectors.person_charges(user=hugh, agency=hospital, person_id=person.pk)) == 1
    assert (
        AuditEvent.objects.filter(action="budgets.charges_viewed", person_id=person.pk).count() == 4
    )


def test_only_the_pool_manager_closes_a_period_and_only_the_host_posts(pool, hugh, hospital):
    april = Period.objects.get(fund=pool.fund, month=1)

    with pytest.raises(PermissionDenied):
        services.start_close(period=april, by=hugh)
    with pytest.raises(PermissionDenied):
        selectors.require_host_writer(pool.fund, hospital)
    april.refresh_from_db()
    assert april.status == "open"


def test_months_close_in_order_and_a_second_request_reuses_the_run(pool, fiona):
    may = Period.objects.get(fund=pool.fund, month=2)
    april = Period.objects.get(fund=pool.fund, month=1)

    with pytest.raises(services.BudgetError, match="earlier open months"):
        services.start_close(period=may, by=fiona)
    run = services.start_close(period=april, by=fiona)
    assert services.start_close(period=april, by=fiona).pk == run.pk
    services.run_close_steps(run.pk)
    services.run_close_steps(run.pk)
    april.refresh_from_db()
    assert april.status == "closed"
    assert AuditEvent.objects.filter(action="budgets.period_closed").count() == 1
