"""The posting service: the only way money moves in a pooled fund.

``post_journal`` validates a journal completely before writing anything, locks the per-account
totals it will change in one fixed order (account, then period: two posters can never wait for
each other in a cycle, whatever funds and accounts they touch), inserts the journal and its
postings in one statement each, and audits the write. PostgreSQL re-checks every rule (see
``budgets.models``); a rule it refuses is reported as a ``LedgerError`` with the same meaning.
Serialization failures and deadlocks are retried when the service owns the transaction.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, ParamSpec, TypeVar

from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, OperationalError, connection, transaction
from django.db.models import Q, Sum

from budgets.models import (
    Account,
    AccountPeriodTotal,
    Commitment,
    Journal,
    JournalKind,
    Period,
    PeriodStatus,
    PooledFund,
    Posting,
    Side,
)
from caretrust.audit import services as audit

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

RETRIES = 5
RETRY_SQLSTATES = {"40001", "40P01"}  # serialization_failure, deadlock_detected


class LedgerError(ValidationError):
    """A journal the ledger refuses, with a message saying what is wrong and what is expected."""


class IdempotencyConflict(LedgerError):
    """The idempotency key was used before for a different journal."""


@dataclass(frozen=True)
class Line:
    """One posting to be made: ``amount_pence`` (a whole number above 0) on ``side``."""

    account: Account
    side: str
    amount_pence: int


def _sqlstate(exc: BaseException) -> str | None:
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None) or getattr(
        getattr(cause, "diag", None), "sqlstate", None
    )


def retrying(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn`` in its own transaction, again (up to RETRIES times, with a short back-off) if
    PostgreSQL reports a serialization failure or a deadlock. Inside a caller's transaction
    there is nothing safe to retry, so it runs once and the caller's transaction decides."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if connection.in_atomic_block:
            return fn(*args, **kwargs)
        for attempt in range(1, RETRIES + 1):
            try:
                with transaction.atomic():
                    return fn(*args, **kwargs)
            except OperationalError as exc:
                if _sqlstate(exc) not in RETRY_SQLSTATES or attempt == RETRIES:
                    raise
                logger.info("retrying %s after %s (attempt %d)", fn.__name__, exc, attempt)
                time.sleep(0.01 * 2**attempt)
        raise AssertionError("unreachable")

    return wrapper


def period_for(fund: PooledFund, day: date) -> Period:
    """The fund's period holding ``day``; a LedgerError if there is none or it is closed."""
    period = Period.objects.filter(fund=fund, starts_on__lte=day, ends_on__gte=day).first()
    if period is None:
        raise LedgerError(
            {"effective_date": [f"{day:%d %B %Y} is outside every period of {fund}."]}
        )
    if period.status != PeriodStatus.OPEN:
        raise LedgerError(
            {
                "effective_date": [
                    f"{period} is closed. Post into an open period (the first open one "
                    "starts after the last close)."
                ]
            }
        )
    return period


