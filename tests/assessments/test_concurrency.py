"""Two saves of one section at once: exactly one wins, the other's draft is kept as a
conflict beside the winner. Different sections save side by side. A sign-off racing an edit
never lets the edit land after the sign-off. Threaded, each thread its own connection, and
committing (transaction=True)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import close_old_connections, connection

from assessments import services
from assessments.models import Section, SectionConflict
from tests.assessments.conftest import ANSWERS, section, write_and_sign

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module", autouse=True)
def _flushable(audit_flushable: None) -> None:
    """These tests commit: see tests/conftest.py."""


def _race(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls at the same moment, each in its own thread (and connection); return
    each one's result or the exception it raised."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait()
            results[i] = call()
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    close_old_connections()
    return results


def _save(sec: Section, by: Any, agency: Any, answers: dict, version: int) -> Callable[[], Any]:
    return lambda: services.save_section(
        section_id=sec.pk,
        answers=answers,
        narrative=str(answers),
        based_on_version=version,
        by=by,
        agency=agency,
    )


def test_two_saves_of_one_section_exactly_one_wins_and_the_other_is_kept(
    assessment, hospital, nina
):
    sec = section(assessment, "perspective")
    mine = {"main_concern": "Home by Friday"}
    theirs = {"main_concern": "A care home near my daughter"}

    results = _race(_save(sec, nina, hospital, mine, 1), _save(sec, nina, hospital, theirs, 1))

    assert not any(isinstance(r, Exception) for r in results), results
    winners = [r for r in results if r.saved]
    losers = [r for r in results if not r.saved]
    assert len(winners) == 1 and len(losers) == 1
    sec.refresh_from_db()
    assert sec.version == 2
    assert sec.answers == winners[0].section.answers
    conflict = SectionConflict.objects.get(section=sec)
    assert conflict.answers == losers[0].conflict.answers != sec.answers
    assert (conflict.based_on_version, conflict.current_version) == (1, 2)


def test_different_sections_are_saved_side_by_side_without_conflict(assessment, hospital, nina):
    secs = [section(assessment, key) for key in ("clinical_background", "senses", "safety")]
    for sec in secs:
        services.delegate_section(
            section=sec, author=nina, author_agency=hospital, by=nina, agency=hospital
        )
    secs = [Section.objects.get(pk=s.pk) for s in secs]
    keys = ("clinical_background", "senses", "safety")
    results = _race(
        *(_save(s, nina, hospital, ANSWERS[k], s.version) for s, k in zip(secs, keys, strict=True))
    )
    assert all(not isinstance(r, Exception) and r.saved for r in results), results
    assert not SectionConflict.objects.exists()
    assert Section.objects.get(pk=secs[0].pk).answers == ANSWERS["clinical_background"]


def test_a_sign_off_racing_an_edit_never_lets_the_edit_land_after_it(assessment, hospital, nina):
    # Every section the depth requires signed, except that "senses" is reopened... no: an
    # overview-only section cannot exist at comprehensive depth, so the racing edit is of a
    # section whose author reopened it: the sign-off must then fail, or the edit must.
    for sec in Section.objects.filter(assessment=assessment).select_related("domain"):
        if sec.author_id is None:
            services.delegate_section(
                section=sec, author=nina, author_agency=hospital, by=nina, agency=hospital
            )
        write_and_sign(sec, nina, hospital)
    senses = section(assessment, "senses")

    for _ in range(3):
        results = _race(
            lambda: services.sign_off_assessment(assessment=assessment, by=nina, agency=hospital),
            lambda: services.reopen_section(section_id=senses.pk, by=nina, agency=hospital),
        )
        signed_off, reopened = results
        assessment.refresh_from_db()
        senses.refresh_from_db()
        if assessment.status == "signed_off":
            # The sign-off won: the reopening was refused, the section is still signed.
            assert isinstance(reopened, services.AssessmentSignedOff), reopened
            assert senses.status == "signed"
            assert senses.signed_at < assessment.signed_off_at
            return
        # The reopening won: the sign-off saw an unsigned required section and refused.
        assert isinstance(signed_off, Exception) and "Senses" in str(signed_off)
        assert senses.status == "drafted"
        write_and_sign(senses, nina, hospital)
    pytest.fail("the sign-off never won in three rounds")


def test_an_edit_racing_a_sign_off_of_the_same_assessment_is_serialised(
    hospital_file, hospital, nina
):
    # A contact assessment: "senses" is optional, so its edit and the sign-off both may pass,
    # but the edit may never be applied after the sign-off.
    contact = services.start_assessment(
        case_file=hospital_file, depth="contact", reason="R", episode="E", by=nina, agency=hospital
    )
    for key in ("perspective", "clinical_background", "senses"):
        sec = section(contact, key)
        if sec.author_id is None:
            services.delegate_section(
                section=sec, author=nina, author_agency=hospital, by=nina, agency=hospital
            )
    write_and_sign(section(contact, "perspective"), nina, hospital)
    write_and_sign(section(contact, "clinical_background"), nina, hospital)
    senses = section(contact, "senses")

    signed_off, edited = _race(
        lambda: services.sign_off_assessment(assessment=contact, by=nina, agency=hospital),
        _save(senses, nina, hospital, {"sight": "yes"}, senses.version),
    )
    contact.refresh_from_db()
    senses.refresh_from_db()
    assert contact.status == "signed_off", signed_off
    if isinstance(edited, Exception):
        assert isinstance(edited, services.AssessmentSignedOff)
        assert senses.answers == {}
    else:
        assert edited.saved
        assert senses.updated_at <= contact.signed_off_at
