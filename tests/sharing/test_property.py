"""Property: whatever sequence of grants, refusals, withdrawals, expiries, break-glass, staff
moves and changes to an agency's need-to-know table happens, every agency, and every member of
staff acting for it, sees exactly what a small reference model says it should, for every data
class and case file, through both shapes of the rule (row-wise and id-set,
caretrust.sharing.visibility) for case files and people, through ``granted_classes`` for the
data classes of each file, and through the notes rule (restricted notes included); and the
projection never drifts from the bases.

The model's rule for a user: their agency may see the file for the class AND one of their
current roles at that agency needs the class; a restricted note also needs the holding agency
to be theirs and their role to read restricted items of its class.

Each example builds its own small world (3 agencies, 2 clinicians each, 4 people with files
at some of the agencies) inside a savepoint that is rolled back afterwards, so the examples
of one test run never see each other's rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models.functions import Now
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from caretrust.directory import services as directory
from caretrust.directory.models import AgencyKind, Membership, Role
from caretrust.people.models import (
    CaseFile,
    CaseFileGroupObjectPermission,
    CaseFileUserObjectPermission,
    CaseNote,
    DataClass,
    Person,
    view_codename,
)
from caretrust.sharing import services as sharing
from caretrust.sharing.models import Evidence, Grantor, NeedToKnow, Purpose, SharingBasis
from caretrust.sharing.services import BREAK_GLASS_ROLES, RECORDING_ROLES
from caretrust.sharing.visibility import granted_classes
from tests.factories import AgencyFactory, CaseFileFactory, PersonFactory, UserFactory

AGENCIES = [
    ("council", AgencyKind.COUNCIL_ASC, (Role.CARE_MANAGER, Role.FINANCE_OFFICER)),
    ("hospital", AgencyKind.ACUTE_TRUST, (Role.NURSE, Role.GP)),
    ("westvale", AgencyKind.COMMUNITY_HEALTH, (Role.DISTRICT_NURSE, Role.PHYSIOTHERAPIST)),
]
STAFF_PER_AGENCY = 2
# Which agencies hold a file on each person.
HOLDERS = {0: (0, 1), 1: (0, 2), 2: (0, 1, 2), 3: (1,)}
CLASSES = DataClass.values
# Break-glass opens every class alike: checking someone else's on two of them is enough.
CROSS_AGENCY_CLASSES = (DataClass.DEMOGRAPHICS, DataClass.CLINICAL_NOTES)
# The notes in every file: (data class, restricted).
NOTES = [(dc, r) for dc in (DataClass.CLINICAL_NOTES, DataClass.FINANCE) for r in (False, True)]
LONG_AGO = dt.timedelta(hours=5)
JUST_NOW = dt.timedelta(seconds=1)

agency_ix = st.integers(0, len(AGENCIES) - 1)
other_offset = st.integers(0, len(AGENCIES) - 2)
person_ix = st.sampled_from(sorted(HOLDERS))
staff_ix = st.integers(0, STAFF_PER_AGENCY - 1)
any_staff = st.integers(0, len(AGENCIES) * STAFF_PER_AGENCY - 1)
data_classes = st.sets(st.sampled_from(CLASSES), min_size=1, max_size=3)
pick = st.integers(0, 10_000)


@dataclass
class Basis:
    """The reference model's view of one sharing basis."""

    pk: Any
    person: int
    holder: int
    recipient: int
    classes: frozenset[str]
    deny: bool = False
    user: int | None = None  # break-glass: the named user's staff index
    period_end: dt.datetime | None = None
    active: bool = True  # status is still active (not withdrawn, not swept)
    ended: bool = False  # its period has passed

    @property
    def live(self) -> bool:
        return self.active and not self.ended


