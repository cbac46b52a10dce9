"""Sign-ins, sign-outs and failed sign-ins go on the audit trail."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from caretrust.audit import services as audit
from caretrust.audit.models import Action


@receiver(user_logged_in)
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    audit.record(Action.LOGIN, actor=user)


@receiver(user_logged_out)
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        audit.record(Action.LOGOUT, actor=user)


@receiver(user_login_failed)
def _login_failed(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    # The attempted name is kept for investigation; it is never shown back to anyone.
    audit.record(
        Action.LOGIN_FAILED, detail={"username": str(credentials.get("username", ""))[:150]}
    )
