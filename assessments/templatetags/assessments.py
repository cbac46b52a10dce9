from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def may_assess(request: Any) -> bool:
    """The menu entry is for professionals who lead or write assessments."""
    from assessments.services import PROFESSIONAL_ROLES

    return bool(set(getattr(request, "roles", ())) & PROFESSIONAL_ROLES)


@register.filter
def answer_label(value: Any, question: Any) -> str:
    """A stored answer as the person reading it would say it (a choice's label)."""
    if value in (None, ""):
        return "Not answered"
    for choice in getattr(question, "choices", None) or []:
        if choice[0] == value:
            return str(choice[1])
    return str(value)


@register.filter
def pounds(pence: int | None) -> str:
    if pence is None:
        return ""
    return f"£{pence // 100:,}.{pence % 100:02d}"


@register.filter
def required_at(domain: Any, depth: str) -> bool:
    return bool(domain.required_for(depth))
