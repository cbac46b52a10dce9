"""Demo data for the assessments app (filled in later)."""

from __future__ import annotations


def seed() -> dict[str, int]:
    return {}
