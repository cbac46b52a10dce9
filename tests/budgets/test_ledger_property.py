"""Random sequences of journals, reversals, accruals, closes and a settlement, checked after
every step against a small reference model: every balance (maintained and summed from the
postings) equals the model's, the trial balance is zero, the database's deferred balance
checks pass, each reversal nets its journal to zero, and no closed period changes."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from django.db import connection, transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from budgets import ledger, services
from budgets.ledger import LedgerError, Line
from budgets.models import AccountKind, AccountPeriodTotal, Journal, Period, ShareMethod, Variance
from tests.budgets.conftest import YEAR

AMOUNT = st.integers(min_value=1, max_value=10**9)


class LedgerWorld(RuleBasedStateMachine):
    pool: Any
    manager: Any

    def __init__(self) -> None:
        super().__init__()
        self._savepoint = transaction.atomic()
        self._savepoint.__enter__()
        self.accounts = list(self.pool.fund.accounts.order_by("id"))
        self.periods = list(Period.objects.filter(fund=self.pool.fund, year=YEAR).order_by("month"))
        self.balances: dict[int, int] = defaultdict(int)
        self.journals: list[Journal] = []
        self.reversed: set[int] = set()
        self.closed: dict[int, list[tuple[int, int, int]]] = {}
        self.settled = False

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._savepoint.__exit__(None, None, None)

    def _apply(self, journal: Journal) -> None:
        for p in journal.postings.all():
            self.balances[p.account_id] += p.signed_pence

    def _open(self, month: int) -> bool:
        return self.periods[month - 1].pk not in self.closed

    @rule(
        pairs=st.lists(
            st.tuples(st.integers(0, 99), st.integers(0, 99), AMOUNT), min_size=1, max_size=3
        ),
        month=st.integers(1, 12),
    )
    def post(self, pairs, month):
        lines, expected = [], defaultdict(int)
        for d, c, amount in pairs:
            debit = self.accounts[d % len(self.accounts)]
            credit = self.accounts[c % len(self.accounts)]
            lines += [Line(debit, "D", amount), Line(credit, "C", amount)]
            expected[debit.pk] += amount
            expected[credit.pk] -= amount
        day = self.periods[month - 1].starts_on
        if not self._open(month):
            try:
                ledger.post_journal(
                    fund=self.pool.fund, kind="manual", effective_date=day, lines=lines
                )
            except LedgerError as exc:
                assert "is closed" in str(exc)
                return
            raise AssertionError("posted into a closed period")
        journal = ledger.post_journal(
            fund=self.pool.fund, kind="manual", effective_date=day, lines=lines
        )
        for account_id, amount in expected.items():
            self.balances[account_id] += amount
        self.journals.append(journal)

    @precondition(lambda self: self.journals)
    @rule(pick=st.integers(0, 10**6))
    def reverse(self, pick):
        journal = self.journals[pick % len(self.journals)]
        month = next(m for m in range(12, 0, -1) if self._open(m))
        day = self.periods[month - 1].starts_on
        if journal.reverses_id is not None or journal.pk in self.reversed:
            try:
                ledger.reverse_journal(journal=journal, effective_date=day)
            except LedgerError:
                return
            raise AssertionError("reversed twice, or reversed a reversal")
        reversal = ledger.reverse_journal(journal=journal, effective_date=day)
        self.reversed.add(journal.pk)
        self._apply(reversal)
        self.journals.append(reversal)
        net = defaultdict(int)
        for p in [*journal.postings.all(), *reversal.postings.all()]:
            net[p.account_id] += p.signed_pence
        assert set(net.values()) == {0}

    @rule(line=st.integers(0, 2), amount=AMOUNT, month=st.integers(1, 11))
    def accrue(self, line, amount, month):
        if not self._open(month) or not self._open(month + 1):
            return
        target = [self.pool.home_care, self.pool.nursing, self.pool.delays][line]
        accrual, reversal = services.post_accrual(
            line=target, amount_pence=amount, on=self.periods[month - 1].ends_on
        )
        self._apply(accrual)
        self._apply(reversal)
        self.journals += [accrual, reversal]
        self.reversed.add(accrual.pk)

    @precondition(lambda self: len(self.closed) < 11)
    @rule()
    def close_next_month(self):
        period = next(p for p in self.periods if p.pk not in self.closed)
        run = services.start_close(period=period, by=self.manager)
        assert services.run_close_steps(run.pk).status == "done"
        assert services.run_close_steps(run.pk).status == "done"  # again: nothing changes
        self.closed[period.pk] = sorted(
            AccountPeriodTotal.objects.filter(period=period).values_list(
                "account_id", "debit_pence", "credit_pence"
            )
        )

    @precondition(lambda self: not self.settled)
    @rule()
    def settle(self):
        variances = {
            line.pk: services.line_variance(line, YEAR) for line in self.pool.fund.lines.all()
        }
        journals = services.approve_settlement(fund=self.pool.fund, year=YEAR, by=self.manager)
        self.settled = True
        for journal in journals:
            self._apply(journal)
            self.journals.append(journal)
            line_id = int(journal.reference.rsplit(" ", 1)[1])
            receivable = sum(
                p.signed_pence
                for p in journal.postings.all()
                if p.account.kind == AccountKind.RECEIVABLE
            )
            assert receivable == variances[line_id], "shares add up to the variance exactly"

    @invariant()
    def balances_match_the_model(self):
        for account in self.accounts:
            want = self.balances[account.pk]
            assert ledger.balance(account) == want
            assert ledger.balance_from_postings(account) == want

    @invariant()
    def the_trial_balance_is_zero_and_nothing_drifted(self):
        assert ledger.trial_balance_total(self.pool.fund) == 0
        assert ledger.drift(self.pool.fund) == []

    @invariant()
    def the_database_finds_every_journal_balanced(self):
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")

    @invariant()
    def closed_periods_never_change(self):
        for period_id, totals in self.closed.items():
            assert (
                sorted(
                    AccountPeriodTotal.objects.filter(period_id=period_id).values_list(
                        "account_id", "debit_pence", "credit_pence"
                    )
                )
                == totals
            )


def test_any_sequence_of_postings_keeps_the_books_straight(pool, fiona):
    services.set_risk_share(
        fund=pool.fund,
        year=YEAR,
        applies_to=Variance.OVERSPEND,
        rules=[
            services.RuleSpec(ShareMethod.HOST, cap_pence=100_000),
            services.RuleSpec(
                ShareMethod.FIXED, percentages={pool.council: 3333, pool.hospital: 6667}
            ),
        ],
    )
    services.set_risk_share(
        fund=pool.fund,
        year=YEAR,
        applies_to=Variance.UNDERSPEND,
        rules=[services.RuleSpec(ShareMethod.PROPORTIONAL)],
    )
    LedgerWorld.pool, LedgerWorld.manager = pool, fiona
    run_state_machine_as_test(
        LedgerWorld,
        settings=settings(
            max_examples=30,
            stateful_step_count=12,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )


def test_dates_are_in_the_financial_year():
    assert services.month_bounds(YEAR, 1) == (dt.date(2026, 4, 1), dt.date(2026, 4, 30))
    assert services.month_bounds(YEAR, 12) == (dt.date(2027, 3, 1), dt.date(2027, 3, 31))
