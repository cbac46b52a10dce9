"""Pooled budgets: section 75 funds on a double-entry ledger, commitments from care packages,
and reconciliation for finance staff."""
