"""The ledger's rules, held by PostgreSQL itself (see budgets/models.py for the list).

Every trigger raises with SQLSTATE 23514 (check_violation) or 55000 for a closed period, and a
message saying what was refused, so the application can tell a user."""

from django.db import migrations

GUARDS = r"""
-- Journals: the posting time is the database's; the period is this fund's, open (read under
-- a share lock: a close waits for this transaction, or this waits for the close and sees it),
-- and holds the effective date; a reversal reverses a journal of the same fund that is not
-- itself a reversal.
CREATE FUNCTION budgets_journal_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    p RECORD;
    target RECORD;
BEGIN
    NEW.posted_at := now();
    NEW.posted_in_xact := pg_current_xact_id()::text::bigint;
    SELECT fund_id, status, starts_on, ends_on INTO p
        FROM budgets_period WHERE id = NEW.period_id FOR SHARE;
    IF p.fund_id IS DISTINCT FROM NEW.fund_id THEN
        RAISE EXCEPTION 'journal period % belongs to another fund', NEW.period_id
            USING ERRCODE = '23514';
    END IF;
    IF p.status <> 'open' THEN
        RAISE EXCEPTION 'period % is closed: nothing more may be posted into it', NEW.period_id
            USING ERRCODE = '55000';
    END IF;
    IF NEW.effective_date < p.starts_on OR NEW.effective_date > p.ends_on THEN
        RAISE EXCEPTION 'effective date % lies outside period % (% to %)',
            NEW.effective_date, NEW.period_id, p.starts_on, p.ends_on USING ERRCODE = '23514';
    END IF;
    IF NEW.reverses_id IS NOT NULL THEN
        SELECT fund_id, reverses_id INTO target FROM budgets_journal WHERE id = NEW.reverses_id;
        IF target.fund_id IS DISTINCT FROM NEW.fund_id THEN
            RAISE EXCEPTION 'a reversal must be in the fund of the journal it reverses'
                USING ERRCODE = '23514';
        END IF;
        IF target.reverses_id IS NOT NULL THEN
            RAISE EXCEPTION 'journal % is itself a reversal and cannot be reversed', NEW.reverses_id
                USING ERRCODE = '23514';
        END IF;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER budgets_journal_check BEFORE INSERT ON budgets_journal
    FOR EACH ROW EXECUTE FUNCTION budgets_journal_check();

-- Postings: into a journal made in this very transaction, on an account of its fund, in its
-- period (which must still be open).
CREATE FUNCTION budgets_posting_check() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    j RECORD;
    account_fund bigint;
    period_status text;
BEGIN
    SELECT fund_id, period_id,
           posted_in_xact = pg_current_xact_id()::text::bigint AS mine INTO j
        FROM budgets_journal WHERE id = NEW.journal_id;
    IF NOT j.mine THEN
        RAISE EXCEPTION 'journal % is already posted: postings cannot be added to it',
            NEW.journal_id USING ERRCODE = '23514';
    END IF;
    SELECT fund_id INTO account_fund FROM budgets_account WHERE id = NEW.account_id;
    IF account_fund IS DISTINCT FROM j.fund_id THEN
        RAISE EXCEPTION 'account % belongs to another fund than journal %',
            NEW.account_id, NEW.journal_id USING ERRCODE = '23514';
    END IF;
    IF NEW.period_id IS DISTINCT FROM j.period_id THEN
        RAISE EXCEPTION 'a posting is in the period of its journal' USING ERRCODE = '23514';
    END IF;
    SELECT status INTO period_status FROM budgets_period WHERE id = NEW.period_id FOR SHARE;
    IF period_status <> 'open' THEN
        RAISE EXCEPTION 'period % is closed: nothing more may be posted into it', NEW.period_id
            USING ERRCODE = '55000';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER budgets_posting_check BEFORE INSERT ON budgets_posting
    FOR EACH ROW EXECUTE FUNCTION budgets_posting_check();

-- Append-only.
CREATE FUNCTION budgets_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% of a posted % is not allowed: post a reversal instead', TG_OP, TG_TABLE_NAME
        USING ERRCODE = '23514';
END $$;
CREATE TRIGGER budgets_journal_append_only BEFORE UPDATE OR DELETE ON budgets_journal
    FOR EACH ROW EXECUTE FUNCTION budgets_append_only();
CREATE TRIGGER budgets_posting_append_only BEFORE UPDATE OR DELETE ON budgets_posting
    FOR EACH ROW EXECUTE FUNCTION budgets_append_only();

-- Balanced at commit: checked once per journal, when every posting of it is in.
CREATE FUNCTION budgets_journal_balances() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    debits bigint;
    credits bigint;
    n integer;
BEGIN
    SELECT coalesce(sum(amount_pence) FILTER (WHERE side = 'D'), 0),
           coalesce(sum(amount_pence) FILTER (WHERE side = 'C'), 0), count(*)
        INTO debits, credits, n FROM budgets_posting WHERE journal_id = NEW.id;
    IF n < 2 OR debits <> credits THEN
        RAISE EXCEPTION 'journal % does not balance: debits % and credits % in % postings',
            NEW.id, debits, credits, n USING ERRCODE = '23514';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER budgets_journal_balances AFTER INSERT ON budgets_journal
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION budgets_journal_balances();

-- The maintained totals, one upsert per statement, rows taken in (account, period) order.
CREATE FUNCTION budgets_posting_totals() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO budgets_accountperiodtotal (account_id, period_id, debit_pence, credit_pence)
    SELECT account_id, period_id,
           coalesce(sum(amount_pence) FILTER (WHERE side = 'D'), 0),
           coalesce(sum(amount_pence) FILTER (WHERE side = 'C'), 0)
    FROM new_postings GROUP BY account_id, period_id ORDER BY account_id, period_id
    ON CONFLICT (account_id, period_id) DO UPDATE
        SET debit_pence = budgets_accountperiodtotal.debit_pence + EXCLUDED.debit_pence,
            credit_pence = budgets_accountperiodtotal.credit_pence + EXCLUDED.credit_pence;
    RETURN NULL;
END $$;
CREATE TRIGGER budgets_posting_totals AFTER INSERT ON budgets_posting
    REFERENCING NEW TABLE AS new_postings
    FOR EACH STATEMENT EXECUTE FUNCTION budgets_posting_totals();

-- Periods: a closed period never changes (nor reopens), nor is deleted; an open one may only
-- be closed.
CREATE FUNCTION budgets_period_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status = 'closed' THEN
            RAISE EXCEPTION 'period % is closed and cannot be deleted', OLD.id
                USING ERRCODE = '55000';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.status = 'closed' THEN
        RAISE EXCEPTION 'period % is closed and cannot change', OLD.id USING ERRCODE = '55000';
    END IF;
    IF (NEW.fund_id, NEW.year, NEW.month, NEW.starts_on, NEW.ends_on)
       IS DISTINCT FROM (OLD.fund_id, OLD.year, OLD.month, OLD.starts_on, OLD.ends_on) THEN
        RAISE EXCEPTION 'a period''s dates never change' USING ERRCODE = '23514';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER budgets_period_guard BEFORE UPDATE OR DELETE ON budgets_period
    FOR EACH ROW EXECUTE FUNCTION budgets_period_guard();
"""

DROP = """
DROP TRIGGER budgets_period_guard ON budgets_period;
DROP FUNCTION budgets_period_guard();
DROP TRIGGER budgets_posting_totals ON budgets_posting;
DROP FUNCTION budgets_posting_totals();
DROP TRIGGER budgets_journal_balances ON budgets_journal;
DROP FUNCTION budgets_journal_balances();
DROP TRIGGER budgets_posting_append_only ON budgets_posting;
DROP TRIGGER budgets_journal_append_only ON budgets_journal;
DROP FUNCTION budgets_append_only();
DROP TRIGGER budgets_posting_check ON budgets_posting;
DROP FUNCTION budgets_posting_check();
DROP TRIGGER budgets_journal_check ON budgets_journal;
DROP FUNCTION budgets_journal_check();
"""


class Migration(migrations.Migration):
    dependencies = [("budgets", "0001_ledger")]

    operations = [migrations.RunSQL(GUARDS, DROP)]