@dataclass
class World:
    """The agencies, staff, people and files, built once per test run; the SQL of every
    visibility check, compiled once (its Now() is the database's clock at each execution)."""

    agencies: list[Any]
    staff: list[Any]
    roles: list[str]
    people: dict[int, Any]
    files: dict[tuple[int, int], CaseFile]
    # (agency, data class, staff or None, listing): the SQL of CaseFile.objects.visible_to
    visibility_sql: dict[tuple[int, str, int | None, bool], tuple[str, tuple[Any, ...]]]
    # (agency, staff or None, listing): the SQL of Person.objects.visible_to
    person_sql: dict[tuple[int, int | None, bool], tuple[str, tuple[Any, ...]]]
    # (agency, staff or None): the SQL of CaseNote.objects.visible_to
    note_sql: dict[tuple[int, int | None], tuple[str, tuple[Any, ...]]]
    # note pk -> (person, holder, data class, restricted)
    notes: dict[Any, tuple[int, int, str, bool]]


def build_world() -> World:
    agencies = [
        AgencyFactory(name=f"Agency {slug}", slug=slug, kind=kind) for slug, kind, _ in AGENCIES
    ]
    staff: list[Any] = []
    roles: list[str] = []
    for n, (slug, _, agency_roles) in enumerate(AGENCIES):
        for k in range(STAFF_PER_AGENCY):
            user = UserFactory(username=f"{slug}{k}")
            directory.add_membership(user=user, agency=agencies[n], role=agency_roles[k])
            staff.append(user)
            roles.append(agency_roles[k])
    people: dict[int, Any] = {}
    files: dict[tuple[int, int], CaseFile] = {}
    notes: dict[Any, tuple[int, int, str, bool]] = {}
    for p, holders in HOLDERS.items():
        people[p] = PersonFactory()
        for h in holders:
            files[(p, h)] = CaseFileFactory(
                person=people[p], agency=agencies[h], lead_worker=staff[h * STAFF_PER_AGENCY]
            )
            for dc, restricted in NOTES:
                note = CaseNote.objects.create(
                    case_file=files[(p, h)],
                    data_class=dc,
                    text="A note.",
                    restricted=restricted,
                    author=staff[h * STAFF_PER_AGENCY],
                )
                notes[note.pk] = (p, h, dc, restricted)
    visibility_sql = {}
    person_sql = {}
    note_sql = {}
    for a, agency in enumerate(agencies):
        own = range(a * STAFF_PER_AGENCY, (a + 1) * STAFF_PER_AGENCY)
        others = [s for s in range(len(staff)) if s not in own]
        checks = [(dc, s) for dc in CLASSES for s in (None, *own)]
        checks += [(dc, s) for dc in CROSS_AGENCY_CLASSES for s in others]
        for listing in (False, True):
            for data_class, s in checks:
                queryset = CaseFile.objects.visible_to(
                    agency, data_class, None if s is None else staff[s], listing=listing
                )
                visibility_sql[(a, data_class, s, listing)] = queryset.values_list(
                    "pk", flat=True
                ).query.sql_with_params()
            for s in (None, *range(len(staff))):
                people_seen = Person.objects.visible_to(
                    agency, None if s is None else staff[s], listing=listing
                )
                person_sql[(a, s, listing)] = people_seen.values_list(
                    "pk", flat=True
                ).query.sql_with_params()
        for s in (None, *range(len(staff))):
            notes_seen = CaseNote.objects.visible_to(agency, None if s is None else staff[s])
            note_sql[(a, s)] = notes_seen.values_list("pk", flat=True).query.sql_with_params()
    return World(agencies, staff, roles, people, files, visibility_sql, person_sql, note_sql, notes)


