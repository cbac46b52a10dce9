"""Every write in the referrals app: the catalogue, intake, routing rules, queues, the triage
state machine, response clocks and episodes. Each is atomic, audited, and announces itself
through the outbox in the same transaction.

Hospital discharge lives in ``referrals.discharge``.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from caretrust.audit import services as audit
from caretrust.directory.models import Agency, Membership, Role, Team
from caretrust.directory.selectors import roles_at
from caretrust.people import services as people
from caretrust.people.models import CaseFile, DataClass, Person
from caretrust.people.validators import today_in_london
from caretrust.sharing import services as sharing
from caretrust.sharing.models import Evidence, Grantor, Purpose
from referrals import clocks, events, routing
from referrals.models import (
    PUBLIC_SOURCES,
    TRANSITIONS,
    Action,
    DeclineReason,
    Need,
    Notification,
    Outcome,
    Referral,
    RoutingRule,
    RuleSet,
    RuleSetStatus,
    Service,
    Setting,
    Source,
    Status,
    Transition,
    Urgency,
)

# Who may triage, claim and work referrals: the professionals of the receiving agency.
TRIAGE_ROLES = frozenset(
    {
        Role.CARE_MANAGER,
        Role.SOCIAL_WORKER,
        Role.NURSE,
        Role.DISTRICT_NURSE,
        Role.OCCUPATIONAL_THERAPIST,
        Role.PHYSIOTHERAPIST,
        Role.GP,
        Role.TEAM_MANAGER,
        Role.TRANSFER_HUB_COORDINATOR,
        Role.PARTNER_SYSTEM,
    }
)
# Who may refer: the same professionals (a partner system refers for its agency's staff).
REFERRING_ROLES = TRIAGE_ROLES
ADMIN_ROLES = frozenset({Role.AGENCY_ADMINISTRATOR})
MIN_REASON = 3


class IllegalTransition(Exception):
    """The referral's state does not allow this step (409 in the API)."""

    def __init__(self, referral: Referral, to_status: str) -> None:
        self.referral = referral
        self.to_status = to_status
        allowed = sorted(TRANSITIONS[referral.status])
        then = f"From here it can be {', '.join(allowed)}." if allowed else "It is closed."
        super().__init__(
            f"This referral is {Status(referral.status).label.lower()}, so it cannot be "
            f"{Status(to_status).label.lower()}. {then}"
        )


class AlreadyClaimed(Exception):
    """Someone else claimed the referral first (409)."""

    def __init__(self, claimed_by: Any) -> None:
        self.claimed_by = claimed_by
        name = claimed_by.get_full_name() or claimed_by.get_username()
        super().__init__(f"{name} has already claimed this referral.")


class NoLawfulBasis(ValidationError):
    """Sending a referral to another agency without a lawful basis to share it."""

    def __init__(self, recipient: Agency) -> None:
        super().__init__(
            {
                "consent": f"Sending this referral to {recipient} needs a lawful basis to share "
                "the person's referral: record the person's consent (or another basis) first."
            },
            code="no_lawful_basis",
        )


def require_role(user: Any, agency: Agency, roles: Iterable[str], doing: str) -> set[str]:
    held = roles_at(user, agency)
    if not held & set(roles):
        raise PermissionDenied(f"Your role at {agency} does not allow you to {doing}.")
    return held


# --- The service catalogue --------------------------------------------------------------------

SERVICE_FIELDS = (
    "name",
    "slug",
    "kind",
    "description",
    "min_age",
    "max_age",
    "settings",
    "medically_stable_required",
    "postcode_districts",
    "response_hours",
    "response_working_days",
    "max_episode_days",
    "bed_capacity",
    "admission_criteria",
    "discharge_criteria",
    "active",
)


def _clean_service(service: Service) -> None:
    errors: dict[str, str] = {}
    if (service.response_hours is None) == (service.response_working_days is None):
        errors["response_hours"] = "Give a response target in hours or in working days (one)."
    if (
        service.min_age is not None
        and service.max_age is not None
        and service.min_age > service.max_age
    ):
        errors["max_age"] = "The oldest age must not be below the youngest."
    if service.bed_capacity is not None and service.kind != "step_up_down_beds":
        errors["bed_capacity"] = "Only step-up and step-down bed services have beds."
    unknown = [s for s in service.settings if s not in Setting.values]
    if unknown:
        errors["settings"] = f"Unknown settings: {', '.join(unknown)}."
    service.postcode_districts = [
        d.strip().upper() for d in service.postcode_districts if d.strip()
    ]
    if errors:
        raise ValidationError(errors)
    service.full_clean(exclude=["team", "gp_practices"], validate_constraints=False)


