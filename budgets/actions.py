"""The budgets app's audit actions."""

from __future__ import annotations

from django.db import models


class BudgetAction(models.TextChoices):
    FUND_CREATED = "budgets.fund_created", "Set up a pooled fund"
    FUND_CHANGED = "budgets.fund_changed", "Changed a pooled fund"
    FUND_VIEWED = "budgets.fund_viewed", "Viewed a pooled fund's figures"
    POSTINGS_VIEWED = "budgets.postings_viewed", "Viewed a fund's postings"
    REPORT_VIEWED = "budgets.report_viewed", "Viewed a reconciliation report"
    EXPORTED = "budgets.exported", "Exported a fund's figures"
    JOURNAL_POSTED = "budgets.journal_posted", "Posted journals to a pooled fund"
    CLIENT_CHARGED = "budgets.client_charged", "Charged a person for care"
    CHARGES_VIEWED = "budgets.charges_viewed", "Viewed a person's charges"
    CLOSE_STARTED = "budgets.close_started", "Started a month-end close"
    PERIOD_CLOSED = "budgets.period_closed", "Closed a period"
    SETTLEMENT_APPROVED = "budgets.settlement_approved", "Approved a year-end settlement"
    STATEMENT_IMPORTED = "budgets.statement_imported", "Imported a bank statement"
    EVENT_POSTED = "budgets.event_posted", "Posted a care package event by hand"
