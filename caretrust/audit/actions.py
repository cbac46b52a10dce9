"""What each audit action is called on screen, for every app's actions.

The trail's ``action`` column is plain text, not a field with choices: each app names its own
actions in a ``TextChoices`` of its own and registers it here (in its ``AppConfig.ready``), so
a new app's actions need no migration of the audit table and no edit of this package.
"""

from __future__ import annotations

from django.db import models

_LABELS: dict[str, str] = {}


def register_actions(actions: type[models.TextChoices]) -> None:
    """Make ``actions``' labels known to reports. A value registered twice must keep its label:
    two apps may not give one action two meanings."""
    for value, label in actions.choices:
        known = _LABELS.setdefault(value, str(label))
        if known != str(label):
            raise ValueError(f"audit action {value!r} is already registered as {known!r}")


def action_label(action: str) -> str:
    """The registered label, or the action itself for one no app registers any more."""
    return _LABELS.get(action, action)
