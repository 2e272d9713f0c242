"""Settings for finops, from the environment. One code path for both modes:

- embedded (default, a laptop): SQLite under var/, Celery on kombu's filesystem transport under var/,
  file cache and file email under var/;
- production: DATABASE_URL (PostgreSQL), REDIS_URL (Celery broker + cache), SMTP via EMAIL_HOST.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
# A developer checkout's .env (written by `make install`: DJANGO_DEBUG=1); never overrides the real
# environment, and production has none.
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

VAR_DIR = Path(env.str("FINOPS_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off.")
    SECRET_KEY = "insecure-development-key-only-with-DJANGO_DEBUG-on"
# Absolute links in emails (budget alerts, digests) point here; a local demo (DEMO_PORT) links to its own port.
SITE_URL = env.str("SITE_URL", default=f"http://127.0.0.1:{env.str('DEMO_PORT', default='8000')}").rstrip("/")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_celery_beat",
    "axes",
    "finops.core",
    "finops.accounts",
    "finops.usage",
    "finops.demo",
    # Receivers of finops.core.signals run in this order: after an ingest the derived data (carbon rollup,
    # forecasts, budgets) is queued before the dashboards are re-warmed from it.
    "finops.carbon",
    "finops.forecasting",
    "finops.budgets",
    "finops.commitments",
    "finops.web",
    "finops.api",
    "pricing",
    "optimizer",
    "optimizer.rightsizing",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "finops.web.security.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a lockout raised by the authentication backend into the lockout response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "finops.urls"
WSGI_APPLICATION = "finops.wsgi.application"

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
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
SQLITE_PATH = VAR_DIR / "finops.sqlite3"
DATABASES = {"default": env.db_url_config(env.str("DATABASE_URL", default="") or f"sqlite:///{SQLITE_PATH}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            # WAL lets dashboards read while an ingest transaction writes; IMMEDIATE avoids
            # lock-upgrade deadlocks between the web process and workers.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
        }
    )
    # A file, not :memory:, so a real Celery worker started by the tests sees the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-finops.sqlite3")}
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DJANGO_CONN_MAX_AGE", default=60))
    postgres = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
    if postgres and not env.bool("FINOPS_PG_JIT", default=False):
        # JIT compilation costs the dashboards' rollup aggregates more than it saves once their estimated cost
        # passes jit_above_cost (a large organization): an overview query of a 5M-line-item organization took
        # 206 ms compiled (51 ms of it JIT) against 134 ms not; more when it also optimizes. FINOPS_PG_JIT=1
        # leaves the server's setting.
        options = DATABASES["default"].setdefault("OPTIONS", {})
        options["options"] = f"{options.get('options', '')} -c jit=off".strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: Celery broker and cache when REDIS_URL is set -----------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
# Seconds to wait for Redis before treating it as down: pages then render from the database (cache misses) and
# uploads are refused at once ("the task queue is unavailable") instead of hanging.
REDIS_TIMEOUT = env.float("FINOPS_REDIS_TIMEOUT", default=2.0)
_REDIS_CACHE_OPTIONS = {"socket_connect_timeout": REDIS_TIMEOUT, "socket_timeout": REDIS_TIMEOUT, "retry_after": 5}
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "finops.core.cache.ResilientRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": _REDIS_CACHE_OPTIONS,
        }
    }
else:
    # File cache: shared by the web process and the workers, unlike locmem.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# Sessions are read from their own cache, not the database: a logged-in page never writes to the database just
# to keep its session. Embedded: files under var/sessions. Production: Redis in front of the database
# (cached_db), so sessions outlive a Redis restart or outage and logins keep working without it.
if REDIS_URL:
    CACHES["sessions"] = {
        "BACKEND": "finops.core.cache.ResilientRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "session",
        "OPTIONS": _REDIS_CACHE_OPTIONS,
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CACHES["sessions"] = {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": str(VAR_DIR / "sessions"),
        "OPTIONS": {"MAX_ENTRIES": 1_000_000},
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cache"
SESSION_CACHE_ALIAS = "sessions"

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_DIR = VAR_DIR / "broker"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {
        "visibility_timeout": 3600,
        "socket_connect_timeout": REDIS_TIMEOUT,
        # Above the worker's BRPOP wait (1 s): only a Redis that stopped answering trips it.
        "socket_timeout": max(REDIS_TIMEOUT, 3.0),
    }
else:
    CELERY_BROKER_URL = "filesystem://localhost/"  # a host name (unused) keeps kombu from warning
    for sub in ("queue", "processed", "control"):
        (CELERY_BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "processed_folder": str(CELERY_BROKER_DIR / "processed"),
        # kombu's default is ./control, relative to wherever the process was started.
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=REDIS_URL or None)
# Nothing reads task results (jobs, runs and chunks record their state in the database). Stored, every enqueue
# would subscribe the sender to a Redis pub/sub channel, and with Redis down retry for 20 s and then leave the
# web process's Celery app broken until a restart.
CELERY_TASK_IGNORE_RESULT = env.bool("CELERY_TASK_IGNORE_RESULT", default=True)
# A message that cannot reach the broker fails within about a second (the caller says the queue is unavailable)
# rather than retrying for long; with a connect timeout of REDIS_TIMEOUT per attempt.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}
CELERY_BROKER_CONNECTION_TIMEOUT = REDIS_TIMEOUT
# Queues, so that a long job of one kind never delays another: ingest (uploads, deliveries), forecasts (chunked
# refreshes), optimizer (commitment solves: minutes), default (everything else: budgets, carbon, anomaly digest,
# dashboards, price catalogs, commitment expiry alerts). Production runs a worker per queue (deploy/Procfile);
# the embedded demo's single worker consumes all four (the top-level Procfile).
FINOPS_TASK_QUEUES = ("ingest", "forecasts", "optimizer", "default")
CELERY_TASK_QUEUES = [Queue(name) for name in FINOPS_TASK_QUEUES]  # a worker started without -Q consumes all
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "usage.*": {"queue": "ingest"},
    "forecasting.anomaly_digest": {"queue": "default"},  # an email: not behind a nightly refresh
    "forecasting.*": {"queue": "forecasts"},
    "optimizer.*": {"queue": "optimizer"},
}
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=1800)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=2100)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Synced into the database scheduler at beat start; edit times in the admin (Periodic tasks).
CELERY_BEAT_SCHEDULE = {
    "refresh-price-catalogs": {"task": "pricing.refresh_catalogs", "schedule": 24 * 3600.0},
    # Ingest jobs a worker died in without requeuing them (finops.usage.services.ingest_jobs_recover).
    "recover-ingest-jobs": {"task": "usage.ingest_jobs_recover", "schedule": 600.0},
    # Line-item retention (FINOPS_LINE_ITEM_RETENTION_MONTHS; nothing happens at 0).
    "prune-line-items-daily": {"task": "usage.line_items_prune", "schedule": crontab(hour=4, minute=15)},
    "refresh-forecasts-nightly": {"task": "forecasting.refresh_all", "schedule": crontab(hour=2, minute=0)},
    "anomaly-digest-daily": {"task": "forecasting.anomaly_digest", "schedule": crontab(hour=7, minute=0)},
    "evaluate-budgets-daily": {"task": "budgets.evaluate_all", "schedule": crontab(hour=3, minute=0)},
    # 90/30/7-day expiry alerts of existing reservations and savings plans, each exactly once.
    "commitment-expiry-alerts-daily": {"task": "commitments.expiry_alerts", "schedule": crontab(hour=6, minute=30)},
    "spend-digest-weekly": {
        "task": "budgets.weekly_digest",
        "schedule": crontab(hour=8, minute=0, day_of_week="mon"),
    },
}
CELERY_TIMEZONE = "UTC"
# After each ingest: refresh carbon, forecasts, budgets and dashboards of the organization (ingest_committed).
FINOPS_INGEST_FOLLOWUPS = env.bool("FINOPS_INGEST_FOLLOWUPS", default=True)

# --- Email ----------------------------------------------------------------------------------
EMAIL_HOST = env.str("EMAIL_HOST", default="")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env.int("EMAIL_PORT", default=25)
    EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
    EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
    EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
    EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(VAR_DIR / "mail")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="finops@localhost")

# --- Auth, i18n, static ---------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
# Login lockout (django-axes): after FINOPS_LOGIN_FAILURE_LIMIT failed logins for one username, or from one
# client address, further logins for it are refused (HTTP 429) for FINOPS_LOGIN_LOCKOUT_MINUTES; a successful
# login resets the count. The client address is REMOTE_ADDR, or, behind FINOPS_TRUSTED_PROXY_COUNT proxies
# that append to it, taken from X-Forwarded-For.
AUTHENTICATION_BACKENDS = [
    "finops.accounts.backends.LoginLockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("FINOPS_LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("FINOPS_LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_DISABLE_ACCESS_LOG = True  # successful logins are not written down (the user's last_login is)
# Failed attempts are counted in Redis when there is one (atomic across processes); the embedded mode counts
# them in the database, skipping the count rather than failing a login while an ingest holds SQLite's lock.
AXES_HANDLER = (
    "axes.handlers.cache.AxesCacheHandler" if REDIS_URL else "finops.accounts.lockout.BestEffortDatabaseHandler"
)
AXES_CACHE = "sessions"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_IPWARE_PROXY_COUNT = env.int("FINOPS_TRUSTED_PROXY_COUNT", default=0) or None
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR") if AXES_IPWARE_PROXY_COUNT else ("REMOTE_ADDR",)
)
AXES_VERBOSE = False
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Under DEBUG, serve straight from static/ so a collectstatic is not needed after every edit.
WHITENOISE_USE_FINDERS = DEBUG
MEDIA_ROOT = VAR_DIR / "media"
FILE_UPLOAD_TEMP_DIR = None
# The upload limit is applied while a body streams in, before its bytes reach the next handlers' files.
FILE_UPLOAD_HANDLERS = [
    "finops.usage.uploads.UploadLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# --- HTTPS and browser security ---------------------------------------------------------------------------------
# With DJANGO_DEBUG off the defaults are those of a site served over HTTPS only (what `check --deploy` asks);
# each can be set from the environment. DJANGO_DEBUG=1 (a laptop on plain http) turns the HTTPS-only ones off.
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # the pages' scripts read it to send AJAX POSTs
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # load balancers probe over plain HTTP
SESSION_COOKIE_SECURE = env.bool("DJANGO_SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("DJANGO_CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=not DEBUG)
# Behind a proxy or load balancer that terminates TLS: trust its X-Forwarded-Proto. Only set this when the proxy
# overwrites the header, otherwise a client could claim https.
if env.bool("DJANGO_BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# Content-Security-Policy of every response (finops.web.security). Scripts come only from this site (Plotly is
# served locally, charts read their data from JSON script elements); Plotly writes inline styles.
FINOPS_CONTENT_SECURITY_POLICY = env.str(
    "FINOPS_CONTENT_SECURITY_POLICY",
    default=(
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
        "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "COERCE_DECIMAL_TO_STRING": True,
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"client_errors_without_traceback": {"()": "finops.core.log_filters.ClientErrorsWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.request": {"filters": ["client_errors_without_traceback"]},
        # Every login writes an INFO line per attempt; failures and lockouts are WARNING.
        "axes": {"level": "WARNING"},
    },
}

# Ingest: where uploads and deliveries are kept while jobs run; rows per chunk.
FINOPS_INGEST_DIR = VAR_DIR / "ingest"
FINOPS_INGEST_CHUNK_ROWS = env.int("FINOPS_INGEST_CHUNK_ROWS", default=50_000)
# A delivery of several files and at least this many bytes is loaded in parts (its files in up to
# FINOPS_INGEST_FANOUT_PARTS groups of about equal bytes), one task each, in parallel across the ingest workers
# (PostgreSQL only); set it above your largest delivery to load every delivery in one task.
FINOPS_INGEST_FANOUT_MIN_BYTES = env.int("FINOPS_INGEST_FANOUT_MIN_BYTES", default=256 * 1024 * 1024)
FINOPS_INGEST_FANOUT_PARTS = env.int("FINOPS_INGEST_FANOUT_PARTS", default=8)
# Line items of billing periods starting more than this many months before the current month are removed by
# ``prune_line_items`` and its nightly task (PostgreSQL: month partitions dropped); the rollups stay. 0: keep all.
FINOPS_LINE_ITEM_RETENTION_MONTHS = env.int("FINOPS_LINE_ITEM_RETENTION_MONTHS", default=0)
# Limits on what an ingest accepts: the bytes of one upload (pages and API; 413 above it), and what a compressed
# file may expand to, in bytes and as a multiple of its size on disk (a zip bomb is refused by name).
FINOPS_MAX_UPLOAD_BYTES = env.int("FINOPS_MAX_UPLOAD_BYTES", default=2 * 1024**3)
FINOPS_MAX_DECOMPRESSED_BYTES = env.int("FINOPS_MAX_DECOMPRESSED_BYTES", default=20 * 1024**3)
FINOPS_MAX_DECOMPRESSION_RATIO = env.int("FINOPS_MAX_DECOMPRESSION_RATIO", default=100)
# Spot prices whose newest sample is older than this many days are not used to plan spot (unless a run opts in).
FINOPS_SPOT_MAX_AGE_DAYS = env.int("FINOPS_SPOT_MAX_AGE_DAYS", default=30)
# Tag keys that name a line item's team, first match wins (case-sensitive, as providers keep tags). Only these
# make teams: cost-center or business-unit tags with hundreds of values are grouped with tag:KEY instead.
FINOPS_TEAM_TAG_KEYS = env.list("FINOPS_TEAM_TAG_KEYS", default=["team", "Team"])

# --- REST API (finops.api): token + session auth, tenant scoping, one error shape, throttles,
# OpenAPI schema at /api/v1/schema/ and docs at /api/docs/ from local static files (no CDN). ---------------
INSTALLED_APPS += ["drf_spectacular", "drf_spectacular_sidecar"]
REST_FRAMEWORK.update(
    {
        "DEFAULT_AUTHENTICATION_CLASSES": [
            "finops.api.authentication.TokenAuthentication",
            "rest_framework.authentication.SessionAuthentication",
        ],
        "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
        "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
        "EXCEPTION_HANDLER": "finops.api.errors.api_exception_handler",
        "DEFAULT_THROTTLE_RATES": {
            "token": env.str("FINOPS_API_TOKEN_RATE", default="600/min"),
            "user": env.str("FINOPS_API_USER_RATE", default="1200/min"),
        },
    }
)
SPECTACULAR_SETTINGS = {
    "TITLE": "finops API",
    "DESCRIPTION": "Costs, line items, ingest jobs, price catalogs. Auth: `Authorization: Token <key>` or session.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Choice sets that share a field name ("action": rightsizing rows, team mappings; "kind": budget alerts,
    # commitments and purchases): each enum gets its own name.
    "ENUM_NAME_OVERRIDES": {
        "TeamMappingActionEnum": ["team", "merge", "ignore"],
        "BudgetAlertKindEnum": ["actual", "forecast"],
        "CommitmentKindEnum": ["reservation", "savings_plan"],
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "finops.api.schema.add_error_responses",
    ],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}
# Idempotency-Key records count for this long, then the key may start new work.
FINOPS_IDEMPOTENCY_TTL_HOURS = env.int("FINOPS_IDEMPOTENCY_TTL_HOURS", default=24)
