"""Property: whatever sequence of claims, releases and triage steps two workers try on one
referral, the service agrees with a small reference model: a step the model allows succeeds
and lands where the model says; any other is refused (IllegalTransition or AlreadyClaimed)
and changes nothing. Every step that succeeds leaves exactly one history row.

Each example runs inside a savepoint rolled back afterwards.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from referrals import services
from referrals.models import Referral, Status, Transition
from tests.referrals.conftest import staff
from tests.referrals.factories import ServiceFactory
from tests.referrals.helpers import internal_referral

# The reference model: the states each step may start from, and where it goes.
STEPS = {
    "accept": ({"received"}, "accepted"),
    "decline": ({"received"}, "declined"),
    "redirect": ({"received"}, "redirected"),
    "withdraw": ({"received"}, "withdrawn"),
    "start": ({"accepted"}, "episode_active"),
    "end": ({"episode_active"}, "episode_ended"),
}
# Steps a worker takes as the claimer (the referrer's withdrawal and ending an episode are not).
CLAIMING = {"accept", "decline", "redirect", "start"}

worker = st.integers(0, 1)


class ReferralWorld(RuleBasedStateMachine):
    world: dict[str, Any]

    def __init__(self) -> None:
        super().__init__()
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        w = self.world
        self.agency, self.workers = w["agency"], w["workers"]
        self.other_service = w["other"]
        self.referral = internal_referral(self.agency, self.workers[0], w["service"])
        self.status = "received"
        self.claimer: int | None = None
        self.history = 1

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)

    def _try(self, step: str, who: int) -> None:
        user = self.workers[who]
        allowed_from, to = STEPS[step]
        claim_ok = step not in CLAIMING or self.claimer in (None, who)
        kwargs: dict[str, Any] = {"referral": self.referral, "agency": self.agency, "by": user}
        call = {
            "accept": lambda: services.accept_referral(**kwargs),
            "decline": lambda: services.decline_referral(**kwargs, reason_code="no_capacity"),
            "redirect": lambda: services.redirect_referral(
                **kwargs, to_service=self.other_service, reason="better placed"
            ),
            "withdraw": lambda: services.withdraw_referral(**kwargs, reason="no longer needed"),
            "start": lambda: services.start_episode(**kwargs),
            "end": lambda: services.end_episode(**kwargs, outcome="home_independent"),
        }[step]
        expect_ok = self.status in allowed_from and claim_ok
        try:
            with transaction.atomic():
                call()
        except services.IllegalTransition:
            assert self.status not in allowed_from, (step, self.status)
        except services.AlreadyClaimed:
            assert self.status in allowed_from and not claim_ok, (step, self.claimer, who)
        else:
            assert expect_ok, (step, self.status, self.claimer, who)
            self.status = to
            self.history += 1
            if step in CLAIMING and self.claimer is None:
                self.claimer = who

    @rule(step=st.sampled_from(sorted(STEPS)), who=worker)
    def step(self, step: str, who: int) -> None:
        self._try(step, who)

    @rule(who=worker)
    def claim(self, who: int) -> None:
        try:
            with transaction.atomic():
                services.claim_referral(
                    referral=self.referral, agency=self.agency, by=self.workers[who]
                )
        except services.AlreadyClaimed:
            assert self.claimer not in (None, who)
        except Exception:
            assert self.status not in ("received", "accepted")
        else:
            assert self.claimer in (None, who) and self.status in ("received", "accepted")
            self.claimer = who

    @rule(who=worker)
    def release(self, who: int) -> None:
        try:
            with transaction.atomic():
                services.release_referral(
                    referral=self.referral, agency=self.agency, by=self.workers[who]
                )
        except Exception:
            assert self.claimer != who
        else:
            assert self.claimer == who
            self.claimer = None

    @invariant()
    def the_service_agrees_with_the_model(self) -> None:
        row = Referral.objects.get(pk=self.referral.pk)
        assert row.status == self.status
        expected_claimer = None if self.claimer is None else self.workers[self.claimer].pk
        assert row.claimed_by_id == expected_claimer
        assert Transition.objects.filter(referral=row).count() == self.history
        if row.status == Status.REDIRECTED:
            assert row.redirected_to is not None and row.redirected_to.status == "received"


def test_triage_always_matches_the_reference_model(db: Any, community: Any, rapid: Any) -> None:
    workers = [
        staff("w0", community, "nurse", rapid.team),
        staff("w1", community, "nurse", rapid.team),
    ]
    other = ServiceFactory(team=rapid.team, name="Reablement", slug="reable", kind="reablement")
    ReferralWorld.world = {
        "agency": community,
        "workers": workers,
        "service": rapid,
        "other": other,
    }
    run_state_machine_as_test(
        ReferralWorld,
        settings=settings(
            max_examples=40,
            stateful_step_count=12,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
