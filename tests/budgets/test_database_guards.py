"""PostgreSQL itself refuses what the ledger forbids: each test goes around the application
with raw SQL on the application's own connection (its database role) and is refused."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from budgets import services
from budgets.ledger import reverse_journal
from budgets.models import AccountKind, Journal, Period, Posting
from tests.budgets.conftest import APRIL, MAY


def sql(statement: str, params: list | None = None) -> list:
    with connection.cursor() as cursor:
        cursor.execute(statement, params or [])
        return cursor.fetchall() if cursor.description else []


def refused(statement: str, params: list | None = None, *, at_commit: bool = False) -> str:
    """Run ``statement`` in a savepoint (checking deferred constraints as if committing, when
    ``at_commit``) and return the database's refusal."""
    with pytest.raises(DatabaseError) as exc, transaction.atomic():
        sql(statement, params)
        if at_commit:
            sql("SET CONSTRAINTS ALL IMMEDIATE")
    return str(exc.value)


def insert_journal(pool, period: Period, day=APRIL, **extra) -> int:
    columns = {
        "fund_id": pool.fund.pk,
        "period_id": period.pk,
        "effective_date": day,
        "kind": "manual",
        "reference": "",
        "memo": "",
        "fingerprint": "",
    } | extra
    names = ", ".join(columns)
    marks = ", ".join(["%s"] * len(columns))
    return sql(
        f"INSERT INTO budgets_journal ({names}, posted_at) VALUES ({marks}, now()) RETURNING id",  # noqa: S608 - column names are this module's
        list(columns.values()),
    )[0][0]


def april(pool) -> Period:
    return Period.objects.get(fund=pool.fund, starts_on__lte=APRIL, ends_on__gte=APRIL)


def accounts(pool):
    cash = services.account(pool.fund, AccountKind.CASH)
    spend = services.account(pool.fund, AccountKind.EXPENDITURE, line=pool.home_care)
    return cash, spend


def test_an_unbalanced_journal_is_refused_at_commit(pool):
    cash, spend = accounts(pool)
    period = april(pool)

    def unbalanced():
        j = insert_journal(pool, period)
        sql(
            "INSERT INTO budgets_posting (journal_id, account_id, period_id, side, amount_pence) "
            "VALUES (%s, %s, %s, 'D', 100), (%s, %s, %s, 'C', 99)",
            [j, spend.pk, period.pk, j, cash.pk, period.pk],
        )

    with pytest.raises(DatabaseError, match="does not balance"), transaction.atomic():
        unbalanced()
        sql("SET CONSTRAINTS ALL IMMEDIATE")
    assert not Journal.objects.exists()


def test_a_journal_without_postings_is_refused_at_commit(pool):
    message = refused(
        "INSERT INTO budgets_journal (fund_id, period_id, effective_date, kind, reference, memo,"
        " fingerprint, posted_at) VALUES (%s, %s, %s, 'manual', '', '', '', now())",
        [pool.fund.pk, april(pool).pk, APRIL],
        at_commit=True,
    )
    assert "does not balance" in message


def test_a_posted_posting_cannot_be_updated_or_deleted(pool):
    journal = services.record_expenditure(line=pool.home_care, amount_pence=5000, on=APRIL)
    posting = journal.postings.first()

    assert "UPDATE of a posted budgets_posting" in refused(
        "UPDATE budgets_posting SET amount_pence = 1 WHERE id = %s", [posting.pk]
    )
    assert "DELETE of a posted budgets_posting" in refused(
        "DELETE FROM budgets_posting WHERE id = %s", [posting.pk]
    )
    assert "UPDATE of a posted budgets_journal" in refused(
        "UPDATE budgets_journal SET memo = 'x' WHERE id = %s", [journal.pk]
    )
    assert "DELETE of a posted budgets_journal" in refused(
        "DELETE FROM budgets_journal WHERE id = %s", [journal.pk]
    )
    assert Posting.objects.get(pk=posting.pk).amount_pence == 5000


def test_nothing_is_posted_into_a_closed_period(pool):
    period = april(pool)
    sql("UPDATE budgets_period SET status = 'closed' WHERE id = %s", [period.pk])

    assert "is closed" in refused(
        "INSERT INTO budgets_journal (fund_id, period_id, effective_date, kind, reference, memo,"
        " fingerprint, posted_at) VALUES (%s, %s, %s, 'manual', '', '', '', now())",
        [pool.fund.pk, period.pk, APRIL],
    )


