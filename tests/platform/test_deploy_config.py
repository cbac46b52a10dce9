"""The production settings of .env.example pass Django's deployment checklist, and
docker-compose asks the health endpoints."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

import yaml
from django.conf import settings

from tests.platform.servers import PYTHON

BASE = Path(settings.BASE_DIR)


def env_example() -> dict[str, str]:
    values = {}
    for line in (BASE / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def check_deploy(**overrides: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        **env_example(),
        "SECRET_KEY": secrets.token_urlsafe(50),
        **overrides,
    }
    return subprocess.run(  # noqa: S603 - our own manage.py
        [PYTHON, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_deployment_checklist_passes_with_the_example_production_settings():
    result = check_deploy()
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_the_checklist_would_catch_a_weakened_setting():
    result = check_deploy(SECURE_HSTS_SECONDS="0")
    assert result.returncode != 0
    assert "security.W004" in result.stderr


def test_docker_compose_health_checks_use_the_readiness_endpoint_and_the_worker_ping():
    services = yaml.safe_load((BASE / "docker-compose.yml").read_text())["services"]
    assert "/health/ready" in " ".join(services["web"]["healthcheck"]["test"])
    assert "inspect ping" in " ".join(services["worker"]["healthcheck"]["test"])
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"]