def fingerprint(kind: str, effective_date: date, lines: Sequence[Line], reference: str) -> str:
    """What a journal says, for telling a replay from a different journal under one key."""
    body = {
        "kind": kind,
        "date": effective_date.isoformat(),
        "reference": reference,
        "lines": sorted((ln.account.pk, ln.side, ln.amount_pence) for ln in lines),
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def validate_lines(fund: PooledFund, lines: Sequence[Line]) -> None:
    errors: list[str] = []
    if len(lines) < 2:
        errors.append("A journal needs at least two postings (a debit and a credit).")
    for n, ln in enumerate(lines, 1):
        if ln.side not in (Side.DEBIT, Side.CREDIT):
            errors.append(f"Posting {n}: the side must be debit or credit.")
        if not isinstance(ln.amount_pence, int) or isinstance(ln.amount_pence, bool):
            errors.append(f"Posting {n}: the amount must be a whole number of pence.")
        elif ln.amount_pence <= 0:
            errors.append(
                f"Posting {n}: the amount must be above zero; the side says which way it goes."
            )
        if ln.account.fund_id != fund.pk:
            errors.append(f"Posting {n}: account {ln.account.pk} belongs to another fund.")
    if not errors:
        debits = sum(ln.amount_pence for ln in lines if ln.side == Side.DEBIT)
        credits = sum(ln.amount_pence for ln in lines if ln.side == Side.CREDIT)
        if debits != credits:
            errors.append(
                f"The journal does not balance: debits {debits} pence, credits {credits} pence. "
                "Debits and credits must be equal."
            )
    if errors:
        raise LedgerError({"postings": errors})


def lock_totals(pairs: Iterable[tuple[int, int]]) -> None:
    """Make and lock the total rows of (account id, period id) ``pairs`` in one fixed order.

    Every poster takes its rows in ascending (account, period) order before it writes, so no
    two posters can each hold a row the other waits for: no deadlocks, within a fund or
    across funds."""
    ordered = sorted(set(pairs))
    if not ordered:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO budgets_accountperiodtotal
                (account_id, period_id, debit_pence, credit_pence)
            SELECT a, p, 0, 0 FROM unnest(%s::bigint[], %s::bigint[]) AS t(a, p) ORDER BY a, p
            ON CONFLICT (account_id, period_id) DO NOTHING
            """,
            [[a for a, _ in ordered], [p for _, p in ordered]],
        )
        cursor.execute(
            """
            SELECT 1 FROM budgets_accountperiodtotal
            WHERE (account_id, period_id) IN (SELECT * FROM unnest(%s::bigint[], %s::bigint[]))
            ORDER BY account_id, period_id FOR UPDATE
            """,
            [[a for a, _ in ordered], [p for _, p in ordered]],
        )


@dataclass(frozen=True)
class Draft:
    """A journal ready to write (validated), for services that post several at once."""

    fund: PooledFund
    kind: str
    effective_date: date
    lines: Sequence[Line]
    reference: str = ""
    memo: str = ""
    idempotency_key: str | None = None
    commitment: Commitment | None = None
    reverses: Journal | None = None


def post_journal(
    *,
    fund: PooledFund,
    kind: str,
    effective_date: date,
    lines: Sequence[Line],
    by: Any = None,
    agency: Any = None,
    reference: str = "",
    memo: str = "",
    idempotency_key: str | None = None,
    commitment: Commitment | None = None,
) -> Journal:
    """Post one balanced journal (see ``post_drafts``)."""
    draft = Draft(
        fund=fund,
        kind=kind,
        effective_date=effective_date,
        lines=lines,
        reference=reference,
        memo=memo,
        idempotency_key=idempotency_key,
        commitment=commitment,
    )
    return post_drafts([draft], by=by, agency=agency)[0]


@retrying
def post_drafts(drafts: Sequence[Draft], *, by: Any = None, agency: Any = None) -> list[Journal]:
    """Post journals atomically (all or none).

    Double entry: each journal's debits equal its credits, every amount is a whole number of
    pence above zero on one side, every account is the journal's fund's, the effective date is
    in an open period of that fund. An idempotency key already used in the fund returns the
    journal it made if the new one says the same, and is refused if it says anything else.
    Locks: the total rows every journal will change, in (account, period) order."""
    with transaction.atomic():
        if not drafts:
            return []
        periods = {}
        for d in drafts:
            validate_lines(d.fund, d.lines)
            periods[id(d)] = period_for(d.fund, d.effective_date)
        lock_totals((ln.account.pk, periods[id(d)].pk) for d in drafts for ln in d.lines)
        # After the locks: a concurrent first use of the same key has committed by now (it
        # held the same rows), so a retry from another connection finds its journal.
        keyed = [d for d in drafts if d.idempotency_key]
        if keyed:
            replay = _replay(keyed)
            if replay is not None:
                return replay
        journals = []
        for d in drafts:
            period = periods[id(d)]
            try:
                with transaction.atomic():
                    journal = Journal.objects.create(
                        fund=d.fund,
                        period=period,
                        effective_date=d.effective_date,
                        kind=d.kind,
                        reference=d.reference[:100],
                        memo=d.memo[:300],
                        idempotency_key=d.idempotency_key,
                        fingerprint=fingerprint(d.kind, d.effective_date, d.lines, d.reference),
                        commitment=d.commitment,
                        reverses=d.reverses,
                        posted_by=by if getattr(by, "is_authenticated", False) else None,
                    )
            except IntegrityError as exc:
                raise _explain(exc, d) from exc
            except DatabaseError as exc:
                if _sqlstate(exc) == "55000":
                    raise LedgerError({"effective_date": [f"{period} is closed."]}) from exc
                raise
            Posting.objects.bulk_create(
                Posting(
                    journal=journal,
                    account=ln.account,
                    period=period,
                    side=ln.side,
                    amount_pence=ln.amount_pence,
                )
                for ln in d.lines
            )
            journals.append(journal)
        audit.record(
            "budgets.journal_posted",
            actor=by,
            agency=agency,
            obj=journals[0],
            detail={
                "fund": drafts[0].fund.pk,
                "journals": [j.pk for j in journals],
                "kinds": [j.kind for j in journals],
            },
        )
        return journals


def _replay(keyed: Sequence[Draft]) -> list[Journal] | None:
    """The journals already posted under these keys, if all of them were; an error if any key
    was used for something else."""
    found = {
        (j.fund_id, j.idempotency_key): j
        for d in keyed
        for j in Journal.objects.filter(fund=d.fund, idempotency_key=d.idempotency_key)
    }
    if not found:
        return None
    for d in keyed:
        j = found.get((d.fund.pk, d.idempotency_key))
        if j is None or j.fingerprint != fingerprint(
            d.kind, d.effective_date, d.lines, d.reference
        ):
            raise IdempotencyConflict(
                {
                    "idempotency_key": [
                        f"The key {d.idempotency_key!r} was used for a different journal. "
                        "Use a new key for a new journal."
                    ]
                }
            )
    return [found[(d.fund.pk, d.idempotency_key)] for d in keyed]


def _explain(exc: IntegrityError, d: Draft) -> LedgerError:
    text = str(exc)
    if "journal_idempotency_key_once" in text:
        return IdempotencyConflict(
            {"idempotency_key": [f"The key {d.idempotency_key!r} has just been used."]}
        )
    if "reverses_id" in text or "reversed" in text:
        return LedgerError({"reverses": ["This journal has already been reversed."]})
    if "itself a reversal" in text:
        return LedgerError({"reverses": ["A reversal cannot be reversed."]})
    return LedgerError({"journal": [text.splitlines()[0]]})


def reverse_journal(
    *, journal: Journal, effective_date: date, by: Any = None, agency: Any = None, memo: str = ""
) -> Journal:
    """Reverse a journal once, by the same postings on the opposite sides, dated in an open
    period. A reversal is never reversed; a journal is reversed at most once (the database
    refuses a second, even a concurrent one)."""
    if journal.reverses_id is not None:
        raise LedgerError({"reverses": ["A reversal cannot be reversed."]})
    if Journal.objects.filter(reverses=journal).exists():
        raise LedgerError({"reverses": ["This journal has already been reversed."]})
    postings = list(journal.postings.select_related("account"))
    lines = [
        Line(p.account, Side.CREDIT if p.side == Side.DEBIT else Side.DEBIT, p.amount_pence)
        for p in postings
    ]
    draft = Draft(
        fund=journal.fund,
        kind=JournalKind.REVERSAL,
        effective_date=effective_date,
        lines=lines,
        reference=f"reversal of {journal.pk}",
        memo=memo or f"Reverses journal {journal.pk}",
        reverses=journal,
        commitment=journal.commitment,
    )
    return post_drafts([draft], by=by, agency=agency)[0]


# --- balances ------------------------------------------------------------------------------


def balance(account: Account, *, up_to: Period | None = None) -> int:
    """The account's balance in pence (debits minus credits), from its maintained totals."""
    totals = AccountPeriodTotal.objects.filter(account=account)
    if up_to is not None:
        totals = totals.filter(period__starts_on__lte=up_to.starts_on)
    sums = totals.aggregate(d=Sum("debit_pence"), c=Sum("credit_pence"))
    return (sums["d"] or 0) - (sums["c"] or 0)


def balance_from_postings(account: Account) -> int:
    """The same balance summed from every posting: the plain path the totals must equal."""
    sums = Posting.objects.filter(account=account).aggregate(
        d=Sum("amount_pence", filter=Q(side=Side.DEBIT)),
        c=Sum("amount_pence", filter=Q(side=Side.CREDIT)),
    )
    return (sums["d"] or 0) - (sums["c"] or 0)


DRIFT_SQL = """
WITH p AS (
    SELECT account_id, period_id,
           sum(amount_pence) FILTER (WHERE side = 'D') AS d,
           sum(amount_pence) FILTER (WHERE side = 'C') AS c
    FROM budgets_posting po {where_p}
    GROUP BY account_id, period_id
)
SELECT coalesce(t.account_id, p.account_id), coalesce(t.period_id, p.period_id),
       coalesce(t.debit_pence, 0), coalesce(t.credit_pence, 0),
       coalesce(p.d, 0), coalesce(p.c, 0)
FROM (SELECT * FROM budgets_accountperiodtotal t {where_t}) t
FULL JOIN p ON p.account_id = t.account_id AND p.period_id = t.period_id
WHERE coalesce(t.debit_pence, 0) <> coalesce(p.d, 0)
   OR coalesce(t.credit_pence, 0) <> coalesce(p.c, 0)
"""


def drift(fund: PooledFund | None = None) -> list[tuple[int, int, int, int, int, int]]:
    """Every (account, period) whose maintained total differs from its postings: (account,
    period, total debits, total credits, posted debits, posted credits). Empty means none."""
    params: list[Any] = []
    where_p = where_t = ""
    if fund is not None:
        where_p = "WHERE po.account_id IN (SELECT id FROM budgets_account WHERE fund_id = %s)"
        where_t = "WHERE t.account_id IN (SELECT id FROM budgets_account WHERE fund_id = %s)"
        params = [fund.pk, fund.pk]
    with connection.cursor() as cursor:
        cursor.execute(DRIFT_SQL.format(where_p=where_p, where_t=where_t), params)
        return [tuple(row) for row in cursor.fetchall()]


def trial_balance_total(fund: PooledFund) -> int:
    """Debits minus credits over every account of the fund: zero, always."""
    sums = AccountPeriodTotal.objects.filter(account__fund=fund).aggregate(
        d=Sum("debit_pence"), c=Sum("credit_pence")
    )
    return (sums["d"] or 0) - (sums["c"] or 0)
