"""Every write operation of the API (each POST, PUT or PATCH with a JSON body in its own OpenAPI
document) against hostile bodies: a valid body built on the seeded world with one field, or
the whole body, replaced by something hostile.

Whatever is sent, the answer is never a 5xx; a 4xx is a problem document; a value whose JSON
type is not the one the document gives the field is a 400 naming that field; and a refused
write changes nothing (the row counts and versions of every table of ours are as before).

Two passes per operation: a deterministic sweep (every property the document names, at the top
level and in the first item of a list of objects, times every wrong JSON type and the extreme
values of its own type) that catches every field with certainty, then hypothesis, which puts
hostile values or arbitrary JSON anywhere in the body, however deep. Each request is made in a
savepoint that is rolled back, so examples do not accumulate state.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from django.apps import apps
from django.core.cache import cache as django_cache
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from caretrust.audit.models import Action
from caretrust.people.validators import today_in_london
from tests.api.conftest import PERSON_BODY, assert_problem, consent_body
from tests.api.openapi import generated_document
from tests.api.world import World

DOCUMENT = generated_document()
SCHEMAS = DOCUMENT["components"]["schemas"]
WRITE_METHODS = ("post", "put", "patch")


def resolve(schema: dict[str, Any]) -> dict[str, Any]:
    """Follow ``$ref`` and a lone ``allOf`` (drf-spectacular's way of giving a default to an
    enum), keeping ``nullable`` from the outside."""
    outer = schema
    while True:
        if "$ref" in schema:
            schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[1]]
        elif len(schema.get("allOf", ())) == 1:
            schema = schema["allOf"][0]
        else:
            break
    if outer.get("nullable"):
        schema = {**schema, "nullable": True}
    return schema


def _write_operations() -> dict[str, dict[str, Any]]:
    ops = {}
    for path, item in DOCUMENT["paths"].items():
        for method, op in item.items():
            content = op.get("requestBody", {}).get("content", {})
            if method in WRITE_METHODS and "application/json" in content:
                ops[f"{method.upper()} {path}"] = resolve(content["application/json"]["schema"])
    return ops


WRITE_OPERATIONS = _write_operations()


# --- Hostile values ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Raw:
    """JSON text sent as it is (json.dumps cannot write 10,000 levels of nesting)."""

    text: str
    label: str


def _deep(levels: int, kind: str) -> Raw:
    if kind == "list":
        return Raw("[" * levels + "]" * levels, f"list nested {levels} deep")
    return Raw('{"a":' * levels + "1" + "}" * levels, f"object nested {levels} deep")


DEEP = [_deep(n, kind) for n in (100, 10_000) for kind in ("list", "object")]

# One value of each JSON type: put where the document gives another type, each must be a 400.
OF_TYPE: dict[str, Any] = {
    "integer": 7,
    "number": 1.5,
    "boolean": True,
    "null": None,
    "array": ["x"],
    "object": {"x": "y"},
    "string": "7",
}
EXTREME_NUMBERS: list[Any] = [2**31, 2**63, 2**64, -(2**64), 10**400, 1e308, -0.0, 0.1]
# Other Unicode digits (superscript, Arabic-Indic, mathematical bold), a NUL, 100,000 characters.
HOSTILE_STRINGS = ["²²²", "١٢٣٤", "𝟗𝟗𝟗", "٣", "a\x00b", "x" * 100_000]  # noqa: RUF001
HOSTILE: list[Any] = [*OF_TYPE.values(), *EXTREME_NUMBERS, *HOSTILE_STRINGS, *DEEP]
WHOLE_BODIES: list[Any] = [{}, [], "a bare string", 7, None, *DEEP]


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return {float: "number", str: "string", type(None): "null", list: "array", dict: "object"}[
        type(value)
    ]


def mismatches(schema: dict[str, Any] | None, value: Any) -> bool:
    """Whether ``value``'s JSON type is plainly not the one ``schema`` gives (False where the
    schema says nothing about type)."""
    if schema is None or isinstance(value, Raw) or "type" not in schema:
        return False
    kind = json_type(value)
    if kind == "null":
        return not schema.get("nullable", False)
    expected = schema["type"]
    return not (kind == expected or (expected == "number" and kind == "integer"))


def encode(body: Any) -> str:
    """``body`` as JSON text, with any Raw value inside written as it is."""
    raws: list[Raw] = []

    def mark(node: Any) -> Any:
        if isinstance(node, Raw):
            raws.append(node)
            return f"__raw_{len(raws) - 1}__"
        if isinstance(node, dict):
            return {k: mark(v) for k, v in node.items()}
        if isinstance(node, list):
            return [mark(v) for v in node]
        return node

    text = json.dumps(mark(body))
    for n, raw in enumerate(raws):
        text = text.replace(f'"__raw_{n}__"', raw.text, 1)
    return text


# --- Where to put them -------------------------------------------------------------------------

Path = tuple[str | int, ...]


def schema_paths(
    schema: dict[str, Any], body: Any, prefix: Path = ()
) -> Iterator[tuple[Path, Any]]:
    """Each property the document names, with its schema: at this level, and inside the
    first item of a list of objects the base body has."""
    for name, prop in schema.get("properties", {}).items():
        prop = resolve(prop)
        if prop.get("readOnly"):
            continue
        yield (*prefix, name), prop
        value = body.get(name) if isinstance(body, dict) else None
        if prop.get("type") == "object" and "properties" in prop and isinstance(value, dict):
            yield from schema_paths(prop, value, (*prefix, name))
        items = resolve(prop.get("items", {}))
        if "properties" in items and isinstance(value, list) and value:
            yield from schema_paths(items, value[0], (*prefix, name, 0))


def body_paths(body: Any, prefix: Path = ()) -> Iterator[Path]:
    """Every place in a JSON document, however deep (the document itself is ``()``)."""
    yield prefix
    if isinstance(body, dict):
        for key, value in body.items():
            yield from body_paths(value, (*prefix, key))
    elif isinstance(body, list):
        for n, value in enumerate(body):
            yield from body_paths(value, (*prefix, n))


def schema_at(schema: dict[str, Any], path: Path) -> dict[str, Any] | None:
    """The schema of the value at ``path``, or None where the document does not say."""
    node: dict[str, Any] | None = schema
    for step in path:
        if node is None:
            return None
        if isinstance(step, int):
            node = resolve(node["items"]) if "items" in node else None
        else:
            prop = node.get("properties", {}).get(step)
            if prop is None:
                extra = node.get("additionalProperties")
                prop = extra if isinstance(extra, dict) else None
            node = resolve(prop) if prop is not None else None
    return node


def replaced(body: Any, path: Path, value: Any) -> Any:
    """A copy of ``body`` with the value at ``path`` set (added, for a missing key)."""
    if not path:
        return value
    copy = json.loads(json.dumps(body))
    node = copy
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return copy


def dotted(path: Path) -> str:
    return ".".join(str(step) for step in path)


def named_fields(problem: dict[str, Any]) -> set[str]:
    """The fields a validation problem names (a list's items as ``a.0.b``)."""
    return {e["field"] for e in problem.get("errors", [])}


# --- Valid bodies, one per write operation -----------------------------------------------------


@dataclass
class Call:
    url: str
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    # The answer to the base body on a fresh world: 2xx, or the one 4xx an operation that
    # cannot be repeated answers (each example is rolled back, so the first call is the test).
    accepted: int = 201


def _first(world: World, path: str) -> str:
    return world.ids[path][0]


def _today(days: int = 0) -> str:
    return (today_in_london() + dt.timedelta(days=days)).isoformat()


def _api(world: World, method: str, url: str, body: Any = None, **headers: Any) -> Any:
    django_cache.clear()
    response = getattr(world.partner.api, method)(
        url, json.dumps(body or {}), content_type="application/json", **headers
    )
    assert response.status_code < 300, (url, response.status_code, response.content[:400])
    return response.json()


def _if_match(world: World, url: str) -> dict[str, str]:
    """The If-Match header a partner sends: the ETag of its last read."""
    django_cache.clear()
    response = world.partner.api.get(url)
    assert response.status_code == 200, (url, response.content[:300])
    return {"HTTP_IF_MATCH": response["ETag"]}


def _patch(world: World, url: str, body: dict[str, Any]) -> Call:
    return Call(url, body, _if_match(world, url), accepted=200)


def _fresh_referral(world: World, *steps: str) -> str:
    made = _api(world, "post", "/api/v1/referrals/", _referral_body(world))
    for step in steps:
        _api(world, "post", f"/api/v1/referrals/{made['id']}/{step}/")
    return str(made["id"])


def _referral_body(world: World) -> dict[str, Any]:
    return {
        "person": str(world.own.person_id),
        "source": "ward",
        "reason": "Ready to go home with support.",
        "urgency": "urgent",
        "needs": ["mobility"],
        "setting": "hospital_ward",
        "medically_stable": True,
        "service": world.service.slug,
        "consent": False,
    }


def _open_assessment(world: World) -> Any:
    from tests.assessments.factories import contact_assessment
    from tests.factories import CaseFileFactory, PersonFactory

    svc = world.partner.partner.service_user
    case_file = CaseFileFactory(
        agency=world.partner.agency, lead_worker=svc, person=PersonFactory()
    )
    return contact_assessment(case_file, svc, world.partner.agency, sign_off=False)


def _section(world: World, key: str) -> str:
    from assessments.models import Section

    return str(Section.objects.get(assessment=_open_assessment(world), domain__key=key).pk)


def _persons_patch(world: World) -> Call:
    body = {
        "given_name": "Maggie",
        "family_name": "Holroyd",
        "date_of_birth": "1938-04-12",
        "address_line_1": "2 Mill Lane",
        "address_line_2": "Flat 1",
        "town": "Calderbridge",
        "postcode": "HX1 2AB",
        "gp_practice": None,
    }
    return _patch(world, f"/api/v1/persons/{world.own.person_id}/", body)


def _referral_redirect(world: World) -> Call:
    from tests.factories import TeamFactory
    from tests.referrals.factories import ServiceFactory

    ServiceFactory(team=TeamFactory(agency=world.partner.agency), slug="rehab-team")
    return Call(
        f"/api/v1/referrals/{_fresh_referral(world)}/redirect/",
        {"to_service": "rehab-team", "reason": "Rehabilitation first."},
        accepted=200,
    )


def _hospital_admission(world: World) -> Call:
    from tests.factories import CaseFileFactory, PersonFactory

    case_file: Any = CaseFileFactory(
        agency=world.partner.agency, lead_worker=world.nina, person=PersonFactory()
    )
    body = {
        "person": str(case_file.person_id),
        "ward": "Ward 8",
        "admitted_on": _today(-2),
        "discharge_ready_on": None,
        "pathway": 1,
        "council": "council",
    }
    return Call("/api/v1/hospital-stays/", body)


def _scale(world: World) -> Call:
    from tests.assessments.factories import AMTS

    body = {
        "assessment": str(_open_assessment(world).pk),
        "scale": "amts",
        "items": AMTS,
        "assessed_on": "2026-11-30",
    }
    return Call("/api/v1/scales/", body)


def _meeting(world: World) -> Call:
    body = {
        # A fresh assessment: the world's have their meeting already, and one is all it has.
        "assessment": str(_open_assessment(world).pk),
        "held_on": "2026-12-02",
        "place": "home",
        "place_detail": "Front room",
        "attendees": [
            {"role": "nurse", "name": "N", "carer_link": 1},
            {"role": "care_manager", "name": "C"},
            {"role": "physiotherapist", "name": "P"},
        ],
        "wishes": "To stay at home.",
        "views": "Agrees.",
        "decisions": "Home care.",
        "from_impairment_or_illness": True,
        "outcomes_not_achieved": ["hygiene", "toilet"],
        "significant_impact_on_wellbeing": True,
        "eligibility_confirmed": True,
        "carer_assessment_requested": False,
        "carer_assessment_notes": "",
        "agreed_package": "Two visits a day.",
    }
    return Call("/api/v1/meetings/", body)


def _care_plan(world: World) -> Call:
    body = {
        "assessment": _first(world, "/api/v1/assessments/{id}/"),
        "goals": "Breakfast at home.",
        "review_on": _today(30),
        "services": [
            {
                "kind": "home_care",
                "funding": "social_care",
                "provider_agency": None,
                "hours_per_week": "5",
                "cost_per_hour_pence": 2000,
                "start_date": "2026-12-07",
                "review_date": None,
                "end_date": None,
            }
        ],
    }
    return Call("/api/v1/care-plans/", body)


def _journal(world: World) -> Call:
    from budgets import services
    from budgets.models import AccountKind, BudgetLine, PooledFund

    fund = PooledFund.objects.get(pk=_first(world, "/api/v1/funds/{id}/"))
    line = BudgetLine.objects.get(fund=fund, code="home-care")
    body = {
        "fund": fund.pk,
        "effective_date": "2026-04-12",
        "kind": "manual",
        "reference": "INV-1",
        "memo": "Home care",
        "postings": [
            {
                "account": services.account(fund, AccountKind.EXPENDITURE, line=line).pk,
                "side": "debit",
                "amount_pence": 250,
            },
            {
                "account": services.account(fund, AccountKind.CASH).pk,
                "side": "credit",
                "amount": "2.50",
            },
        ],
    }
    return Call("/api/v1/journals/", body)


def _care_package_event(world: World) -> Call:
    cf = world.own
    payload = {
        "care_plan_id": str(uuid.uuid4()),
        "version": 1,
        "case_file_id": str(cf.pk),
        "person_id": str(cf.person_id),
        "agency_id": cf.agency_id,
        "authorised_by": 1,
        "authorised_on": "2026-05-01",
        "weekly_cost_pence": 7000,
        "services": [
            {
                "service_id": "h",
                "kind": "home_care",
                "funding": "social_care",
                "weekly_cost_pence": 7000,
                "start_date": "2026-05-01",
                "end_date": None,
            }
        ],
    }
    body = {"type": "care_package.authorised", "payload": payload}
    return Call("/api/v1/care-package-events/", body, accepted=202)


BASE_CALLS: dict[str, Callable[[World], Call]] = {
    "POST /api/v1/persons/": lambda w: Call("/api/v1/persons/", dict(PERSON_BODY)),
    "PATCH /api/v1/persons/{id}/": _persons_patch,
    "POST /api/v1/sharing-bases/": lambda w: Call(
        "/api/v1/sharing-bases/",
        consent_body(w.own.person_id, "council", period_end="2030-01-01T00:00:00Z"),
    ),
    "POST /api/v1/sharing-bases/{id}/withdraw/": lambda w: Call(
        f"/api/v1/sharing-bases/{_first(w, '/api/v1/sharing-bases/{id}/withdraw/')}/withdraw/",
        {"reason": "The person withdrew consent."},
        accepted=200,
    ),
    "POST /api/v1/referrals/": lambda w: Call("/api/v1/referrals/", _referral_body(w)),
    "POST /api/v1/referrals/{id}/decline/": lambda w: Call(
        f"/api/v1/referrals/{_fresh_referral(w, 'claim')}/decline/",
        {"decline_reason": "no_capacity", "reason": "Full this week."},
        accepted=200,
    ),
    "POST /api/v1/referrals/{id}/redirect/": _referral_redirect,
    "POST /api/v1/referrals/{id}/end-episode/": lambda w: Call(
        f"/api/v1/referrals/{_fresh_referral(w, 'claim', 'accept', 'start-episode')}/end-episode/",
        {
            "outcome": "home_independent",
            "ended_on": _today(),
            "handover_to": None,
            "assessment_id": None,
        },
        accepted=200,
    ),
    "POST /api/v1/referrals/{id}/withdraw/": lambda w: Call(
        f"/api/v1/referrals/{_fresh_referral(w)}/withdraw/",
        {"reason": "No longer needed."},
        accepted=200,
    ),
    "POST /api/v1/hospital-stays/": _hospital_admission,
    "PATCH /api/v1/hospital-stays/{id}/": lambda w: _patch(
        w,
        f"/api/v1/hospital-stays/{_first(w, '/api/v1/hospital-stays/{id}/')}/",
        {"ward": "Ward 9", "pathway": 1, "delay_reason": None},
    ),
    "POST /api/v1/hospital-stays/{id}/discharge/": lambda w: Call(
        f"/api/v1/hospital-stays/{_first(w, '/api/v1/hospital-stays/{id}/')}/discharge/",
        {"discharged_on": _today(), "early_reason": "Went home with family."},
        accepted=200,
    ),
    "POST /api/v1/hospital-stays/{id}/ready-date/": lambda w: Call(
        f"/api/v1/hospital-stays/{_first(w, '/api/v1/hospital-stays/{id}/')}/ready-date/",
        {"discharge_ready_on": _today(), "note": "Medically fit."},
        accepted=200,
    ),
    "POST /api/v1/assessments/": lambda w: Call(
        "/api/v1/assessments/",
        {
            "person": str(w.own.person_id),
            "depth": "contact",
            "reason": "After a fall.",
            "episode": "Discharge",
        },
    ),
    "PATCH /api/v1/sections/{id}/": lambda w: _patch(
        w, f"/api/v1/sections/{_section(w, 'senses')}/", {"answers": {}, "narrative": "Glasses."}
    ),
    "POST /api/v1/sections/{id}/delegate/": lambda w: Call(
        f"/api/v1/sections/{_section(w, 'senses')}/delegate/",
        {"author": w.nina.username, "author_agency": "hospital"},
        accepted=200,
    ),
    "POST /api/v1/scales/": _scale,
    "POST /api/v1/meetings/": _meeting,
    "POST /api/v1/care-plans/": _care_plan,
    "POST /api/v1/care-plans/{id}/end/": lambda w: Call(
        f"/api/v1/care-plans/{_first(w, '/api/v1/care-plans/{id}/end/')}/end/",
        {"ended_on": _today()},
        accepted=200,
    ),
    "POST /api/v1/addenda/": lambda w: Call(
        "/api/v1/addenda/",
        {
            "assessment": _first(w, "/api/v1/assessments/{id}/"),
            "section": None,
            "reason": "Correction.",
            "text": "The person lives alone.",
        },
    ),
    "POST /api/v1/webhook-subscriptions/": lambda w: Call(
        "/api/v1/webhook-subscriptions/",
        {"url": "https://epr9.example/hook", "event_types": ["*"], "description": "EPR"},
    ),
    "PATCH /api/v1/webhook-subscriptions/{id}/": lambda w: _patch(
        w,
        f"/api/v1/webhook-subscriptions/{_first(w, '/api/v1/webhook-subscriptions/{id}/')}/",
        {
            "url": "https://epr8.example/hook",
            "event_types": ["referral.*"],
            "description": "EPR",
            "enabled": True,
        },
    ),
    "POST /api/v1/webhook-subscriptions/{id}/rotate-secret/": lambda w: Call(
        f"/api/v1/webhook-subscriptions/{_first(w, '/api/v1/webhook-subscriptions/{id}/')}"
        "/rotate-secret/",
        {"grace_period_seconds": 3600},
        accepted=200,
    ),
    "POST /api/v1/journals/": _journal,
    "POST /api/v1/journals/{id}/reverse/": lambda w: Call(
        f"/api/v1/journals/{_first(w, '/api/v1/journals/{id}/')}/reverse/",
        {"effective_date": "2026-04-20", "memo": "Posted twice."},
    ),
    "POST /api/v1/care-package-events/": _care_package_event,
}


# --- Nothing half-written ----------------------------------------------------------------------

OUR_APPS = (
    "audit",
    "events",
    "directory",
    "people",
    "sharing",
    "api",
    "assessments",
    "referrals",
    "budgets",
)


@cache
def _fingerprint_sql() -> str:
    """One query: for every table of ours, its row count and the sum of its versions (every
    update of a versioned row raises its version). Denials are audited even for a refusal,
    so the audit trail counts everything else."""
    parts = []
    for model in apps.get_models():
        if model._meta.app_label not in OUR_APPS or not model._meta.managed:
            continue
        table = connection.ops.quote_name(model._meta.db_table)
        where = ""
        if model._meta.label == "audit.AuditEvent":
            where = f" WHERE action <> '{Action.ACCESS_DENIED.value}'"
        # Table names from the models' own metadata, quoted: nothing of a request's.
        parts.append(f"(SELECT count(*) FROM {table}{where})")  # noqa: S608
        if "version" in {f.name for f in model._meta.concrete_fields}:
            parts.append(f"(SELECT coalesce(sum(version), 0) FROM {table})")  # noqa: S608
    return "SELECT " + ", ".join(parts)


def fingerprint() -> tuple[int, ...]:
    with connection.cursor() as cursor:
        cursor.execute(_fingerprint_sql())
        return tuple(cursor.fetchone())


# --- Sending and judging -----------------------------------------------------------------------


@dataclass
class Outcome:
    status: int
    response: Any
    wrote: bool


def send(world: World, op: str, call: Call, body: Any, before: tuple[int, ...]) -> Outcome:
    """POST/PUT/PATCH ``body`` in a savepoint that is then rolled back; ``before`` is the
    fingerprint of the world it is sent to (the same for every example, as each is undone)."""
    method = op.split()[0].lower()
    django_cache.clear()  # no example is throttled by the ones before it
    with transaction.atomic():
        response = getattr(world.partner.api, method)(
            call.url, encode(body), content_type="application/json", **call.headers
        )
        wrote = fingerprint() != before
        transaction.set_rollback(True)
    return Outcome(response.status_code, response, wrote)


def judge(op: str, outcome: Outcome, path: Path | None, value: Any, schema: Any) -> None:
    what = f"{op} with {dotted(path or ()) or 'the body'} = {_show(value)}"
    assert outcome.status < 500, (what, outcome.response.content[:600])
    if outcome.status >= 400:
        assert_problem(outcome.response, outcome.status)
        assert not outcome.wrote, f"{what}: refused ({outcome.status}) but wrote something"
    if isinstance(value, Raw):
        assert outcome.status == 400, (what, outcome.status)
    if path and mismatches(schema, value):
        assert outcome.status == 400, (what, outcome.status, outcome.response.content[:400])
        named = named_fields(json.loads(outcome.response.content))
        field_name = dotted(path)
        assert any(n == field_name or n.startswith(field_name + ".") for n in named), (
            what,
            named,
        )


def _show(value: Any) -> str:
    if isinstance(value, Raw):
        return value.label
    text = repr(value)
    return text if len(text) < 60 else f"{text[:40]}... ({len(text)} characters)"


def sweep(schema: dict[str, Any], body: dict[str, Any]) -> Iterator[tuple[Path, Any]]:
    """Every named property x every wrong JSON type and the extremes of its own type; the
    whole body replaced; deep nesting at one field (the parser refuses it wherever it is)."""
    for value in WHOLE_BODIES:
        yield (), value
    first = next(iter(schema.get("properties", {})), None)
    if first is not None:
        for raw in DEEP:
            yield (first,), raw
    for path, prop in schema_paths(schema, body):
        kind = prop.get("type")
        for name, value in OF_TYPE.items():
            if name != kind:
                yield path, value
        if kind in ("integer", "number"):
            for value in EXTREME_NUMBERS:
                yield path, value
        elif kind == "string":
            for value in HOSTILE_STRINGS:
                yield path, value


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=8,
)


