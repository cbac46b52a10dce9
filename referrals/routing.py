"""Routing rules, as plain functions over the facts of a referral.

Rules are tried in order; the first whose every condition holds routes the referral, and
what matched nothing goes to the rule set's fallback service. The decision carries its own
explanation ("rule 3 matched: ...; rules 1-2 did not match because ..."), stored on the
referral and shown to the triager. ``lint`` finds rules that can never match, or that an
earlier rule shadows completely (every referral they would match, it matches first).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from referrals.models import Need, Setting, Source, Urgency


@dataclass(frozen=True)
class Facts:
    """What routing may look at; nothing else of the person."""

    source: str
    urgency: str
    age: int | None
    setting: str
    postcode_district: str
    needs: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Rule:
    """A rule as routing sees it: a snapshot of a ``RoutingRule`` row."""

    id: int | None
    position: int
    name: str
    service_id: Any
    service_name: str
    sources: frozenset[str] = frozenset()
    urgencies: frozenset[str] = frozenset()
    min_age: int | None = None
    max_age: int | None = None
    settings: frozenset[str] = frozenset()
    postcode_districts: frozenset[str] = frozenset()
    needs_any: frozenset[str] = frozenset()

    @classmethod
    def of(cls, row: Any) -> Rule:
        return cls(
            id=row.pk,
            position=row.position,
            name=row.name,
            service_id=row.service_id,
            service_name=row.service.name,
            sources=frozenset(row.sources),
            urgencies=frozenset(row.urgencies),
            min_age=row.min_age,
            max_age=row.max_age,
            settings=frozenset(row.settings),
            postcode_districts=frozenset(d.upper() for d in row.postcode_districts),
            needs_any=frozenset(row.needs_any),
        )

    def describe(self) -> str:
        """The conditions in words: "A&E + fall + 65 or over"."""
        parts: list[str] = []
        if self.sources:
            parts.append(" or ".join(Source(s).label for s in sorted(self.sources)))
        if self.urgencies:
            parts.append(" or ".join(Urgency(u).label.lower() for u in sorted(self.urgencies)))
        if self.needs_any:
            parts.append(" or ".join(Need(n).label.lower() for n in sorted(self.needs_any)))
        if self.min_age is not None and self.max_age is not None:
            parts.append(f"aged {self.min_age} to {self.max_age}")
        elif self.min_age is not None:
            parts.append(f"{self.min_age} or over")
        elif self.max_age is not None:
            parts.append(f"{self.max_age} or under")
        if self.settings:
            parts.append(" or ".join(Setting(s).label.lower() for s in sorted(self.settings)))
        if self.postcode_districts:
            parts.append("in " + " or ".join(sorted(self.postcode_districts)))
        return " + ".join(parts) if parts else "anyone"

    def failure(self, facts: Facts) -> str | None:
        """Why the rule does not match ``facts`` (None: it matches)."""
        if self.sources and facts.source not in self.sources:
            return f"the source is {Source(facts.source).label}, not {_any(self.sources, Source)}"
        if self.urgencies and facts.urgency not in self.urgencies:
            return f"the urgency is {facts.urgency}, not {' or '.join(sorted(self.urgencies))}"
        if self.needs_any and not (facts.needs & self.needs_any):
            return f"none of the needs is {_any(self.needs_any, Need).lower()}"
        if self.min_age is not None or self.max_age is not None:
            if facts.age is None:
                return "the person's age is not known"
            if self.min_age is not None and facts.age < self.min_age:
                return f"the person is {facts.age}, under {self.min_age}"
            if self.max_age is not None and facts.age > self.max_age:
                return f"the person is {facts.age}, over {self.max_age}"
        if self.settings and facts.setting not in self.settings:
            where = Setting(facts.setting).label.lower()
            return f"the person is {where}, not {_any(self.settings, Setting).lower()}"
        if (
            self.postcode_districts
            and facts.postcode_district.upper() not in self.postcode_districts
        ):
            district = facts.postcode_district or "an unknown district"
            return (
                f"the postcode is in {district}, not {' or '.join(sorted(self.postcode_districts))}"
            )
        return None


def _any(values: frozenset[str], choices: Any) -> str:
    return " or ".join(choices(v).label for v in sorted(values))


@dataclass(frozen=True)
class Decision:
    service_id: Any
    rule: Rule | None
    explanation: str


def route(rules: Sequence[Rule], facts: Facts, *, fallback_id: Any, fallback_name: str) -> Decision:
    """First match wins; the explanation names the rule that matched and why each earlier one
    did not."""
    misses: list[str] = []
    for rule in rules:
        why_not = rule.failure(facts)
        if why_not is None:
            head = f"rule {rule.position} matched: {rule.describe()} -> {rule.service_name}"
            return Decision(rule.service_id, rule, _explain(head, misses))
        misses.append(f"rule {rule.position} ({rule.name}): {why_not}")
    head = f"no rule matched: sent to the fallback queue, {fallback_name}"
    return Decision(fallback_id, None, _explain(head, misses))


def _explain(head: str, misses: list[str]) -> str:
    if not misses:
        return head
    return f"{head}; did not match because: " + "; ".join(misses)


def age_on(date_of_birth: dt.date | None, day: dt.date) -> int | None:
    if date_of_birth is None:
        return None
    before_birthday = (day.month, day.day) < (date_of_birth.month, date_of_birth.day)
    return day.year - date_of_birth.year - before_birthday


def postcode_district(postcode: str) -> str:
    """The outward code of a UK postcode ("HX1 2AB" -> "HX1")."""
    compact = postcode.replace(" ", "").upper()
    return compact[:-3] if len(compact) > 3 else compact


# --- Warnings before publishing ---------------------------------------------------------------


@dataclass(frozen=True)
class Warning:
    position: int
    message: str


def never_matches(rule: Rule) -> str | None:
    if rule.min_age is not None and rule.max_age is not None and rule.min_age > rule.max_age:
        return f"it can never match: no one is {rule.min_age} or over and {rule.max_age} or under"
    return None


def covers(earlier: Rule, later: Rule) -> bool:
    """Whether every referral ``later`` matches, ``earlier`` matches too."""

    def wider(a: frozenset[str], b: frozenset[str]) -> bool:
        return not a or (bool(b) and b <= a)

    lo_ok = earlier.min_age is None or (
        later.min_age is not None and later.min_age >= earlier.min_age
    )
    hi_ok = earlier.max_age is None or (
        later.max_age is not None and later.max_age <= earlier.max_age
    )
    return (
        wider(earlier.sources, later.sources)
        and wider(earlier.urgencies, later.urgencies)
        and wider(earlier.settings, later.settings)
        and wider(earlier.postcode_districts, later.postcode_districts)
        and wider(earlier.needs_any, later.needs_any)
        and lo_ok
        and hi_ok
    )


def lint(rules: Sequence[Rule]) -> list[Warning]:
    """Rules that can never match, and rules shadowed completely by an earlier one."""
    warnings: list[Warning] = []
    for i, rule in enumerate(rules):
        problem = never_matches(rule)
        if problem:
            warnings.append(
                Warning(rule.position, f"Rule {rule.position} ({rule.name}): {problem}.")
            )
            continue
        for earlier in rules[:i]:
            if never_matches(earlier) is None and covers(earlier, rule):
                warnings.append(
                    Warning(
                        rule.position,
                        f"Rule {rule.position} ({rule.name}) can never be reached: rule "
                        f"{earlier.position} ({earlier.name}) matches everything it matches.",
                    )
                )
                break
    return warnings