def test_a_closed_period_never_reopens_or_changes(pool):
    period = april(pool)
    sql("UPDATE budgets_period SET status = 'closed' WHERE id = %s", [period.pk])

    assert "cannot change" in refused(
        "UPDATE budgets_period SET status = 'open' WHERE id = %s", [period.pk]
    )
    assert "cannot be deleted" in refused("DELETE FROM budgets_period WHERE id = %s", [period.pk])


def test_an_effective_date_outside_the_period_is_refused(pool):
    assert "outside period" in refused(
        "INSERT INTO budgets_journal (fund_id, period_id, effective_date, kind, reference, memo,"
        " fingerprint, posted_at) VALUES (%s, %s, %s, 'manual', '', '', '', now())",
        [pool.fund.pk, april(pool).pk, MAY],
    )


def test_an_idempotency_key_is_used_once_per_fund(pool):
    services.record_expenditure(
        line=pool.home_care, amount_pence=5000, on=APRIL, idempotency_key="host-ledger-1"
    )

    message = refused(
        "INSERT INTO budgets_journal (fund_id, period_id, effective_date, kind, reference, memo,"
        " fingerprint, idempotency_key, posted_at)"
        " VALUES (%s, %s, %s, 'manual', '', '', '', 'host-ledger-1', now())",
        [pool.fund.pk, april(pool).pk, APRIL],
    )
    assert "journal_idempotency_key_once" in message


def test_a_journal_is_reversed_once_and_a_reversal_never(pool):
    journal = services.record_expenditure(line=pool.home_care, amount_pence=5000, on=APRIL)
    reversal = reverse_journal(journal=journal, effective_date=APRIL)
    insert = (
        "INSERT INTO budgets_journal (fund_id, period_id, effective_date, kind, reference,"
        " memo, fingerprint, reverses_id, posted_at)"
        " VALUES (%s, %s, %s, 'reversal', '', '', '', %s, now())"
    )

    assert "reverses_id" in refused(insert, [pool.fund.pk, april(pool).pk, APRIL, journal.pk])
    assert "itself a reversal" in refused(
        insert, [pool.fund.pk, april(pool).pk, APRIL, reversal.pk]
    )


def test_a_posting_on_another_funds_account_is_refused(pool, council, hospital, fiona):
    from tests.budgets.conftest import make_pool

    other = make_pool(council, hospital, fiona, slug="other")
    foreign = services.account(other.fund, AccountKind.CASH)
    period = april(pool)
    _, spend = accounts(pool)

    def cross():
        j = insert_journal(pool, period)
        sql(
            "INSERT INTO budgets_posting (journal_id, account_id, period_id, side, amount_pence) "
            "VALUES (%s, %s, %s, 'D', 100), (%s, %s, %s, 'C', 100)",
            [j, spend.pk, period.pk, j, foreign.pk, period.pk],
        )

    with pytest.raises(DatabaseError, match="another fund"), transaction.atomic():
        cross()


def test_postings_cannot_be_added_to_an_earlier_journal(pool):
    journal = services.record_expenditure(line=pool.home_care, amount_pence=5000, on=APRIL)
    cash, spend = accounts(pool)
    # As if by another transaction: the journal's transaction id is not this one's.
    sql("SET CONSTRAINTS ALL IMMEDIATE")
    sql("ALTER TABLE budgets_journal DISABLE TRIGGER budgets_journal_append_only")
    sql("UPDATE budgets_journal SET posted_in_xact = 1 WHERE id = %s", [journal.pk])
    sql("ALTER TABLE budgets_journal ENABLE TRIGGER budgets_journal_append_only")

    assert "already posted" in refused(
        "INSERT INTO budgets_posting (journal_id, account_id, period_id, side, amount_pence) "
        "VALUES (%s, %s, %s, 'D', 100), (%s, %s, %s, 'C', 100)",
        [journal.pk, spend.pk, journal.period_id, journal.pk, cash.pk, journal.period_id],
    )


def test_the_posting_time_is_the_databases_clock(pool):
    period = april(pool)
    cash, spend = accounts(pool)
    [(journal_id, on_db_clock)] = sql(
        "INSERT INTO budgets_journal (fund_id, period_id, effective_date, kind, reference, memo,"
        " fingerprint, posted_at) VALUES (%s, %s, %s, 'manual', '', '', '',"
        " '2001-01-01T00:00:00Z') RETURNING id, posted_at = now()",
        [pool.fund.pk, period.pk, APRIL],
    )
    sql(
        "INSERT INTO budgets_posting (journal_id, account_id, period_id, side, amount_pence) "
        "VALUES (%s, %s, %s, 'D', 100), (%s, %s, %s, 'C', 100)",
        [journal_id, spend.pk, period.pk, journal_id, cash.pk, period.pk],
    )

    assert on_db_clock is True
