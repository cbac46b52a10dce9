"""Routing rules: first match wins, the decision explains itself, a fallback catches the
rest, and rules that can never match or are shadowed are warned of before publishing."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from referrals import routing, services
from referrals.models import RuleSetStatus


def rule(position: int, name: str, service: str = "rapid", **conditions: Any) -> routing.Rule:
    frozen = {k: frozenset(v) if isinstance(v, list | set) else v for k, v in conditions.items()}
    return routing.Rule(
        id=position,
        position=position,
        name=name,
        service_id=service,
        service_name=service,
        **frozen,
    )


FACTS = routing.Facts(
    source="emergency_department",
    urgency="urgent",
    age=82,
    setting="emergency_department",
    postcode_district="HX1",
    needs=frozenset({"fall"}),
)


def test_the_first_matching_rule_wins_and_the_explanation_says_why_earlier_ones_did_not() -> None:
    rules = [
        rule(1, "GP referrals", "dn", sources=["gp"]),
        rule(2, "Under 18s", "children", max_age=17),
        rule(
            3,
            "A&E falls",
            "rapid",
            sources=["emergency_department"],
            needs_any=["fall"],
            min_age=65,
        ),
        rule(4, "Anyone", "front"),
    ]
    decision = routing.route(rules, FACTS, fallback_id="front", fallback_name="Front door")
    assert decision.service_id == "rapid"
    assert decision.explanation.startswith(
        "rule 3 matched: A&E + fall or risk of falls + 65 or over"
    )
    assert "rule 1 (GP referrals): the source is A&E, not GP" in decision.explanation
    assert "rule 2 (Under 18s): the person is 82, over 17" in decision.explanation


def test_what_matches_nothing_goes_to_the_fallback_queue() -> None:
    decision = routing.route(
        [rule(1, "GP", sources=["gp"])], FACTS, fallback_id="front", fallback_name="Front door"
    )
    assert decision.service_id == "front" and decision.rule is None
    assert "no rule matched: sent to the fallback queue, Front door" in decision.explanation


def test_a_rule_that_can_never_match_is_warned_of() -> None:
    warnings = routing.lint([rule(1, "Impossible", min_age=80, max_age=60)])
    assert len(warnings) == 1 and "can never match" in warnings[0].message


def test_a_rule_shadowed_completely_by_an_earlier_one_is_warned_of() -> None:
    warnings = routing.lint(
        [
            rule(1, "All falls", needs_any=["fall", "mobility"]),
            rule(
                2,
                "A&E falls over 65",
                sources=["emergency_department"],
                needs_any=["fall"],
                min_age=65,
            ),
            rule(3, "GP", sources=["gp"]),
        ]
    )
    assert [w.position for w in warnings] == [2]
    assert "rule 1 (All falls) matches everything it matches" in warnings[0].message


def test_a_narrower_earlier_rule_does_not_shadow_a_wider_later_one() -> None:
    assert (
        routing.lint([rule(1, "A&E falls", sources=["emergency_department"]), rule(2, "All")]) == []
    )


@pytest.mark.django_db
def test_publishing_refuses_warnings_unless_accepted_and_retires_the_old_set(
    community: Any, rapid: Any, front_door: Any, adam: Any, ruleset: Any
) -> None:
    draft = services.draft_ruleset(
        agency=community,
        by=adam,
        fallback_service=front_door,
        rules=[
            {"name": "Everyone", "service": rapid},
            {"name": "Falls", "needs_any": ["fall"], "service": front_door},
        ],
    )
    assert draft.version == ruleset.version + 1
    with pytest.raises(ValidationError) as caught:
        services.publish_ruleset(ruleset=draft, agency=community, by=adam)
    assert "can never be reached" in str(caught.value)
    services.publish_ruleset(ruleset=draft, agency=community, by=adam, accept_warnings=True)
    ruleset.refresh_from_db()
    draft.refresh_from_db()
    assert (ruleset.status, draft.status) == (RuleSetStatus.RETIRED, RuleSetStatus.PUBLISHED)


@pytest.mark.django_db
def test_a_dry_run_counts_where_the_last_90_days_would_go(
    community: Any, rapid: Any, front_door: Any, adam: Any, rita: Any, ruleset: Any
) -> None:
    from tests.referrals.helpers import internal_referral

    internal_referral(community, rita, rapid, needs=["fall"])
    internal_referral(community, rita, rapid, needs=["housing"])
    draft = services.draft_ruleset(
        agency=community,
        by=adam,
        fallback_service=front_door,
        rules=[{"name": "Falls", "needs_any": ["fall"], "service": rapid}],
    )
    result = services.dry_run_ruleset(ruleset=draft, agency=community, by=adam)
    assert (result.total, result.changed) == (2, 1)
    assert result.moves == {("Rapid response", "Adult social care front door"): 1}


@pytest.mark.django_db
def test_only_an_agency_administrator_edits_rules(
    community: Any, rita: Any, front_door: Any
) -> None:
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.draft_ruleset(agency=community, by=rita, fallback_service=front_door, rules=[])
