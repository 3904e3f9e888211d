"""Settings, read from the environment (django-environ).

With no environment at all the app runs embedded: SQLite, Celery's filesystem transport and
file-based email, all under ``var/``. Production sets DATABASE_URL, CELERY_BROKER_URL and
EMAIL_URL (see README).
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("CLINIC_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
# A local .env is convenient for development; the environment always wins.
if (BASE_DIR / ".env").exists():
    env.read_env(str(BASE_DIR / ".env"))

DEBUG = env.bool("DEBUG", default=False)

_DEV_SECRET_KEY = "dev-only-insecure-secret-key-do-not-use-in-production"
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY in the environment, or DEBUG=1 for local "
            "development (which uses a throw-away development key)."
        )
    SECRET_KEY = _DEV_SECRET_KEY

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "clinic",  # its management commands: backup, restore (clinic/backups.py)
    "patients",
    "sessions.apps.TreatmentSessionsConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "clinic.urls"
WSGI_APPLICATION = "clinic.wsgi.application"
ASGI_APPLICATION = "clinic.asgi.application"

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
    {
        # Templates rendered many times a page, where Django's engine is the cost
        # (clinic/jinja2.py): render_to_string(..., using="jinja2").
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [BASE_DIR / "templates" / "jinja2"],
        "APP_DIRS": False,
        "OPTIONS": {"environment": "clinic.jinja2.environment"},
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server, the worker and beat read while one of them writes; IMMEDIATE
    # takes the write lock at BEGIN so two writers queue instead of failing with "locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DATABASES["default"]["ATOMIC_REQUESTS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Where `manage.py backup` writes when not told (docs/operations.md). They hold every patient's
# record: keep them off the web root, and copy them off the machine.
BACKUP_DIR = Path(env.str("BACKUP_DIR", default=str(VAR_DIR / "backups")))

# --- Auth -----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# --- Time and language ----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="America/New_York")  # the clinic's zone, for display
USE_I18N = True
USE_TZ = True  # stored in UTC

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# --- Email ----------------------------------------------------------------------------------
# Four slashes: django-environ drops the first slash of the path (three gave a relative path).
vars().update(env.email_url("EMAIL_URL", default=f"filemail:///{VAR_DIR / 'mail'}"))
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)
# A neutral sender: at a ketamine clinic the clinic's own name can disclose care.
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Appointments <appointments@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Celery ---------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    # kombu's filesystem transport: producers write to data_folder_out, consumers read from
    # data_folder_in; for one queue both must be the same folder.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),  # default is ./control in the cwd
        # The default 1 s poll delivered about one message per second per worker process.
        "polling_interval": 0.1,
        "store_processed": False,
    }
else:
    # Well above the longest retry backoff of a send task, so a late-acked message is not
    # redelivered while its task is still legitimately running.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 90
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery closes a worker's database connections before and after every task unless this is
# set; then it recycles them every this-many tasks and clinic/celery.py applies CONN_MAX_AGE
# and the health checks, as between two web requests. Reconnecting twice per send batch cost
# PostgreSQL a new backend and its cold caches each time.
CELERY_DB_REUSE_MAX = 500
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {}

# --- Clinic policy --------------------------------------------------------------------------
# Thresholds are clinic policy, not medical advice. Defaults are documented in README and in
# sessions/safety.py (Thresholds); override any key here.
CLINIC_SAFETY = env.json("CLINIC_SAFETY", default={})

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# --- Clinician pages (issue 4) --------------------------------------------------------------
# Static files are served by the app itself, in production too (no CDN: clinics can be offline
# and the Content-Security-Policy forbids third-party hosts). WhiteNoise serves STATIC_ROOT
# (`manage.py collectstatic`) right after the security middleware; with DEBUG it also serves
# straight from the finders. Files are not renamed with hashes, so `{% static %}` works without
# a collectstatic manifest (the test suite and `make run` never run collectstatic).
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "whitenoise.middleware.WhiteNoiseMiddleware",
)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Page size of the patient search.
PATIENT_SEARCH_PAGE_SIZE = env.int("PATIENT_SEARCH_PAGE_SIZE", default=25)
# Sessions per page of a patient's history timeline (the charts always show every session).
HISTORY_TIMELINE_PAGE_SIZE = env.int("HISTORY_TIMELINE_PAGE_SIZE", default=10)
# The history page's cache (patients/history_cache.py): rendered session cards and each
# patient's charts, keyed by change stamps that database triggers replace on every change. Two
# tiers: this process's memory ("history", an hour at most), in front of a table in the
# clinic's own database that every process and restart shares (HistoryCacheEntry, entries
# pruned HISTORY_CACHE_DAYS after they were stored). Health information goes nowhere the
# database does not already hold it. About 3 KB a card; 20 KB for the charts of a patient with
# 500 sessions.
HISTORY_CACHE_DAYS = env.int("HISTORY_CACHE_DAYS", default=30)
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "history": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "history",
        "TIMEOUT": 3600,
        "OPTIONS": {"MAX_ENTRIES": env.int("HISTORY_CACHE_ENTRIES", default=10_000)},
    },
}
# Rows per dashboard list (today's sessions page by page; the other lists show this many and
# say how many more there are).
DASHBOARD_LIST_SIZE = env.int("DASHBOARD_LIST_SIZE", default=25)

# --- Reminders (issue 3: transactional outbox + Celery beat) ---------------------------------
# Clinic policy for reminder emails; every key and its default is in sessions/reminders.py
# (ReminderSettings): offsets, neutral sender name, preparation text, lease, retries.
CLINIC_REMINDERS = env.json("CLINIC_REMINDERS", default={})
CELERY_BEAT_SCHEDULE["reminders-dispatch-due"] = {
    "task": "sessions.reminder_dispatch_due",
    # Every minute; tests shorten it to watch a real beat process dispatch.
    "schedule": env.float("REMINDERS_DISPATCH_INTERVAL", default=60.0),
    "options": {"expires": 55},  # a tick that waited a minute is superseded by the next one
}
CELERY_BEAT_SCHEDULE["history-cache-prune"] = {
    "task": "patients.history_cache_prune",
    "schedule": 24 * 3600.0,
    "options": {"expires": 3600},
}
# Today's patients' histories are rebuilt in the background after they change, so that a
# clinician's first view of one is a read (patients/history_cache.py, warm).
CELERY_BEAT_SCHEDULE["history-cache-warm-today"] = {
    "task": "patients.history_cache_warm_today",
    "schedule": env.float("HISTORY_CACHE_WARM_SECONDS", default=300.0),
}

# --- Security and audit (issue 5) -----------------------------------------------------------
# Everything below belongs to the security/audit work; README "Security" documents each knob.
from datetime import timedelta  # noqa: E402

from csp.constants import NONE, SELF  # noqa: E402

INSTALLED_APPS += [
    "simple_history",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "csp",
    "audit",
    "security",
]
# After authentication and messages (the timeout tells the user why they were logged out).
_auth_at = MIDDLEWARE.index("django.contrib.messages.middleware.MessageMiddleware") + 1
MIDDLEWARE[_auth_at:_auth_at] = [
    "django_otp.middleware.OTPMiddleware",
    "security.middleware.SessionTimeoutMiddleware",
    "security.middleware.TwoFactorRequiredMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "audit.middleware.CurrentRequestMiddleware",  # the actor and IP of the security log
]
MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
                  "security.middleware.RejectNullCharactersMiddleware")
MIDDLEWARE += [
    "csp.middleware.CSPMiddleware",
    "security.middleware.NoStoreMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses locked-out user+IP pairs
    "security.backends.ClinicModelBackend",  # ModelBackend that refuses demo accounts
]

# Lockout per (username, IP) pair after 5 failures, lifted after a cool-off: an attacker cannot
# lock a nurse out of every workstation, and nobody is locked out forever.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "security/locked_out.html"
AXES_VERBOSE = False

# Idle and absolute session lifetimes (security.middleware.SessionTimeoutMiddleware).
SESSION_IDLE_TIMEOUT = timedelta(minutes=env.int("SESSION_IDLE_TIMEOUT_MINUTES", default=15))
SESSION_ABSOLUTE_TIMEOUT = timedelta(hours=env.int("SESSION_ABSOLUTE_TIMEOUT_HOURS", default=12))
SESSION_COOKIE_AGE = int(SESSION_ABSOLUTE_TIMEOUT.total_seconds())
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# Roles that must pass a TOTP second factor (superusers always do).
TWO_FACTOR_REQUIRED_GROUPS = ("Clinician", "Clinic admin")
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="Clinic session tracker")
BACKUP_CODE_COUNT = 10

# The history keeps every version; reverting from the admin would bypass the services' rules.
SIMPLE_HISTORY_REVERT_DISABLED = True

# HTTPS. Behind a TLS-terminating proxy set SECURE_PROXY_SSL_HEADER=1 (the proxy must set
# X-Forwarded-Proto and strip it from clients).
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# django-csp 4 format: no inline scripts or styles, nothing from other origins.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    },
}
