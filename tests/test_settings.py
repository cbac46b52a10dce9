"""Settings come from the environment, with safe production defaults, and a bad or missing
value stops the process with a message saying what is wrong."""

import os
import secrets
import string
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from caretrust import env

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _manage(*args: str, **environment: str) -> subprocess.CompletedProcess[str]:
    child_env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DEBUG", "SECRET_KEY", "SECRET_KEY_FILE", "DEBUG_FILE", "ALLOWED_HOSTS"}
    }
    child_env.update(environment)
    return subprocess.run(  # noqa: S603 - our own manage.py with fixed arguments
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_ROOT,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _random_secret() -> str:
    alphabet = string.ascii_letters + string.digits + "!@#%^&*(-_=+)"
    return "".join(secrets.choice(alphabet) for _ in range(60))


def test_production_settings_pass_the_deployment_checks():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="false",
        SECRET_KEY=_random_secret(),
        ALLOWED_HOSTS="caretrust.example.org",
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_production_without_a_secret_key_refuses_to_start():
    result = _manage("check", DEBUG="false")
    assert result.returncode != 0
    assert "SECRET_KEY is unset" in result.stderr


def test_a_debug_value_that_is_not_a_boolean_refuses_to_start():
    result = _manage("check", DEBUG="maybe", SECRET_KEY=_random_secret())
    assert result.returncode != 0
    assert "DEBUG='maybe' is not a boolean" in result.stderr


def test_a_database_that_is_not_postgresql_refuses_to_start():
    result = _manage(
        "check", DEBUG="false", SECRET_KEY=_random_secret(), DATABASE_URL="sqlite:///x"
    )
    assert result.returncode != 0
    assert "PostgreSQL only" in result.stderr


# --- the env helpers themselves ------------------------------------------------------------

NAME = "CARETRUST_TEST_SETTING"


@pytest.fixture(autouse=True)
def _clean_test_variable(monkeypatch):
    monkeypatch.delenv(NAME, raising=False)
    monkeypatch.delenv(f"{NAME}_FILE", raising=False)


def test_an_unset_variable_gives_the_default():
    assert env.string(NAME, "fallback") == "fallback"
    assert env.integer(NAME, 7) == 7
    assert env.boolean(NAME, default=True) is True
    assert env.string_list(NAME, ["a"]) == ["a"]


@pytest.mark.parametrize(("raw", "number"), [("12", 12), ("1", 1), ("", 5)])
def test_an_integer_is_read(monkeypatch, raw, number):
    monkeypatch.setenv(NAME, raw)
    assert env.integer(NAME, 5, minimum=1) == number


def test_an_integer_below_the_minimum_is_refused(monkeypatch):
    monkeypatch.setenv(NAME, "0")
    with pytest.raises(ImproperlyConfigured) as caught:
        env.integer(NAME, 5, minimum=1)
    assert str(caught.value) == f"{NAME}=0 is too small; expected at least 1."


def test_an_integer_above_the_maximum_is_refused(monkeypatch):
    monkeypatch.setenv(NAME, "65")
    assert env.integer(NAME, 8, minimum=1, maximum=65) == 65
    with pytest.raises(ImproperlyConfigured) as caught:
        env.integer(NAME, 8, minimum=1, maximum=64)
    assert str(caught.value) == f"{NAME}=65 is too large; expected at most 64."


def test_an_integer_that_is_not_a_number_is_refused(monkeypatch):
    monkeypatch.setenv(NAME, "five")
    with pytest.raises(ImproperlyConfigured) as caught:
        env.integer(NAME, 5)
    assert str(caught.value) == f"{NAME}='five' is not a whole number."


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("1", True),
        ("TRUE", True),
        (" yes ", True),
        ("on", True),
        ("0", False),
        ("false", False),
        ("No", False),
        ("off", False),
        ("", False),
    ],
)
def test_a_boolean_is_read(monkeypatch, raw, value):
    monkeypatch.setenv(NAME, raw)
    assert env.boolean(NAME, default=not value) is value


def test_a_boolean_that_is_not_one_is_refused(monkeypatch):
    monkeypatch.setenv(NAME, "maybe")
    with pytest.raises(ImproperlyConfigured, match="expected one of 1/0, true/false"):
        env.boolean(NAME, default=False)


def test_a_list_is_split_on_commas_and_blanks_dropped(monkeypatch):
    monkeypatch.setenv(NAME, " a.example, b.example ,, ")
    assert env.string_list(NAME, []) == ["a.example", "b.example"]


def test_a_value_is_read_from_the_file_named_by_the_file_variable(monkeypatch, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("  from-the-file\n")
    monkeypatch.setenv(NAME, "from-the-environment")
    monkeypatch.setenv(f"{NAME}_FILE", str(secret))

    assert env.string(NAME) == "from-the-file"


def test_an_integer_can_come_from_a_file(monkeypatch, tmp_path):
    number = tmp_path / "number"
    number.write_text("42\n")
    monkeypatch.setenv(f"{NAME}_FILE", str(number))

    assert env.integer(NAME, 1) == 42


def test_an_unreadable_file_is_reported_with_its_path_and_the_reason(monkeypatch, tmp_path):
    missing = tmp_path / "no-such-file"
    monkeypatch.setenv(f"{NAME}_FILE", str(missing))

    with pytest.raises(ImproperlyConfigured) as caught:
        env.string(NAME)

    message = str(caught.value)
    assert f"{NAME}_FILE points at {str(missing)!r}, which cannot be read" in message
    assert "No such file or directory" in message
    assert f"expected a readable file holding the value of {NAME}" in message


def test_a_directory_instead_of_a_file_is_reported_as_unreadable(monkeypatch, tmp_path):
    monkeypatch.setenv(f"{NAME}_FILE", str(tmp_path))
    with pytest.raises(ImproperlyConfigured, match="cannot be read"):
        env.string(NAME)


@pytest.mark.django_db
def test_a_statement_run_more_than_five_times_is_prepared_on_the_server():
    """Planning was most of PostgreSQL's work for an API read: hot statements are prepared."""
    from django.db import connection

    with connection.cursor() as cursor:
        for _ in range(6):
            cursor.execute("SELECT count(*) FROM auth_user WHERE id = %s", [1])
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ["SELECT count(*) FROM auth_user WHERE id = $1%"],
        )
        assert cursor.fetchone()[0] == 1


def test_prepared_statements_can_be_turned_off_for_a_transaction_mode_pooler():
    show = "from django.conf import settings; print(settings.DATABASES['default']['OPTIONS'])"
    on = _manage("shell", "-c", show, DEBUG="true")
    off = _manage("shell", "-c", show, DEBUG="true", DATABASE_PREPARED_STATEMENTS="false")

    assert "'prepare_threshold': 5" in on.stdout, on.stderr
    assert "prepare_threshold" not in off.stdout and off.returncode == 0, off.stderr
