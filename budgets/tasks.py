"""Celery tasks of the budgets app: thin, taking ids, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from budgets import services


@shared_task(ignore_result=True)
def run_close(run_id: int) -> str:
    """Month-end close of one period (see ``services.run_close_steps``)."""
    return str(services.run_close_steps(run_id).status)