def create_service(
    *,
    agency: Agency,
    by: Any,
    team: Team,
    gp_practices: Sequence[Agency] = (),
    **fields: Any,
) -> Service:
    """Add a service to the catalogue: by an administrator of the agency whose team runs it."""
    require_role(by, agency, ADMIN_ROLES, "change the service catalogue")
    if team.agency_id != agency.pk:
        raise ValidationError({"team": f"{team.name} is not a team of {agency}."})
    unknown = set(fields) - set(SERVICE_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown service fields: {', '.join(sorted(unknown))}.")
    service = Service(team=team, **fields)
    _clean_service(service)
    if Service.objects.filter(slug=service.slug).exists():
        raise ValidationError({"slug": "Another service has this short name already."})
    with transaction.atomic():
        service.save(force_insert=True)
        service.gp_practices.set(gp_practices)
        audit.record(Action.SERVICE_CREATED, actor=by, agency=agency, obj=service)
    return service


def update_service(
    *,
    service: Service,
    expected_version: int,
    changes: dict[str, Any],
    agency: Agency,
    by: Any,
    gp_practices: Sequence[Agency] | None = None,
) -> Service:
    """Change a service, only if nobody has since the caller read it (``UPDATE ... WHERE
    version = n``); by an administrator of the agency that runs it."""
    require_role(by, agency, ADMIN_ROLES, "change the service catalogue")
    if service.team.agency_id != agency.pk:
        raise PermissionDenied("Only the agency that runs a service can change it.")
    unknown = set(changes) - (set(SERVICE_FIELDS) - {"slug"})
    if unknown:
        raise ValidationError(f"These cannot be changed here: {', '.join(sorted(unknown))}.")
    candidate = Service.objects.get(pk=service.pk)
    for name, value in changes.items():
        setattr(candidate, name, value)
    _clean_service(candidate)
    changes = {name: getattr(candidate, name) for name in changes}
    with transaction.atomic():
        updated = Service.objects.filter(pk=service.pk, version=expected_version).update(
            **changes, version=expected_version + 1
        )
        if updated != 1:
            raise StaleVersion()
        if gp_practices is not None:
            candidate.gp_practices.set(gp_practices)
        audit.record(
            Action.SERVICE_UPDATED,
            actor=by,
            agency=agency,
            obj=service,
            detail={"fields": sorted(changes), "version": expected_version + 1},
        )
    return Service.objects.get(pk=service.pk)


class StaleVersion(Exception):
    """The record changed since the caller read it; nothing was written."""


def eligibility_problems(
    service: Service,
    *,
    age: int | None,
    setting: str,
    medically_stable: bool,
    gp_practice_id: int | None,
    postcode: str,
) -> list[str]:
    """Why a person does not meet a service's eligibility (empty: they do), in words."""
    problems = []
    if service.min_age is not None and (age is None or age < service.min_age):
        problems.append(f"{service.name} is for people aged {service.min_age} or over.")
    if service.max_age is not None and (age is None or age > service.max_age):
        problems.append(f"{service.name} is for people aged {service.max_age} or under.")
    if service.settings and setting not in service.settings:
        where = ", ".join(Setting(s).label.lower() for s in service.settings)
        problems.append(f"{service.name} takes people who are {where}.")
    if service.medically_stable_required and not medically_stable:
        problems.append(f"{service.name} needs the person to be medically stable.")
    practices = {p.pk for p in service.gp_practices.all()}
    districts = set(service.postcode_districts)
    if practices or districts:
        in_area = (gp_practice_id in practices) or (
            routing.postcode_district(postcode) in districts
        )
        if not in_area:
            problems.append(f"{service.name} does not cover where the person lives.")
    return problems


# --- Intake -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsentAtReferral:
    """The person's consent, given when referred, to share the referral with the receiving
    agency (FHIR Consent: grantor, evidence)."""

    grantor: str = Grantor.PERSON
    grantor_name: str = "The person"
    evidence: str = Evidence.VERBAL


def _reference() -> str:
    alphabet = "23456789BCDFGHJKLMNPQRSTVWXZ"
    return "R-" + "".join(secrets.choice(alphabet) for _ in range(6))


def _duty_lead(team: Team) -> Any:
    """Who holds a case file a referral opens, until someone takes the referral on: the
    team's manager, else its longest-serving member, else the agency's."""
    current = Membership.objects.current().select_related("user").order_by("started_at", "id")
    for found in (
        current.filter(team=team, role=Role.TEAM_MANAGER).first(),
        current.filter(team=team).first(),
        current.filter(agency_id=team.agency_id).exclude(role=Role.PARTNER_SYSTEM).first(),
    ):
        if found is not None:
            return found.user
    raise ValidationError(f"{team.agency} has no staff to receive referrals yet.")


def _validate_referral_fields(
    *, source: str, urgency: str, setting: str, needs: Sequence[str], reason: str
) -> list[str]:
    errors: dict[str, str] = {}
    if source not in Source.values:
        errors["source"] = f"Choose a source from: {', '.join(Source.values)}."
    if urgency not in Urgency.values:
        errors["urgency"] = f"Choose an urgency from: {', '.join(Urgency.values)}."
    if setting not in Setting.values:
        errors["setting"] = f"Choose where the person is from: {', '.join(Setting.values)}."
    clean_needs = list(dict.fromkeys(needs))
    unknown = [n for n in clean_needs if n not in Need.values]
    if unknown:
        errors["needs"] = (
            f"Unknown needs: {', '.join(unknown)}; choose from {', '.join(Need.values)}."
        )
    if len(reason.strip()) < MIN_REASON:
        errors["reason"] = "Say why the person is being referred."
    if errors:
        raise ValidationError(errors)
    return clean_needs


def published_rules() -> tuple[RuleSet | None, list[routing.Rule]]:
    ruleset = (
        RuleSet.objects.filter(status=RuleSetStatus.PUBLISHED)
        .select_related("fallback_service")
        .first()
    )
    if ruleset is None:
        return None, []
    return ruleset, _compiled_rules(ruleset.pk)


# A published rule set is never changed (a change is a new version), so its compiled rules
# can be kept for the process's life, keyed by its id: routing one referral then costs one
# query (which set is published) instead of loading 200 rules. Measured in bench/referrals.py.
_COMPILED: dict[int, list[routing.Rule]] = {}


def _compiled_rules(ruleset_id: int) -> list[routing.Rule]:
    rules = _COMPILED.get(ruleset_id)
    if rules is None:
        rows = RoutingRule.objects.filter(ruleset_id=ruleset_id).select_related("service")
        rules = [routing.Rule.of(r) for r in rows.order_by("position")]
        if RuleSet.objects.filter(pk=ruleset_id, status=RuleSetStatus.PUBLISHED).exists():
            _COMPILED[ruleset_id] = rules
    return rules


def route_referral(facts: routing.Facts) -> tuple[Service, routing.Decision]:
    """Route by the published rule set: first match wins, else its fallback queue."""
    ruleset, rules = published_rules()
    if ruleset is None:
        raise ValidationError(
            {"service": "No routing rules are published yet: choose the service to refer to."}
        )
    decision = routing.route(
        rules,
        facts,
        fallback_id=ruleset.fallback_service_id,
        fallback_name=ruleset.fallback_service.name,
    )
    service = Service.objects.select_related("team__agency").get(pk=decision.service_id)
    return service, decision


def _facts(
    *,
    source: str,
    urgency: str,
    setting: str,
    needs: Sequence[str],
    dob: dt.date | None,
    postcode: str,
) -> routing.Facts:
    return routing.Facts(
        source=source,
        urgency=urgency,
        age=routing.age_on(dob, today_in_london()),
        setting=setting,
        postcode_district=routing.postcode_district(postcode),
        needs=frozenset(needs),
    )


def _due(service: Service, received_at: dt.datetime) -> dt.datetime:
    return clocks.due_at(
        received_at, hours=service.response_hours, working_days=service.response_working_days
    )


def make_referral(
    *,
    agency: Agency,
    by: Any,
    source: str,
    reason: str,
    urgency: str,
    needs: Sequence[str] = (),
    setting: str = Setting.HOME,
    medically_stable: bool = True,
    person: Person | None = None,
    new_person: dict[str, Any] | None = None,
    service: Service | None = None,
    consent: ConsentAtReferral | None = None,
    referrer_name: str = "",
    referrer_phone: str = "",
    referrer_email: str = "",
    referrer_relationship: str = "",
    handed_over_from: Referral | None = None,
    assessment_id: uuid.UUID | None = None,
    received_at: dt.datetime | None = None,
) -> Referral:
    """Refer a person (found by the caller through the visibility rule, or registered here in
    the same step) to a service, or let the routing rules choose it.

    Sending it to another agency needs a lawful basis for the data class "referrals" (UK GDPR
    art. 6 and 9, the common law duty of confidence): the referring agency's file must be
    shareable with the receiving agency for referrals, by a basis in force or by the consent
    the person gives now. The referral, the receiving agency's case file and the consent are
    written in one transaction, or nothing is.
    """
    require_role(by, agency, REFERRING_ROLES, "make referrals")
    needs = _validate_referral_fields(
        source=source, urgency=urgency, setting=setting, needs=needs, reason=reason
    )
    if (person is None) == (new_person is None):
        raise ValidationError({"person": "Choose the person, or register them, to refer."})
    if service is not None and not service.active:
        raise ValidationError({"service": f"{service.name} is not taking referrals."})
    received = received_at or timezone.now()
    with transaction.atomic():
        if new_person is not None:
            # Taken on, not registered: an NHS number another agency holds must not answer
            # "already registered" (an existence oracle); the referrer gets its own file on
            # the person either way (caretrust.people.services.take_on_person).
            person = people.take_on_person(agency=agency, by=by, **new_person).person
        assert person is not None
        referrer_file = CaseFile.objects.filter(person=person, agency=agency).first()
        if referrer_file is None:
            referrer_file = people.open_case_file(
                person=person, agency=agency, lead_worker=by, by=by
            )
        decision: routing.Decision | None = None
        facts = _facts(
            source=source,
            urgency=urgency,
            setting=setting,
            needs=needs,
            dob=person.date_of_birth,
            postcode=person.postcode,
        )
        if service is None:
            service, decision = route_referral(facts)
        receiving = service.team.agency
        if receiving.pk != agency.pk:
            if consent is not None:
                sharing.record_consent(
                    person=person,
                    holding_agency=agency,
                    recipient_agency=receiving,
                    data_classes=[DataClass.REFERRALS],
                    purpose=Purpose.DIRECT_CARE,
                    grantor=consent.grantor,
                    grantor_name=consent.grantor_name,
                    evidence=consent.evidence,
                    by=by,
                )
            lawful = (
                CaseFile.objects.visible_to(receiving, DataClass.REFERRALS)
                .filter(pk=referrer_file.pk)
                .exists()
            )
            if not lawful:
                raise NoLawfulBasis(receiving)
            receiving_file = CaseFile.objects.filter(person=person, agency=receiving).first()
            if receiving_file is None:
                receiving_file = people.open_case_file(
                    person=person,
                    agency=receiving,
                    lead_worker=_duty_lead(service.team),
                    team=service.team,
                    by=by,
                )
        else:
            receiving_file = referrer_file
        referral = Referral(
            reference=_reference(),
            agency=receiving,
            service=service,
            case_file=receiving_file,
            source=source,
            referring_agency=agency,
            referrer_case_file=referrer_file,
            referrer_user=by,
            referrer_name=referrer_name or (by.get_full_name() or by.get_username()),
            referrer_phone=referrer_phone,
            referrer_email=referrer_email or getattr(by, "email", ""),
            referrer_relationship=referrer_relationship,
            reason=reason.strip(),
            needs=needs,
            urgency=urgency,
            setting=setting,
            medically_stable=medically_stable,
            age_at_referral=facts.age,
            postcode_district=facts.postcode_district,
            requested_service=service if decision is None else None,
            routed_by_rule_id=decision.rule.id if decision and decision.rule else None,
            routing_explanation=decision.explanation if decision else "",
            received_at=received,
            due_at=_due(service, received),
            handed_over_from=handed_over_from,
            assessment_id=assessment_id,
        )
        referral.full_clean(validate_unique=False, validate_constraints=False)
        referral.save(force_insert=True)
        _history(referral, "", Status.RECEIVED, by, "referred")
        audit.record(
            Action.REFERRAL_CREATED,
            actor=by,
            agency=agency,
            obj=referral,
            person_id=person.pk,
            detail={
                "service": str(service.pk),
                "receiving_agency": receiving.slug,
                "routed_by_rule": referral.routed_by_rule_id,
                "consent_recorded": consent is not None and receiving.pk != agency.pk,
            },
        )
        events.announce(
            events.RECEIVED,
            referral,
            unverified=False,
            routed_by_rule=referral.routed_by_rule_id,
            redirected_from=None,
        )
    return referral


PUBLIC_PERSON_FIELDS = (
    "given_name",
    "family_name",
    "date_of_birth",
    "address_line_1",
    "town",
    "postcode",
    "nhs_number",
)


def submit_public_referral(
    *,
    source: str,
    person: dict[str, Any],
    reason: str,
    needs: Sequence[str],
    urgency: str,
    referrer_name: str,
    referrer_phone: str = "",
    referrer_email: str = "",
    referrer_relationship: str = "",
) -> Referral:
    """A self or family referral from the public form (nobody signed in). It is routed by the
    published rules like any other, and waits ``unverified``, with no case file, until the
    receiving agency matches it to a person: the form learns nothing about whether the person
    is known, and no record of anyone is touched."""
    if source not in PUBLIC_SOURCES:
        raise ValidationError({"source": "Say whether this is about you or someone you care for."})
    if not referrer_name.strip():
        raise ValidationError({"referrer_name": "Tell us your name."})
    if not (referrer_phone.strip() or referrer_email.strip()):
        raise ValidationError(
            {"referrer_phone": "Give a telephone number or an email address so we can reach you."}
        )
    needs = _validate_referral_fields(
        source=source, urgency=urgency, setting=Setting.HOME, needs=needs, reason=reason
    )
    facts = _facts(
        source=source,
        urgency=urgency,
        setting=Setting.HOME,
        needs=needs,
        dob=person.get("date_of_birth"),
        postcode=str(person.get("postcode", "")),
    )
    with transaction.atomic():
        service, decision = route_referral(facts)
        received = timezone.now()
        referral = Referral(
            reference=_reference(),
            agency=service.team.agency,
            service=service,
            case_file=None,
            unverified=True,
            submitted_person={
                k: (v.isoformat() if isinstance(v, dt.date) else str(v))
                for k, v in person.items()
                if k in PUBLIC_PERSON_FIELDS and v
            },
            source=source,
            referrer_name=referrer_name.strip(),
            referrer_phone=referrer_phone.strip(),
            referrer_email=referrer_email.strip(),
            referrer_relationship=referrer_relationship.strip(),
            reason=reason.strip(),
            needs=needs,
            urgency=urgency,
            setting=Setting.HOME,
            age_at_referral=facts.age,
            postcode_district=facts.postcode_district,
            routed_by_rule_id=decision.rule.id if decision.rule else None,
            routing_explanation=decision.explanation,
            received_at=received,
            due_at=_due(service, received),
        )
        referral.full_clean(validate_unique=False, validate_constraints=False)
        referral.save(force_insert=True)
        _history(referral, "", Status.RECEIVED, None, "public form")
        audit.record(
            Action.REFERRAL_SUBMITTED_PUBLIC,
            agency=referral.agency,
            obj=referral,
            detail={"service": str(service.pk), "source": source},
        )
        events.announce(
            events.RECEIVED,
            referral,
            unverified=True,
            routed_by_rule=referral.routed_by_rule_id,
            redirected_from=None,
        )
    return referral


def verify_referral(
    *,
    referral: Referral,
    agency: Agency,
    by: Any,
    nhs_number: str,
    new_person: dict[str, Any] | None = None,
) -> Referral:
    """Match a public self-referral to a person. If the NHS number is registered, its date of
    birth must match what was submitted, and the agency opens its own file on that person (it
    sees nothing of anyone else's); if not, the person is registered from ``new_person``."""
    require_role(by, agency, TRIAGE_ROLES, "work referrals")
    if referral.agency_id != agency.pk:
        raise PermissionDenied("Only the receiving agency can verify this referral.")
    with transaction.atomic():
        locked = Referral.objects.select_for_update().get(pk=referral.pk)
        if not locked.unverified:
            raise ValidationError("This referral has been verified already.")
        if locked.status != Status.RECEIVED:
            raise IllegalTransition(locked, Status.ACCEPTED)
        existing = Person.objects.filter(nhs_number=nhs_number).first()
        if existing is not None:
            submitted = locked.submitted_person.get("date_of_birth", "")
            if submitted and submitted != existing.date_of_birth.isoformat():
                # Positive identification before a self-referral joins anyone's record: a
                # wrong-patient match is the worse harm, so the mismatch is refused. The refusal
                # tells the triage worker the number is registered, so it is audited as a
                # denial (it outlives the rollback) for the Caldicott guardian to see probing.
                audit.record_denial(
                    actor=by,
                    agency=agency,
                    what="person",
                    reason="birth_date_mismatch",
                    object_id=existing.pk,
                    person_id=existing.pk,
                    referral=str(locked.pk),
                )
                raise ValidationError(
                    {"nhs_number": "The date of birth given does not match this NHS number."}
                )
            case_file = CaseFile.objects.filter(person=existing, agency=agency).first()
            if case_file is None:
                case_file = people.open_case_file(
                    person=existing,
                    agency=agency,
                    lead_worker=_duty_lead(locked.service.team),
                    team=locked.service.team,
                    by=by,
                )
        else:
            if new_person is None:
                raise ValidationError(
                    {"nhs_number": "This NHS number is not registered: give the person's details."}
                )
            registered = people.register_person(
                agency=agency, by=by, team=locked.service.team, nhs_number=nhs_number, **new_person
            )
            case_file = CaseFile.objects.get(person=registered, agency=agency)
        locked.case_file = case_file
        locked.unverified = False
        locked.version += 1
        locked.save(update_fields=["case_file", "unverified", "version"])
        audit.record(
            Action.REFERRAL_VERIFIED,
            actor=by,
            agency=agency,
            obj=locked,
            person_id=case_file.person_id,
        )
        events.announce(events.VERIFIED, locked)
    return locked


# --- Queues: claim, assign, release -----------------------------------------------------------


def _require_receiving(referral: Referral, agency: Agency, by: Any, doing: str) -> set[str]:
    if referral.agency_id != agency.pk:
        raise PermissionDenied(f"Only the receiving agency can {doing} this referral.")
    return require_role(by, agency, TRIAGE_ROLES, doing)


def claim_referral(*, referral: Referral, agency: Agency, by: Any) -> Referral:
    """Claim an open referral for oneself. The claim is one conditional UPDATE (``WHERE
    claimed_by IS NULL``): of two workers claiming at once exactly one wins, and the other is
    told who did."""
    _require_receiving(referral, agency, by, "claim")
    with transaction.atomic():
        now = timezone.now()
        won = Referral.objects.filter(
            pk=referral.pk, claimed_by__isnull=True, status__in=[Status.RECEIVED, Status.ACCEPTED]
        ).update(claimed_by=by, claimed_at=now, version=F("version") + 1)
        current = Referral.objects.select_related("claimed_by").get(pk=referral.pk)
        if not won:
            if current.status not in (Status.RECEIVED, Status.ACCEPTED):
                raise ValidationError("This referral is closed: there is nothing to claim.")
            if current.claimed_by_id == by.pk:
                return current
            raise AlreadyClaimed(current.claimed_by)
        audit.record(
            Action.REFERRAL_CLAIMED,
            actor=by,
            agency=agency,
            obj=current,
            person_id=_person_id(current),
        )
    return current


def assign_referral(*, referral: Referral, agency: Agency, by: Any, to: Any) -> Referral:
    """Give an open referral to a worker of the receiving agency (a team manager, or its
    claimer handing it on). Locks the row, so an assignment and a claim cannot both win."""
    held = _require_receiving(referral, agency, by, "assign")
    if not roles_at(to, agency) & TRIAGE_ROLES:
        raise ValidationError({"to": f"{to} does not work referrals at {agency}."})
    with transaction.atomic():
        locked = Referral.objects.select_for_update().get(pk=referral.pk)
        if not locked.is_open:
            raise ValidationError("This referral is closed: it cannot be assigned.")
        if locked.claimed_by_id not in (None, by.pk) and Role.TEAM_MANAGER not in held:
            raise AlreadyClaimed(locked.claimed_by)
        locked.claimed_by = to
        locked.claimed_at = timezone.now()
        locked.version += 1
        locked.save(update_fields=["claimed_by", "claimed_at", "version"])
        audit.record(
            Action.REFERRAL_ASSIGNED,
            actor=by,
            agency=agency,
            obj=locked,
            person_id=_person_id(locked),
            detail={"to": to.pk},
        )
    return locked


def release_referral(*, referral: Referral, agency: Agency, by: Any) -> Referral:
    """Put a claimed referral back in the team's queue: its claimer, or a team manager."""
    held = _require_receiving(referral, agency, by, "release")
    with transaction.atomic():
        locked = Referral.objects.select_for_update().get(pk=referral.pk)
        if locked.claimed_by_id is None:
            raise ValidationError("Nobody has claimed this referral.")
        if locked.claimed_by_id != by.pk and Role.TEAM_MANAGER not in held:
            raise PermissionDenied(
                "Only the worker who claimed it, or a team manager, can release it."
            )
        locked.claimed_by = None
        locked.claimed_at = None
        locked.version += 1
        locked.save(update_fields=["claimed_by", "claimed_at", "version"])
        audit.record(
            Action.REFERRAL_RELEASED,
            actor=by,
            agency=agency,
            obj=locked,
            person_id=_person_id(locked),
        )
    return locked


# --- The triage state machine -----------------------------------------------------------------


def _person_id(referral: Referral) -> Any:
    case_file = referral.case_file if referral.case_file_id else None
    return case_file.person_id if case_file is not None else None


def _history(referral: Referral, old: str, new: str, by: Any, reason: str) -> None:
    Transition.objects.create(
        referral=referral,
        from_status=old,
        to_status=new,
        by=by if getattr(by, "is_authenticated", False) else None,
        reason=reason[:2000],
    )


def _move(
    referral: Referral,
    to_status: str,
    *,
    agency: Agency,
    by: Any,
    reason: str = "",
    claim: bool = True,
    **changes: Any,
) -> Referral:
    """Lock the referral, check the state machine allows the step (IllegalTransition
    otherwise) and that nobody else has claimed it, then move it, with its history and audit
    row. The caller is inside ``transaction.atomic``."""
    locked = (
        Referral.objects.select_for_update(of=("self",))
        .select_related("case_file", "claimed_by", "service__team__agency")
        .get(pk=referral.pk)
    )
    if to_status not in TRANSITIONS[locked.status]:
        raise IllegalTransition(locked, to_status)
    if claim:
        if locked.claimed_by_id not in (None, by.pk):
            raise AlreadyClaimed(locked.claimed_by)
        if locked.claimed_by_id is None:
            locked.claimed_by = by
            locked.claimed_at = timezone.now()
    old = locked.status
    locked.status = to_status
    for name, value in changes.items():
        setattr(locked, name, value)
    locked.version += 1
    locked.save()
    _history(locked, old, to_status, by, reason)
    audit.record(
        Action.REFERRAL_TRANSITION,
        actor=by,
        agency=agency,
        obj=locked,
        person_id=_person_id(locked),
        detail={"from": old, "to": to_status, **({"reason": reason[:300]} if reason else {})},
    )
    return locked


def accept_referral(
    *, referral: Referral, agency: Agency, by: Any, first_contact_at: dt.datetime | None = None
) -> Referral:
    """Accept: the service will work with the person. Stops the response clock."""
    _require_receiving(referral, agency, by, "accept")
    if referral.unverified:
        raise ValidationError("Match this self-referral to a person before accepting it.")
    now = timezone.now()
    if first_contact_at is not None and first_contact_at > now:
        raise ValidationError({"first_contact_at": "First contact cannot be in the future."})
    with transaction.atomic():
        locked = _move(
            referral,
            Status.ACCEPTED,
            agency=agency,
            by=by,
            responded_at=now,
            first_contact_at=first_contact_at or now,
        )
        events.announce(events.ACCEPTED, locked, claimed_by=locked.claimed_by_id)
    return locked


def decline_referral(
    *, referral: Referral, agency: Agency, by: Any, reason_code: str, reason: str = ""
) -> Referral:
    """Decline, with a reason from the vocabulary (and words, for "other"); the referrer sees
    it."""
    _require_receiving(referral, agency, by, "decline")
    if reason_code not in DeclineReason.values:
        raise ValidationError(
            {"reason_code": f"Choose a reason from: {', '.join(DeclineReason.values)}."}
        )
    if reason_code == DeclineReason.OTHER and len(reason.strip()) < MIN_REASON:
        raise ValidationError({"reason": "Say why the referral is declined."})
    with transaction.atomic():
        locked = _move(
            referral,
            Status.DECLINED,
            agency=agency,
            by=by,
            reason=reason.strip() or DeclineReason(reason_code).label,
            decline_reason=reason_code,
            status_reason=reason.strip(),
            responded_at=timezone.now(),
        )
        events.announce(events.DECLINED, locked, decline_reason=reason_code)
    return locked


def redirect_referral(
    *, referral: Referral, agency: Agency, by: Any, to_service: Service, reason: str
) -> Referral:
    """Send the referral on to a better-placed service, with a reason: a new referral to that
    service (its own clock, from now), this one closed as redirected. To another agency it
    needs the same lawful basis as any referral."""
    _require_receiving(referral, agency, by, "redirect")
    if len(reason.strip()) < MIN_REASON:
        raise ValidationError({"reason": "Say why the referral is redirected."})
    if to_service.pk == referral.service_id:
        raise ValidationError({"to_service": "Choose a different service."})
    if not to_service.active:
        raise ValidationError({"to_service": f"{to_service.name} is not taking referrals."})
    with transaction.atomic():
        source = Referral.objects.select_related("case_file__person").get(pk=referral.pk)
        if source.status != Status.RECEIVED:
            raise IllegalTransition(source, Status.REDIRECTED)
        receiving = to_service.team.agency
        received = timezone.now()
        new_file = source.case_file
        if source.case_file is not None and receiving.pk != source.agency_id:
            lawful = (
                CaseFile.objects.visible_to(receiving, DataClass.REFERRALS)
                .filter(pk=source.case_file.pk)
                .exists()
            )
            if not lawful:
                raise NoLawfulBasis(receiving)
            new_file = CaseFile.objects.filter(
                person_id=source.case_file.person_id, agency=receiving
            ).first() or people.open_case_file(
                person=source.case_file.person,
                agency=receiving,
                lead_worker=_duty_lead(to_service.team),
                team=to_service.team,
                by=by,
            )
        elif source.case_file is None and receiving.pk != source.agency_id:
            raise ValidationError(
                "Match this self-referral to a person before sending it to another agency."
            )
        onward = Referral(
            reference=_reference(),
            agency=receiving,
            service=to_service,
            case_file=new_file,
            unverified=source.unverified,
            submitted_person=source.submitted_person,
            source=source.source,
            referring_agency=source.referring_agency
            if receiving.pk == source.agency_id
            else agency,
            referrer_case_file=source.referrer_case_file
            if receiving.pk == source.agency_id
            else source.case_file,
            referrer_user=source.referrer_user,
            referrer_name=source.referrer_name,
            referrer_phone=source.referrer_phone,
            referrer_email=source.referrer_email,
            referrer_relationship=source.referrer_relationship,
            reason=source.reason,
            needs=source.needs,
            urgency=source.urgency,
            setting=source.setting,
            medically_stable=source.medically_stable,
            age_at_referral=source.age_at_referral,
            postcode_district=source.postcode_district,
            requested_service=to_service,
            routing_explanation=f"redirected from {source.service.name}: {reason.strip()}",
            received_at=received,
            due_at=_due(to_service, received),
        )
        onward.save(force_insert=True)
        _history(onward, "", Status.RECEIVED, by, f"redirected from {source.reference}")
        locked = _move(
            referral,
            Status.REDIRECTED,
            agency=agency,
            by=by,
            reason=reason.strip(),
            status_reason=reason.strip(),
            redirected_to=onward,
            responded_at=received,
        )
        events.announce(
            events.REDIRECTED,
            locked,
            redirected_to=str(onward.pk),
            to_service_id=str(to_service.pk),
        )
        events.announce(
            events.RECEIVED,
            onward,
            unverified=onward.unverified,
            routed_by_rule=None,
            redirected_from=str(locked.pk),
        )
    return locked


def withdraw_referral(*, referral: Referral, agency: Agency, by: Any, reason: str) -> Referral:
    """The referrer withdraws a referral it made, before it is accepted."""
    if referral.referring_agency_id != agency.pk:
        raise PermissionDenied("Only the agency that made a referral can withdraw it.")
    require_role(by, agency, REFERRING_ROLES, "withdraw referrals")
    if len(reason.strip()) < MIN_REASON:
        raise ValidationError({"reason": "Say why the referral is withdrawn."})
    with transaction.atomic():
        locked = _move(
            referral,
            Status.WITHDRAWN,
            agency=agency,
            by=by,
            reason=reason.strip(),
            claim=False,
            status_reason=reason.strip(),
        )
        events.announce(events.WITHDRAWN, locked)
    return locked


def start_episode(
    *,
    referral: Referral,
    agency: Agency,
    by: Any,
    started_on: dt.date | None = None,
    lead_professional: Any = None,
) -> Referral:
    """Start the episode of an accepted referral. Its end-by date is the service's maximum
    episode length from the start (rapid response: days; CART: up to 6 weeks), and the lead
    professional (for a CART, chosen by the most-needed therapy) must work for the service's
    agency."""
    _require_receiving(referral, agency, by, "start an episode on")
    start = started_on or today_in_london()
    if start > today_in_london():
        raise ValidationError({"started_on": "An episode cannot start in the future."})
    lead = lead_professional or by
    if not roles_at(lead, agency) & TRIAGE_ROLES:
        raise ValidationError({"lead_professional": f"{lead} does not work at {agency}."})
    max_days = referral.service.max_episode_days
    with transaction.atomic():
        locked = _move(
            referral,
            Status.EPISODE_ACTIVE,
            agency=agency,
            by=by,
            episode_started_on=start,
            episode_ends_by=start + dt.timedelta(days=max_days) if max_days else None,
            lead_professional=lead,
        )
        events.announce(
            events.EPISODE_STARTED,
            locked,
            episode_started_on=start.isoformat(),
            episode_ends_by=locked.episode_ends_by.isoformat() if locked.episode_ends_by else None,
        )
    return locked


def end_episode(
    *,
    referral: Referral,
    agency: Agency,
    by: Any,
    outcome: str,
    ended_on: dt.date | None = None,
    handover_to: Service | None = None,
    assessment_id: uuid.UUID | None = None,
    note: str = "",
) -> Referral:
    """End the episode with its outcome. A short-term episode may hand the person over to a
    mainstream service: a new referral carrying the signed assessment's id, so the receiver
    can adopt it instead of assessing again (announced as ``referral.handed_over``)."""
    _require_receiving(referral, agency, by, "end an episode on")
    if outcome not in Outcome.values:
        raise ValidationError({"outcome": f"Choose an outcome from: {', '.join(Outcome.values)}."})
    end = ended_on or today_in_london()
    if end > today_in_london():
        raise ValidationError({"ended_on": "An episode cannot end in the future."})
    if referral.episode_started_on and end < referral.episode_started_on:
        raise ValidationError({"ended_on": "An episode cannot end before it started."})
    if handover_to is not None and not referral.service.is_short_term:
        raise ValidationError(
            {"handover_to": "Only a short-term service's episode hands over to another service."}
        )
    with transaction.atomic():
        locked = _move(
            referral,
            Status.EPISODE_ENDED,
            agency=agency,
            by=by,
            reason=note,
            claim=False,
            outcome=outcome,
            episode_ended_on=end,
        )
        events.announce(
            events.EPISODE_ENDED, locked, outcome=outcome, episode_ended_on=end.isoformat()
        )
        if handover_to is not None:
            assert locked.case_file is not None
            onward = make_referral(
                agency=agency,
                by=by,
                source=Source.OTHER_AGENCY,
                reason=f"Handover at the end of {locked.service.name} ({locked.reference}). {note}",
                urgency=Urgency.ROUTINE,
                needs=locked.needs,
                setting=Setting.HOME,
                person=locked.case_file.person,
                service=handover_to,
                handed_over_from=locked,
                assessment_id=assessment_id,
            )
            assert onward.case_file is not None
            from caretrust.events.services import emit

            emit(
                events.HANDED_OVER,
                aggregate_type="referral",
                aggregate_id=onward.pk,
                payload={
                    "referral_id": str(onward.pk),
                    "from_referral_id": str(locked.pk),
                    "assessment_id": str(assessment_id) if assessment_id else None,
                    "person_id": str(onward.case_file.person_id),
                    "receiving_agency_id": onward.agency_id,
                    "receiving_service_id": str(onward.service_id),
                },
            )
    return locked


# --- Response clocks: breaches and escalation -------------------------------------------------


def _team_managers(service: Service) -> list[Any]:
    current = Membership.objects.current().filter(role=Role.TEAM_MANAGER).select_related("user")
    managers = [m.user for m in current.filter(team=service.team_id)]
    if not managers:
        managers = [m.user for m in current.filter(agency=service.team.agency_id)]
    return managers


def sweep_breaches(*, now: dt.datetime | None = None, limit: int = 10_000) -> int:
    """Find referrals past their response target with no answer, and escalate each exactly
    once to its team's manager: an in-app notification and an email, and the referral marked
    breached. Each is marked by a conditional UPDATE (``WHERE breached_at IS NULL``), so of
    two sweeps running at once only one escalates a given referral; the email goes after
    commit, so a sweep rolled back sends nothing."""
    moment = now or timezone.now()
    due = list(
        Referral.objects.filter(
            status=Status.RECEIVED, breached_at__isnull=True, due_at__lte=moment
        )
        .order_by("due_at")
        .values_list("pk", flat=True)[:limit]
    )
    escalated = 0
    for pk in due:
        with transaction.atomic():
            marked = Referral.objects.filter(
                pk=pk, status=Status.RECEIVED, breached_at__isnull=True
            ).update(breached_at=moment)
            if not marked:
                continue
            referral = Referral.objects.select_related("service__team__agency", "case_file").get(
                pk=pk
            )
            managers = _team_managers(referral.service)
            lead = managers[0] if managers else None
            if lead is not None:
                Referral.objects.filter(pk=pk).update(escalated_to=lead)
                referral.escalated_to = lead
            text = (
                f"Referral {referral.reference} to {referral.service.name} has passed its "
                f"response target ({referral.service.response_target_display}) unanswered."
            )
            for manager in managers:
                Notification.objects.create(user=manager, referral=referral, text=text)
            audit.record(
                Action.REFERRAL_BREACHED,
                agency=referral.agency,
                obj=referral,
                person_id=_person_id(referral),
                detail={
                    "due_at": referral.due_at.isoformat(),
                    "escalated_to": [m.pk for m in managers],
                },
            )
            events.announce(events.BREACHED, referral, escalated_to=lead.pk if lead else None)
            emails = [m.email for m in managers if m.email]
            if emails:
                link = settings.SITE_URL + reverse("referrals:detail", args=[referral.pk])
                transaction.on_commit(partial(_send_breach_mail, text + "\n\n" + link, emails))
            escalated += 1
    return escalated


def _send_breach_mail(body: str, to: list[str]) -> None:
    send_mail("Referral response target missed", body, None, to)


def mark_notifications_read(*, user: Any, ids: Sequence[int] | None = None) -> int:
    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=ids)
    return unread.update(read_at=timezone.now())


