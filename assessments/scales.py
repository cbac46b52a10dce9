"""Validated scales, scored on the server from their items.

- Barthel index of activities of daily living, the 0-20 version (Collin, Wade et al. 1988):
  ten items, each with its own allowed scores.
- Abbreviated Mental Test Score (Hodkinson 1972): ten questions, one point each, total 0-10;
  a total below the area's cut-off (commonly 8) suggests cognitive impairment.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError

from caretrust.people.validators import whole_number


@dataclass(frozen=True)
class Item:
    key: str
    label: str
    scores: tuple[int, ...]  # the allowed scores
    meaning: tuple[str, ...] = ()


BARTHEL: tuple[Item, ...] = (
    Item("bowels", "Bowels", (0, 1, 2), ("Incontinent", "Occasional accident", "Continent")),
    Item("bladder", "Bladder", (0, 1, 2), ("Incontinent", "Occasional accident", "Continent")),
    Item("grooming", "Grooming", (0, 1), ("Needs help", "Independent")),
    Item("toilet", "Toilet use", (0, 1, 2), ("Dependent", "Needs some help", "Independent")),
    Item("feeding", "Feeding", (0, 1, 2), ("Unable", "Needs help", "Independent")),
    Item(
        "transfer",
        "Transfer (bed to chair and back)",
        (0, 1, 2, 3),
        ("Unable", "Major help", "Minor help", "Independent"),
    ),
    Item(
        "mobility",
        "Mobility",
        (0, 1, 2, 3),
        ("Immobile", "Wheelchair independent", "Walks with help", "Independent"),
    ),
    Item("dressing", "Dressing", (0, 1, 2), ("Dependent", "Needs help", "Independent")),
    Item("stairs", "Stairs", (0, 1, 2), ("Unable", "Needs help", "Independent")),
    Item("bathing", "Bathing", (0, 1), ("Dependent", "Independent")),
)

AMTS: tuple[Item, ...] = tuple(
    Item(key, label, (0, 1), ("Incorrect", "Correct"))
    for key, label in (
        ("age", "Age"),
        ("time", "Time, to the nearest hour"),
        ("address_recall", "Address given for recall at the end of the test"),
        ("year", "Year"),
        ("place", "Name of this place"),
        ("recognise_two", "Recognises two people"),
        ("date_of_birth", "Date of birth"),
        ("war_year", "Year the First World War began"),
        ("monarch", "Name of the present monarch"),
        ("count_backwards", "Counts backwards from 20 to 1"),
    )
)

TABLES: dict[str, tuple[Item, ...]] = {"barthel": BARTHEL, "amts": AMTS}
MAXIMUM = {"barthel": 20, "amts": 10}


def score(scale: str, items: Mapping[str, Any]) -> tuple[dict[str, int], int]:
    """Check every item against the scale's table and return (items, total). Each missing,
    unknown or disallowed item is named in the ValidationError, with what is allowed."""
    table = TABLES.get(scale)
    if table is None:
        raise ValidationError({"scale": f"Choose a scale from: {', '.join(TABLES)}."})
    errors: dict[str, str] = {}
    clean: dict[str, int] = {}
    known = {item.key for item in table}
    for key in items:
        if key not in known:
            errors[str(key)[:60]] = (
                f"The {scale} scale has no item {str(key)[:60]!r}; its items are: "
                f"{', '.join(sorted(known))}."
            )
    for item in table:
        raw = items.get(item.key)
        allowed = ", ".join(str(s) for s in item.scores)
        if raw is None or raw == "":
            errors[item.key] = f"{item.label}: give a score ({allowed})."
            continue
        value: int | None
        if isinstance(raw, bool):
            value = None
        elif isinstance(raw, int):
            value = raw
        elif isinstance(raw, str):
            value = whole_number(raw)
        else:
            value = None
        if value is None or value not in item.scores:
            errors[item.key] = f"{item.label}: {raw!r} is not an allowed score; give {allowed}."
            continue
        clean[item.key] = value
    if errors:
        raise ValidationError(errors)
    return clean, sum(clean.values())
