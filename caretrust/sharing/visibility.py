"""The one visibility rule: which case files an agency (and a user acting for it) may see, for
which data class. Every list, detail, search, count, export and task reaches people's data
through it; nothing else decides who sees a case file.

An agency sees its own case files. It sees another agency's file for a data class only through
a permission row projected from an effective sharing basis (``caretrust.sharing.projection``):
a row for the agency's group, or a break-glass row for this user acting for this agency, and
only while the row's ``valid_until`` lies ahead by the database's clock, whether or not a
sweeper has removed it yet. Model-level permissions and superuser flags play no part.

Need to know: asked for a user, the rule is "the agency may see the file for the data class
AND the user's current role(s) at that agency need that data class" (the ``NeedToKnow``
table, ``caretrust.sharing.need_to_know``; several roles give the union, and roles at another
agency count for nothing). Restricted notes never leave the holding agency, and inside it are
read only by the roles its rows name. Both parts are in the same SQL statement, as
uncorrelated subqueries that PostgreSQL runs once per statement (an InitPlan), so a change of
role or of the table counts on the very next query. Asked without a user (``user=None``: the
agency as a body, for a task or a check between agencies such as "may the receiving agency
see this file"), the agency's answer alone applies.

One rule, two SQL shapes with the same answer (tests/sharing/test_property.py holds both to a
reference model after every step of its state machine, for every data class):

- **row-wise** (``case_file_visibility``): own file, or an EXISTS on a grant for this row. For
  a detail, a narrow filter, and rows that hang off a case file (``path="case_file"``).
- **id-set** (``visible_case_file_ids``, ``granted_classes``): the agency's own files UNION the
  ids its grants name, each part from its own index. For listing or counting a whole caseload,
  where the row-wise form would test every file, and for the data classes of a page of files.

Import direction: this module depends on people's models (the case file and its permission
tables live there) and the audit trail, never the reverse at import time. The querysets in
``caretrust.people.models`` keep their ``visible_to`` methods, which import this module when
called.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any, TypeVar
from uuid import UUID

from django.db.models import CharField, Exists, Model, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Concat, Now
from django.http import Http404

from caretrust.audit import services as audit
from caretrust.directory.models import Agency, Membership
from caretrust.people.models import (
    CaseFile,
    CaseFileGroupObjectPermission,
    CaseFileUserObjectPermission,
    CaseNote,
    DataClass,
    Person,
    view_codename,
)
from caretrust.sharing.models import NeedToKnow
from caretrust.sharing.need_to_know import role_classes

M = TypeVar("M", bound=Model)


def _classes(data_class: str | None) -> list[str]:
    return [data_class] if data_class else list(DataClass.values)


def _need(
    agency: Agency, data_classes: list[str], user: Any, *, restricted: bool = False
) -> QuerySet[NeedToKnow]:
    """The need-to-know rows by which ``user``'s current roles at ``agency`` read one of
    ``data_classes`` (with ``restricted``: their restricted items too). Not correlated with
    any outer row: one evaluation per statement. A user who is not signed in has no pk, so no
    roles, so no rows."""
    roles = Membership.objects.current().filter(user_id=user.pk, agency=agency).values("role")
    rows = NeedToKnow.objects.filter(agency=agency, role__in=roles, data_class__in=data_classes)
    return rows.filter(restricted_items=True) if restricted else rows


def _own(agency: Agency, data_class: str | None, user: Any, *, prefix: str = "") -> Q:
    """The agency's own files, for a user only if their role needs (one of) the class(es)."""
    own = Q(**{f"{prefix}agency": agency})
    if user is None:
        return own
    return own & Q(Exists(_need(agency, _classes(data_class), user)))


def _grants(agency: Agency, data_class: str | None, user: Any) -> list[QuerySet[Any]]:
    """The permission rows that let ``agency`` (and, for break-glass, ``user`` acting for it)
    see a case file for ``data_class`` (None: for any data class), current by the database's
    clock; for a user, only rows of a class their role needs."""
    codenames = [view_codename(dc) for dc in _classes(data_class)]
    current = Q(valid_until__isnull=True) | Q(valid_until__gt=Now())
    if user is not None:
        needed = (
            _need(agency, _classes(data_class), user)
            .annotate(codename=Concat(Value("view_"), "data_class", output_field=CharField()))
            .values("codename")
        )
        current &= Q(permission__codename__in=needed)
    grants: list[QuerySet[Any]] = [
        CaseFileGroupObjectPermission.objects.filter(
            current, group_id=agency.group_id, permission__codename__in=codenames
        )
    ]
    if user is not None and getattr(user, "is_authenticated", False):
        grants.append(
            CaseFileUserObjectPermission.objects.filter(
                current, user_id=user.pk, agency=agency, permission__codename__in=codenames
            )
        )
    return grants


# --- Row-wise -------------------------------------------------------------------------------


def case_file_visibility(
    agency: Agency, data_class: str | None, user: Any = None, *, path: str = ""
) -> Q:
    """The rule row by row, as a ``Q`` on case files, or with ``path`` on rows that belong to
    one (``path="case_file"``): own file, or an EXISTS on a current grant for it."""
    prefix = f"{path}__" if path else ""
    file_ref = OuterRef(path or "pk")
    rule = _own(agency, data_class, user, prefix=prefix)
    for grant in _grants(agency, data_class, user):
        rule |= Q(Exists(grant.filter(content_object=file_ref)))
    return rule


# --- Id-set ---------------------------------------------------------------------------------


