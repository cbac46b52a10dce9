"""Signing in and out: argon2 passwords, a fresh session key, one generic error whatever
was wrong, and a lock on the account name after repeated failures."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils.html import escape

from caretrust.audit.models import Action, AuditEvent
from tests.factories import PASSWORD, UserFactory


def _sign_in(client, username, password, **extra):
    return client.post(reverse("login"), {"username": username, "password": password}, **extra)


def _session_key(client) -> str | None:
    cookie = client.cookies.get(settings.SESSION_COOKIE_NAME)
    return cookie.value if cookie else None


def _error(response) -> str:
    errors = response.context["form"].non_field_errors()
    assert len(errors) == 1
    return errors[0]


def test_signing_in_redirects_to_the_caseload(client, carol):
    assert client.get(reverse("login")).status_code == 200

    response = _sign_in(client, "carol", PASSWORD)

    assert response.status_code == 302
    assert response.url == reverse("caseload")
    assert client.get(reverse("caseload")).status_code == 200


def test_signing_in_gives_a_new_session_key(client, carol):
    client.get(reverse("login"))
    session = client.session  # the test client saves a session and sets its cookie
    session["visited"] = True
    session.save()
    before = _session_key(client)
    assert before

    _sign_in(client, "carol", PASSWORD)

    after = _session_key(client)
    assert after
    assert after != before
    assert not Session.objects.filter(session_key=before).exists()
    assert client.session["_auth_user_id"] == str(carol.pk)


def test_signing_in_is_audited(client, carol):
    _sign_in(client, "carol", PASSWORD)
    event = AuditEvent.objects.get(action=Action.LOGIN)
    assert (event.actor_id, event.actor_username) == (carol.pk, "carol")


def test_a_wrong_password_and_an_unknown_name_get_the_same_answer(client, carol):
    wrong_password = _sign_in(client, "carol", "not-the-password")
    unknown_name = _sign_in(client, "nobody-by-this-name", PASSWORD)

    assert wrong_password.status_code == unknown_name.status_code == 200
    assert _error(wrong_password) == _error(unknown_name)
    assert "Please enter a correct username and password" in _error(wrong_password)
    assert escape(_error(wrong_password)) in wrong_password.content.decode()
    assert "_auth_user_id" not in client.session


def test_failed_sign_ins_are_audited_with_the_name_tried(client, carol):
    _sign_in(client, "carol", "not-the-password")
    _sign_in(client, "nobody-by-this-name", PASSWORD)

    failed = AuditEvent.objects.filter(action=Action.LOGIN_FAILED).order_by("id")
    assert [e.detail["username"] for e in failed] == ["carol", "nobody-by-this-name"]
    assert all(e.actor_id is None for e in failed)
    assert not AuditEvent.objects.filter(action=Action.LOGIN).exists()


def test_repeated_failures_lock_the_account_name_even_against_the_right_password(client, db):
    UserFactory(username="lockable.lucy")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _sign_in(client, "lockable.lucy", "guess")

    response = _sign_in(client, "lockable.lucy", PASSWORD)

    page = response.content.decode()
    assert response.status_code == 429
    assert "too many failed attempts" in page
    assert "lockable.lucy" not in page
    assert "_auth_user_id" not in client.session
    assert client.get(reverse("caseload")).status_code == 302


def test_the_lock_follows_the_account_name_to_another_address(client, db):
    UserFactory(username="lockable.lucy")
    for n in range(settings.AXES_FAILURE_LIMIT):
        _sign_in(client, "lockable.lucy", "guess", REMOTE_ADDR=f"10.0.0.{n + 1}")

    response = _sign_in(client, "lockable.lucy", PASSWORD, REMOTE_ADDR="10.9.9.9")

    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_fewer_failures_than_the_limit_do_not_lock(client, db):
    UserFactory(username="careful.cath")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _sign_in(client, "careful.cath", "guess").status_code == 200

    response = _sign_in(client, "careful.cath", PASSWORD)

    assert response.status_code == 302
    assert "_auth_user_id" in client.session


def test_a_locked_name_does_not_lock_anyone_else(client, carol):
    UserFactory(username="lockable.lucy")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _sign_in(client, "lockable.lucy", "guess")

    assert _sign_in(client, "carol", PASSWORD).status_code == 302


def test_passwords_are_stored_with_argon2(db):
    user = UserFactory()
    user.set_password("a-brand-new-long-password")
    user.save()

    stored = get_user_model().objects.get(pk=user.pk).password
    assert stored.startswith("argon2$argon2id$")
    assert get_user_model().objects.get(pk=user.pk).check_password("a-brand-new-long-password")


def test_signing_out_with_get_is_not_allowed(carol_client):
    response = carol_client.get(reverse("logout"))

    assert response.status_code == 405
    assert carol_client.get(reverse("caseload")).status_code == 200
    assert not AuditEvent.objects.filter(action=Action.LOGOUT).exists()


def test_signing_out_with_post_signs_out(carol_client, carol):
    response = carol_client.post(reverse("logout"))

    assert response.status_code == 302
    assert response.url == reverse("login")
    caseload = carol_client.get(reverse("caseload"))
    assert caseload.status_code == 302
    assert caseload.url.startswith(reverse("login"))
    assert AuditEvent.objects.get(action=Action.LOGOUT).actor_id == carol.pk
