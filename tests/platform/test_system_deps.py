"""scripts/system-deps decides what a fresh machine lacks and what to do about it.

Run with a list of "installed" packages it is pointed at (SYSTEM_DEPS_INSTALLED), a pretended
user id and a dry run, so nothing is installed or removed on this machine."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.conf import settings

SCRIPT = Path(settings.BASE_DIR) / "scripts" / "system-deps"
ALL = [
    "libpango-1.0-0",
    "libpangoft2-1.0-0",
    "libharfbuzz-subset0",
    "chromium",
    "fonts-liberation",
]


def run(
    tmp_path: Path, *args: str, installed: list[str], uid: int, path: str | None = None
) -> subprocess.CompletedProcess[str]:
    listing = tmp_path / "installed.txt"
    listing.write_text("".join(f"{p}\n" for p in installed))
    env = {
        "PATH": path or os.environ["PATH"],
        "SYSTEM_DEPS_INSTALLED": str(listing),
        "SYSTEM_DEPS_UID": str(uid),
        "SYSTEM_DEPS_DRY_RUN": "1",
    }
    return subprocess.run(  # noqa: S603 - our own script
        ["/bin/bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, check=False
    )


def test_nothing_is_done_when_every_package_is_installed(tmp_path: Path) -> None:
    result = run(tmp_path, "test", installed=ALL, uid=1000)
    assert result.returncode == 0
    assert result.stdout == result.stderr == ""


def test_root_installs_only_the_missing_packages(tmp_path: Path) -> None:
    result = run(tmp_path, "test", installed=ALL[:3], uid=0)
    assert result.returncode == 0
    assert "would run: apt-get install -y --no-install-recommends chromium fonts-liberation" in (
        result.stdout
    )
    assert "libpango" not in result.stdout.split("would run: apt-get install")[1]


def test_anyone_else_is_stopped_at_once_with_the_one_command_to_run(tmp_path: Path) -> None:
    result = run(tmp_path, "test", installed=ALL[:4], uid=1000)
    assert result.returncode == 1
    assert "sudo apt-get install -y --no-install-recommends fonts-liberation" in result.stderr
    assert "would run" not in result.stdout


def test_make_run_needs_only_weasyprints_libraries_not_the_browser(tmp_path: Path) -> None:
    assert run(tmp_path, "run", installed=ALL[:3], uid=1000).returncode == 0
    result = run(tmp_path, "run", installed=ALL[1:], uid=1000)
    assert result.returncode == 1
    assert "install -y --no-install-recommends libpango-1.0-0\n" in result.stderr


def test_without_node_and_npm_it_says_so(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("grep", "id", "dpkg-query"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    result = run(tmp_path, "test", installed=ALL, uid=0, path=str(bin_dir))
    assert result.returncode == 1
    assert "needs Node.js and npm" in result.stderr


@pytest.mark.parametrize("argument", ["", "everything"])
def test_an_unknown_purpose_is_refused(tmp_path: Path, argument: str) -> None:
    result = run(tmp_path, *([argument] if argument else []), installed=ALL, uid=0)
    assert result.returncode == 2
    assert "usage" in result.stderr


def test_the_machine_running_the_suite_has_everything_the_script_checks() -> None:
    """The real decision on this machine (dpkg asked for real): nothing missing."""
    result = subprocess.run(  # noqa: S603 - our own script
        [str(SCRIPT), "test"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