# --- Routing rule sets ------------------------------------------------------------------------

RULE_FIELDS = (
    "name",
    "sources",
    "urgencies",
    "min_age",
    "max_age",
    "settings",
    "postcode_districts",
    "needs_any",
    "service",
)


def _clean_rule(data: dict[str, Any], position: int) -> dict[str, Any]:
    unknown = set(data) - set(RULE_FIELDS)
    if unknown:
        raise ValidationError(f"Rule {position}: unknown fields {', '.join(sorted(unknown))}.")
    out = {
        "name": str(data.get("name", "")).strip() or f"Rule {position}",
        "sources": list(data.get("sources") or []),
        "urgencies": list(data.get("urgencies") or []),
        "min_age": data.get("min_age"),
        "max_age": data.get("max_age"),
        "settings": list(data.get("settings") or []),
        "postcode_districts": [
            d.strip().upper() for d in data.get("postcode_districts") or [] if d.strip()
        ],
        "needs_any": list(data.get("needs_any") or []),
        "service": data.get("service"),
    }
    for name, choices in (
        ("sources", Source),
        ("urgencies", Urgency),
        ("settings", Setting),
        ("needs_any", Need),
    ):
        values: list[str] = out[name]  # type: ignore[assignment]
        bad = [v for v in values if v not in choices.values]
        if bad:
            raise ValidationError({name: f"Rule {position}: unknown {name} {', '.join(bad)}."})
    if not isinstance(out["service"], Service):
        raise ValidationError({"service": f"Rule {position}: choose the service it routes to."})
    # The model's own field checks (lengths, the small-integer range of the ages), so nothing
    # the columns cannot hold reaches the database.
    try:
        RoutingRule(**out).full_clean(
            exclude=["ruleset", "position"], validate_unique=False, validate_constraints=False
        )
    except ValidationError as exc:
        raise ValidationError(
            {f: f"Rule {position}: {' '.join(ms)}" for f, ms in exc.message_dict.items()}
        ) from None
    return out