class SharingWorld(RuleBasedStateMachine):
    world: World  # set by the test before it runs the machine

    def __init__(self) -> None:
        super().__init__()
        # Everything an example does is undone after it, so no example sees another's rows.
        self._savepoint = transaction.atomic()
        self._savepoint.__enter__()
        w = self.world
        self.agencies, self.staff, self.roles = w.agencies, w.staff, w.roles
        self.people, self.files, self.visibility_sql = w.people, w.files, w.visibility_sql
        self.person_sql, self.note_sql, self.notes = w.person_sql, w.note_sql, w.notes
        self.member = [True] * len(self.staff)
        self.bases: list[Basis] = []
        # (agency, role) -> {data class: reads restricted items}: the need-to-know table,
        # as seeded for each agency when the world was built.
        self.need: dict[tuple[int, str], dict[str, bool]] = {}
        for row in NeedToKnow.objects.filter(agency__in=self.agencies):
            a = self.agencies.index(row.agency)
            self.need.setdefault((a, row.role), {})[row.data_class] = row.restricted_items

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._savepoint.__exit__(None, None, None)

    # --- the reference model ---------------------------------------------------------------

    def _agency_of(self, s: int) -> int:
        return s // STAFF_PER_AGENCY

    def seen(self, agency: int, data_class: str, s: int | None) -> set[Any]:
        """What staff member ``s`` (None: the agency as a body) acting for ``agency`` sees:
        the agency's answer, if ``s`` is a current member whose role needs the class."""
        if s is None:
            return self.expected(agency, data_class, None)
        if not self._role_needs(agency, s, data_class):
            return set()
        return self.expected(agency, data_class, s)

    def _role_needs(self, agency: int, s: int, data_class: str, restricted: bool = False) -> bool:
        if self._agency_of(s) != agency or not self.member[s]:
            return False  # no current role at this agency: no need of anything there
        need = self.need.get((agency, self.roles[s]), {})
        return data_class in need and (need[data_class] or not restricted)

    def expected(self, agency: int, data_class: str, user: int | None) -> set[Any]:
        """What the agency may see of each file for the class (with ``user``: their
        break-glass too), before need to know."""
        seen = set()
        for (p, h), case_file in self.files.items():
            if h == agency:
                seen.add(case_file.pk)
                continue
            covering = [
                b
                for b in self.bases
                if b.live
                and (b.person, b.holder, b.recipient) == (p, h, agency)
                and data_class in b.classes
            ]
            if any(b.deny for b in covering):
                continue
            if any(b.user is None for b in covering) or (
                user is not None and any(b.user == user for b in covering)
            ):
                seen.add(case_file.pk)
        return seen

    # --- actions ---------------------------------------------------------------------------

    def _record(self, h: int, offset: int, p: int, k: int, classes: set[str], deny: bool) -> None:
        r = (h + 1 + offset) % len(AGENCIES)
        s = h * STAFF_PER_AGENCY + k
        record = sharing.record_refusal if deny else sharing.record_consent
        call = partial(
            record,
            person=self.people[p],
            holding_agency=self.agencies[h],
            recipient_agency=self.agencies[r],
            data_classes=sorted(classes),
            purpose=Purpose.DIRECT_CARE,
            grantor=Grantor.PERSON,
            grantor_name="The person",
            evidence=Evidence.VERBAL,
            by=self.staff[s],
        )
        if not self.member[s] or self.roles[s] not in RECORDING_ROLES:
            self._refused(PermissionDenied, call)
        elif (p, h) not in self.files:
            self._refused(ValidationError, call)
        else:
            basis = call()
            self.bases.append(Basis(basis.pk, p, h, r, frozenset(classes), deny=deny))

    @staticmethod
    def _refused(error: type[Exception], call: Any) -> None:
        count = SharingBasis.objects.count()
        try:
            call()
        except error:
            pass
        else:
            raise AssertionError(f"expected {error.__name__}")
        assert SharingBasis.objects.count() == count

    @rule(h=agency_ix, offset=other_offset, p=person_ix, k=staff_ix, classes=data_classes)
    def grant_consent(self, h: int, offset: int, p: int, k: int, classes: set[str]) -> None:
        self._record(h, offset, p, k, classes, deny=False)

    @rule(h=agency_ix, offset=other_offset, p=person_ix, k=staff_ix, classes=data_classes)
    def record_refusal(self, h: int, offset: int, p: int, k: int, classes: set[str]) -> None:
        self._record(h, offset, p, k, classes, deny=True)

    @rule(i=pick, k=staff_ix)
    def withdraw(self, i: int, k: int) -> None:
        active = [b for b in self.bases if b.active]
        if not active:
            return
        basis = active[i % len(active)]
        s = basis.holder * STAFF_PER_AGENCY + k
        call = partial(
            sharing.withdraw_basis,
            basis=SharingBasis.objects.get(pk=basis.pk),
            reason="The person changed their mind.",
            by=self.staff[s],
            acting_agency=self.agencies[basis.holder],
        )
        if not self.member[s] or self.roles[s] not in RECORDING_ROLES:
            self._refused(PermissionDenied, call)
            return
        call()
        basis.active = False

    @rule(i=pick)
    def let_a_permit_run_out(self, i: int) -> None:
        """Time passes a permit's end, by the database's clock, and nothing sweeps: the basis's
        period and the rows it was projected to now lie in the past."""
        running = [b for b in self.bases if b.live and not b.deny]
        if not running:
            return
        basis = running[i % len(running)]
        SharingBasis.objects.filter(pk=basis.pk).update(
            period_start=Now() - LONG_AGO, period_end=Now() - JUST_NOW
        )
        basis.ended = True
        case_file = self.files[(basis.person, basis.holder)]
        recipient = self.agencies[basis.recipient]
        if basis.user is not None:
            # The user's break-glass rows last until the latest end among their live
            # break-glass bases on this file for this agency.
            others = [
                b.period_end
                for b in self.bases
                if b.live
                and b.user == basis.user
                and (b.person, b.holder, b.recipient)
                == (basis.person, basis.holder, basis.recipient)
            ]
            CaseFileUserObjectPermission.objects.filter(
                content_object=case_file, agency=recipient, user=self.staff[basis.user]
            ).update(valid_until=max(others) if others else Now() - JUST_NOW)
            return
        for data_class in basis.classes:
            still_permitted = any(
                b.live
                and not b.deny
                and b.user is None
                and (b.person, b.holder, b.recipient)
                == (basis.person, basis.holder, basis.recipient)
                and data_class in b.classes
                for b in self.bases
            )
            if not still_permitted:
                # The row's valid_until was this permit's end: the last permit ending.
                CaseFileGroupObjectPermission.objects.filter(
                    content_object=case_file,
                    group_id=recipient.group_id,
                    permission__codename=view_codename(data_class),
                ).update(valid_until=Now() - JUST_NOW)

    @rule(s=any_staff, p=person_ix)
    def break_glass(self, s: int, p: int) -> None:
        a = self._agency_of(s)
        call = partial(
            sharing.break_glass,
            person=self.people[p],
            user=self.staff[s],
            acting_agency=self.agencies[a],
            reason="Collapsed on the ward; no history available.",
        )
        if not self.member[s] or self.roles[s] not in BREAK_GLASS_ROLES:
            self._refused(PermissionDenied, call)
            return
        created = call()
        holders = {h for (q, h) in self.files if q == p and h != a}
        assert {self.agencies.index(b.holding_agency) for b in created} == holders
        for basis in created:
            self.bases.append(
                Basis(
                    basis.pk,
                    p,
                    self.agencies.index(basis.holding_agency),
                    a,
                    frozenset(CLASSES),
                    user=s,
                    period_end=basis.period_end,
                )
            )

    @rule(s=any_staff)
    def leave_or_rejoin(self, s: int) -> None:
        user, agency = self.staff[s], self.agencies[self._agency_of(s)]
        if self.member[s]:
            directory.end_membership(membership=Membership.objects.current().get(user=user))
        else:
            directory.add_membership(user=user, agency=agency, role=self.roles[s])
        self.member[s] = not self.member[s]

    @rule(a=agency_ix, k=staff_ix, data_class=st.sampled_from(CLASSES), restricted=st.booleans())
    def reconfigure_need_to_know(self, a: int, k: int, data_class: str, restricted: bool) -> None:
        """An administrator gives a role at an agency a data class it lacked (reading
        restricted items of it or not), or takes one away."""
        role = self.roles[a * STAFF_PER_AGENCY + k]
        need = self.need.setdefault((a, role), {})
        rows = NeedToKnow.objects.filter(agency=self.agencies[a], role=role, data_class=data_class)
        if data_class in need:
            rows.delete()
            del need[data_class]
        else:
            NeedToKnow.objects.create(
                agency=self.agencies[a],
                role=role,
                data_class=data_class,
                restricted_items=restricted,
            )
            need[data_class] = restricted

    @rule()
    def sweep(self) -> None:
        swept = sharing.expire_lapsed_bases()
        lapsed = [b for b in self.bases if b.active and b.ended]
        assert swept == len(lapsed)
        for basis in lapsed:
            basis.active = False

    # --- what must always hold -------------------------------------------------------------

    @invariant()
    def each_agency_sees_exactly_what_the_model_says(self) -> None:
        """Both shapes of CaseFile.objects.visible_to, for every data class."""
        with connection.cursor() as cursor:
            for (a, data_class, s, listing), (sql, params) in self.visibility_sql.items():
                cursor.execute(sql, params)
                got = {row[0] for row in cursor.fetchall()}
                # Someone else's break-glass never counts for this agency, whoever asks; nor
                # does anyone without a current role here.
                want = self.seen(a, data_class, s)
                assert got == want, (self.agencies[a].slug, data_class, s, listing)

    @invariant()
    def each_agency_sees_exactly_the_people_the_model_says(self) -> None:
        """Both shapes of Person.objects.visible_to (demographics in at least one file)."""
        with connection.cursor() as cursor:
            for (a, s, listing), (sql, params) in self.person_sql.items():
                cursor.execute(sql, params)
                got = {row[0] for row in cursor.fetchall()}
                files = self.seen(a, DataClass.DEMOGRAPHICS, s)
                want = {self.people[p].pk for (p, _h), f in self.files.items() if f.pk in files}
                assert got == want, (self.agencies[a].slug, s, listing)

    @invariant()
    def each_files_data_classes_are_what_the_model_says(self) -> None:
        """granted_classes (the id-set shape asked which classes, as a listing's page asks
        it) names, for every file, exactly the classes the model lets the agency see."""
        files = list(self.files.values())
        for a, agency in enumerate(self.agencies):
            for s in (None, *range(len(self.staff))):
                user = None if s is None else self.staff[s]
                seen = {dc: self.seen(a, dc, s) for dc in CLASSES}
                got = granted_classes(files, agency, user)
                for f in files:
                    want = {dc for dc in CLASSES if f.pk in seen[dc]}
                    assert got[f.pk] == want, (self.agencies[a].slug, s, f.pk)

    @invariant()
    def each_agency_and_user_reads_exactly_the_notes_the_model_says(self) -> None:
        """A note is read where its class of its file is seen; a restricted one only in its
        holding agency, and by a user only if their role reads restricted items of it."""
        with connection.cursor() as cursor:
            for (a, s), (sql, params) in self.note_sql.items():
                cursor.execute(sql, params)
                got = {row[0] for row in cursor.fetchall()}
                want = set()
                for pk, (p, h, dc, restricted) in self.notes.items():
                    if self.files[(p, h)].pk not in self.seen(a, dc, s):
                        continue
                    if restricted and (
                        h != a or (s is not None and not self._role_needs(a, s, dc, True))
                    ):
                        continue
                    want.add(pk)
                assert got == want, (self.agencies[a].slug, s)

    @invariant()
    def the_projection_has_not_drifted(self) -> None:
        assert sharing.recompute_all().drifted == []


def test_visibility_always_matches_the_reference_model(db: Any) -> None:
    SharingWorld.world = build_world()
    run_state_machine_as_test(
        SharingWorld,
        settings=settings(
            max_examples=25,
            stateful_step_count=15,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