EXAMPLES = 12  # hypothesis examples per operation, after the sweep


def test_every_write_operation_has_a_base_body() -> None:
    """So that a new write endpoint is fuzzed, or this fails."""
    assert set(BASE_CALLS) == set(WRITE_OPERATIONS)


def test_hostile_bodies_are_refused_cleanly(world: World) -> None:
    """Every write operation, on one seeded world: each operation's own state (a claimed
    referral, a fresh assessment) is made in a savepoint undone after it, as is each request,
    so one world serves them all (seeding it once per operation took a minute more)."""
    failures: list[str] = []
    for op in sorted(BASE_CALLS):
        try:
            with transaction.atomic():
                _fuzz(op, world)
                transaction.set_rollback(True)
        except AssertionError as error:
            failures.append(f"{op}: {error}")
    assert not failures, "\n\n".join(failures)


def _fuzz(op: str, world: World) -> None:
    schema = WRITE_OPERATIONS[op]
    call = BASE_CALLS[op](world)
    before = fingerprint()

    # First the base body, unchanged: it is accepted (and writes), so that a hostile value is
    # the only thing wrong with the bodies below and they reach the database. (One test with
    # the fuzz, not one of its own: seeding the world is most of the time of each.)
    accepted = send(world, op, call, call.body, before)
    assert accepted.status == call.accepted, accepted.response.content[:600]
    assert accepted.wrote

    for path, value in sweep(schema, call.body):
        outcome = send(world, op, call, replaced(call.body, path, value), before)
        judge(op, outcome, path, value, schema_at(schema, path))

    places = list(body_paths(call.body))

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        path=st.sampled_from(places),
        value=st.sampled_from(HOSTILE) | json_values,
    )
    def anywhere(path: Path, value: Any) -> None:
        outcome = send(world, op, call, replaced(call.body, path, value), before)
        judge(op, outcome, path, value, schema_at(schema, path))

    anywhere()