def draft_ruleset(
    *,
    agency: Agency,
    by: Any,
    fallback_service: Service,
    rules: Sequence[dict[str, Any]],
    note: str = "",
) -> RuleSet:
    """Write a new draft version of the routing rules (the published one is never edited)."""
    require_role(by, agency, ADMIN_ROLES, "edit routing rules")
    cleaned = [_clean_rule(dict(r), i + 1) for i, r in enumerate(rules)]
    with transaction.atomic():
        last = RuleSet.objects.select_for_update().order_by("-version").first()
        ruleset = RuleSet.objects.create(
            version=(last.version + 1) if last else 1,
            fallback_service=fallback_service,
            note=note[:300],
            created_by=by,
        )
        RoutingRule.objects.bulk_create(
            [RoutingRule(ruleset=ruleset, position=i + 1, **r) for i, r in enumerate(cleaned)]
        )
        audit.record(
            Action.RULESET_DRAFTED,
            actor=by,
            agency=agency,
            obj=ruleset,
            detail={"version": ruleset.version, "rules": len(cleaned)},
        )
    return ruleset


def rules_of(ruleset: RuleSet) -> list[routing.Rule]:
    return [
        routing.Rule.of(r) for r in ruleset.rules.select_related("service").order_by("position")
    ]


def publish_ruleset(
    *, ruleset: RuleSet, agency: Agency, by: Any, accept_warnings: bool = False
) -> RuleSet:
    """Publish a draft: it routes every referral from now on and the old one retires. A rule
    that can never match, or that an earlier rule shadows completely, is refused unless the
    administrator has seen the warnings and accepts them."""
    require_role(by, agency, ADMIN_ROLES, "publish routing rules")
    warnings = routing.lint(rules_of(ruleset))
    if warnings and not accept_warnings:
        raise ValidationError({"rules": [w.message for w in warnings]}, code="rule_warnings")
    with transaction.atomic():
        locked = RuleSet.objects.select_for_update().get(pk=ruleset.pk)
        if locked.status != RuleSetStatus.DRAFT:
            raise ValidationError("Only a draft can be published.")
        RuleSet.objects.filter(status=RuleSetStatus.PUBLISHED).update(status=RuleSetStatus.RETIRED)
        locked.status = RuleSetStatus.PUBLISHED
        locked.published_by = by
        locked.published_at = timezone.now()
        locked.save(update_fields=["status", "published_by", "published_at"])
        audit.record(
            Action.RULESET_PUBLISHED,
            actor=by,
            agency=agency,
            obj=locked,
            detail={"version": locked.version, "warnings": [w.message for w in warnings]},
        )
    return locked


