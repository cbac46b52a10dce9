"""Factories for the referrals tests: services, and published rule sets written directly
(the services that draft and publish them are tested on their own)."""

from __future__ import annotations

from typing import Any

import factory
from django.utils import timezone

from referrals.models import RoutingRule, RuleSet, RuleSetStatus, Service
from tests.factories import TeamFactory


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"Service {n}")
    slug = factory.Sequence(lambda n: f"service-{n}")
    kind = "rapid_response"
    response_hours = 24
    response_working_days = None


def RuleSetFactory(*, fallback: Service, rules: list[dict[str, Any]]) -> RuleSet:
    RuleSet.objects.filter(status=RuleSetStatus.PUBLISHED).update(status=RuleSetStatus.RETIRED)
    last = RuleSet.objects.order_by("-version").first()
    ruleset = RuleSet.objects.create(
        version=(last.version + 1) if last else 1,
        fallback_service=fallback,
        status=RuleSetStatus.PUBLISHED,
        published_at=timezone.now(),
    )
    for i, rule in enumerate(rules, start=1):
        RoutingRule.objects.create(ruleset=ruleset, position=i, **rule)
    return ruleset
