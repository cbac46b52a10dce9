"""Pence shown as pounds: ``{{ 123456|pounds }}`` is "£1,234.56", a negative "-£1,234.56"."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def pounds(pence: int | None) -> str:
    if pence is None:
        return "-"
    sign = "-" if pence < 0 else ""
    whole, part = divmod(abs(int(pence)), 100)
    return f"{sign}£{whole:,}.{part:02d}"