@dataclass(frozen=True)
class DryRun:
    total: int
    changed: int
    by_service: dict[str, tuple[int, int]]  # service name -> (as routed, with the draft)
    moves: dict[tuple[str, str], int]  # (from service, to service) -> referrals


def facts_of(referral: Referral) -> routing.Facts:
    return routing.Facts(
        source=referral.source,
        urgency=referral.urgency,
        age=referral.age_at_referral,
        setting=referral.setting,
        postcode_district=referral.postcode_district,
        needs=frozenset(referral.needs),
    )


def dry_run_ruleset(*, ruleset: RuleSet, agency: Agency, by: Any, days: int = 90) -> DryRun:
    """Route the last ``days`` days of referrals through a draft, from the routing facts
    stored with each (source, urgency, age, setting, postcode district, needs: nobody's name
    or record), and count where they would go instead. Only counts come back; the run is
    audited and nothing else is written."""
    require_role(by, agency, ADMIN_ROLES, "test routing rules")
    rules = rules_of(ruleset)
    fallback = ruleset.fallback_service
    since = timezone.now() - dt.timedelta(days=days)
    rows = (
        Referral.objects.filter(received_at__gte=since, redirected_from__isnull=True)
        .only(
            "source",
            "urgency",
            "age_at_referral",
            "setting",
            "postcode_district",
            "needs",
            "service_id",
        )
        .order_by("received_at")
    )
    names = dict(Service.objects.values_list("pk", "name"))
    by_service: dict[str, list[int]] = {}
    moves: dict[tuple[str, str], int] = {}
    changed = total = 0
    for r in rows.iterator(chunk_size=2000):
        total += 1
        decision = routing.route(
            rules, facts_of(r), fallback_id=fallback.pk, fallback_name=fallback.name
        )
        now_name = names.get(r.service_id, "?")
        new_name = names.get(decision.service_id, "?")
        by_service.setdefault(now_name, [0, 0])[0] += 1
        by_service.setdefault(new_name, [0, 0])[1] += 1
        if decision.service_id != r.service_id:
            changed += 1
            moves[(now_name, new_name)] = moves.get((now_name, new_name), 0) + 1
    audit.record(
        Action.RULESET_DRY_RUN,
        actor=by,
        agency=agency,
        obj=ruleset,
        detail={"version": ruleset.version, "referrals": total, "changed": changed, "days": days},
    )
    return DryRun(total, changed, {k: (v[0], v[1]) for k, v in sorted(by_service.items())}, moves)