def visible_case_file_ids(agency: Agency, data_class: str | None, user: Any = None) -> Any:
    """The rule as a set of case-file ids, for the right side of an IN. UNION ALL: IN ignores
    repeats (a file granted for several data classes, or by group and break-glass), so
    removing them first is work for nothing; measured, it halved a count."""
    own = CaseFile.objects.filter(_own(agency, data_class, user)).order_by().values("pk")
    grants = (g.values("content_object_id") for g in _grants(agency, data_class, user))
    return own.union(*grants, all=True)


def granted_classes(
    files: Iterable[CaseFile], agency: Agency, user: Any = None
) -> dict[Any, set[str]]:
    """The data classes the agency (for a user: and their role) may see in each of
    ``files``: every class of its own files that the role needs; of another agency's file,
    the classes its current grants name that the role needs. The id-set shape's grants with
    their data class, for these files only: one query whatever their number (and one for the
    role's classes, if any file is the agency's own)."""
    files = list(files)
    classes: dict[Any, set[str]] = defaultdict(set)
    others = []
    needed: set[str] | None = None
    for f in files:
        if f.agency_id == agency.pk:
            if needed is None:
                needed = role_classes(agency, user)[0]
            classes[f.pk] = set(needed)
        else:
            others.append(f.pk)
    if others:
        arms = [
            g.filter(content_object_id__in=others)
            .order_by()
            .values_list("content_object_id", "permission__codename")
            for g in _grants(agency, None, user)
        ]
        for pk, codename in arms[0].union(*arms[1:], all=True):
            classes[pk].add(codename.removeprefix("view_"))
    return classes


def mark_visible_classes(
    files: Iterable[CaseFile], agency: Agency, user: Any = None
) -> list[CaseFile]:
    """Set ``can_<data class>`` on each of ``files`` (already fetched through the rule) from
    ``granted_classes``."""
    files = list(files)
    classes = granted_classes(files, agency, user)
    for f in files:
        for dc in DataClass.values:
            setattr(f, f"can_{dc}", dc in classes[f.pk])
    return files


# --- The rule applied to each model ---------------------------------------------------------


def case_files(
    queryset: QuerySet[CaseFile],
    agency: Agency,
    data_class: str | None,
    user: Any = None,
    *,
    listing: bool = False,
) -> QuerySet[CaseFile]:
    """``queryset`` narrowed to the files the agency may see for ``data_class`` (None: for at
    least one): row-wise, or with ``listing`` as the id-set."""
    if listing:
        return queryset.filter(pk__in=visible_case_file_ids(agency, data_class, user))
    return queryset.filter(case_file_visibility(agency, data_class, user))


def persons(
    queryset: QuerySet[Person], agency: Agency, user: Any = None, *, listing: bool = False
) -> QuerySet[Person]:
    """People whose demographics the agency may see in at least one case file."""
    if listing:
        ids = visible_case_file_ids(agency, DataClass.DEMOGRAPHICS, user)
        return queryset.filter(pk__in=CaseFile.objects.filter(pk__in=ids).values("person_id"))
    files = CaseFile.objects.filter(person_id=OuterRef("pk")).filter(
        case_file_visibility(agency, DataClass.DEMOGRAPHICS, user)
    )
    return queryset.filter(Exists(files))


def notes(queryset: QuerySet[CaseNote], agency: Agency, user: Any = None) -> QuerySet[CaseNote]:
    """Notes whose data class the agency (for a user: and their role) may see in their file:
    the row-wise rule with each note's own class for the data class. A restricted note never
    leaves the holding agency, and inside it is read only by the roles whose need-to-know rows
    name restricted items of its class. One grant test per note's class, not one per class:
    the statement stays small, and Django compiles it in a fraction of the time."""
    codename = Concat(Value("view_"), OuterRef("data_class"), output_field=CharField())
    seen = Q(case_file__agency=agency)
    for grant in _grants(agency, None, user):
        seen |= Q(
            Exists(
                grant.filter(content_object=OuterRef("case_file"), permission__codename=codename)
            )
        )
    restricted_ok = Q(case_file__agency=agency)
    if user is not None:
        every = list(DataClass.values)
        seen &= Q(data_class__in=_need(agency, every, user).values("data_class"))
        restricted_ok &= Q(
            data_class__in=_need(agency, every, user, restricted=True).values("data_class")
        )
    return queryset.filter(seen & (Q(restricted=False) | restricted_ok))


# --- Answering for what is not visible ------------------------------------------------------


def parse_uuid(value: object) -> UUID | None:
    """``value`` as a UUID, or None if it is not one."""
    try:
        return UUID(str(value))
    except ValueError:
        return None


def visible_or_404(
    visible: QuerySet[M], object_id: object, *, user: Any, agency: Agency, what: str, **detail: Any
) -> M:
    """The row of ``visible`` (a queryset already narrowed by the rule) whose UUID key is
    ``object_id``. Otherwise the denial is audited (``audit.record_denial``, which tells a
    hidden row from a missing one) and Http404 raised: the same answer whether the row is
    missing, hidden, or the id is not a UUID at all."""
    pk = parse_uuid(object_id)
    found = visible.filter(pk=pk).first() if pk is not None else None
    if found is None:
        exists = pk is not None and visible.model._default_manager.filter(pk=pk).exists()
        audit.record_denial(
            actor=user,
            agency=agency,
            what=what,
            object_id=object_id,
            reason="not_permitted" if exists else "not_found",
            person_id=pk if exists and visible.model is Person else None,
            **detail,
        )
        raise Http404(f"No such {what.replace('_', ' ')}.")
    return found
