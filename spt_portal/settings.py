"""Settings for SPT Portal, read from the environment only.

Every variable is listed in docs/operations.md and .env.example. Without DATABASE_URL the
portal uses a SQLite file (the quick-start default); without REDIS_URL it expects Redis on
localhost (the quick start starts an embedded one and sets REDIS_URL itself).
"""

import ipaddress
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp import constants as csp
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

TRUE_VALUES = {"1", "true", "yes", "on"}


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in TRUE_VALUES


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a whole number, got {value!r}") from exc


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set the SECRET_KEY environment variable to a long random "
            "string (for example: python -c 'import secrets; print(secrets.token_urlsafe(50))'), "
            "or set DEBUG=1 for local development."
        )
    SECRET_KEY = "django-insecure-local-development-key-only-used-with-debug-on"  # noqa: S105

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# Public base URL used in emails and webhook URLs printed by management commands.
SITE_URL = env("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "spt_portal.apps.SPTAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_rq",
    "ninja",
    "axes",
    "spt_portal",
    "sla",
    "tickets",
    "aws_integrations",
    "incidents",
    "postmortems",
]

MIDDLEWARE = [
    "spt_portal.logs.RequestLogMiddleware",
    "spt_portal.observability.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "spt_portal.middleware.ApiTrailingSlashMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "spt_portal.middleware.RejectNulMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "spt_portal.middleware.UserPreferencesMiddleware",
    "spt_portal.middleware.ReadOnlyAuditorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into its lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "spt_portal.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "spt_portal.context_processors.portal",
            ],
        },
    },
]

WSGI_APPLICATION = "spt_portal.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend with a health check that reads the socket instead of a SELECT 1
    # round trip on every request (spt_portal/postgresql/base.py).
    DATABASES["default"]["ENGINE"] = "spt_portal.postgresql"
    # No JIT compilation: the portal's queries are short, and PostgreSQL compiled the SLA
    # scan (its row estimate is far above the rows it reads) for 7-10 ms of a 12 ms query
    # (bench/README.md). Added to the URL's ?options= or PGOPTIONS (libpq ignores PGOPTIONS
    # once options is given), unless they set jit; DATABASE_JIT_OFF=0 leaves JIT to the
    # server (PgBouncer refuses the options startup parameter: set jit = off there).
    if env_bool("DATABASE_JIT_OFF", True):
        _db_options = DATABASES["default"].setdefault("OPTIONS", {})
        _pg_options = _db_options.get("options") or os.environ.get("PGOPTIONS", "")
        if "jit" not in _pg_options:
            _db_options["options"] = f"{_pg_options} -c jit=off".strip()
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite: wait for the writer instead of failing with "database is locked" when the web
    # process and the worker write at the same moment (quick start runs both).
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
    DATABASES["default"]["CONN_MAX_AGE"] = 0

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "spt_portal.User"
# django-axes first: it refuses sign-ins from a locked-out user/address before the password
# is even checked (see "Sign-in throttling" below).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "spt_portal.auth.PortalBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": env_int("PASSWORD_MIN_LENGTH", 10)},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Internationalisation: English and Simplified Chinese, chosen from the browser, the user's
# preference, or the switcher. Times are stored in UTC and shown in the viewer's timezone.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = env("TIME_ZONE", "Asia/Shanghai")

STATIC_URL = "/static/"
STATIC_ROOT = Path(env("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS: list[Path] = []
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(BASE_DIR / "media")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Email through Django's backends; SMTP settings from the environment.
EMAIL_BACKEND = env("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "SPT Portal <support@partner.example>")
SERVER_EMAIL = env("SERVER_EMAIL", DEFAULT_FROM_EMAIL)
SUPPORT_EMAIL_ADDRESS = env("SUPPORT_EMAIL_ADDRESS", "support@partner.example")
SUPPORT_HOTLINE = env("SUPPORT_HOTLINE", "+86 400 000 0000")

# Redis and background jobs (django-rq). Three queues; see spt_portal/outbox.py for how
# jobs are handed over without ever failing the request that caused them.
REDIS_URL = env("REDIS_URL", "redis://127.0.0.1:6379/0")
JOB_QUEUES = ("default", "aws", "notifications")
RQ_QUEUES = {
    name: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 600, "ASYNC": not env_bool("RQ_SYNC", False)}
    for name in JOB_QUEUES
}
RQ_SHOW_ADMIN_LINK = True
# rq's worker, which also confirms each job's outbox row when it starts it (spt_portal/worker.py).
RQ = {"WORKER_CLASS": "spt_portal.worker.Worker"}
# How often the relay re-offers outbox rows that could not be handed to Redis (seconds).
OUTBOX_RETRY_SECONDS = env_int("OUTBOX_RETRY_SECONDS", 30)
OUTBOX_MAX_ATTEMPTS = env_int("OUTBOX_MAX_ATTEMPTS", 50)
# Rows handed to RQ are deleted this many days later (0: never); pending and failed stay.
OUTBOX_RETENTION_DAYS = env_int("OUTBOX_RETENTION_DAYS", 14)

# /metrics: when set, scrapers must send "Authorization: Bearer <token>".
METRICS_BEARER_TOKEN = env("METRICS_BEARER_TOKEN")

# AWS: credentials come from the standard boto3 chain (AWS_ACCESS_KEY_ID, AWS_PROFILE, roles).
AWS_REGION = env("AWS_REGION", "us-east-1")
AWS_ENDPOINT_URL = env("AWS_ENDPOINT_URL")
AWS_PARTNER_ACCOUNT_ID = env("AWS_PARTNER_ACCOUNT_ID")
AWS_PROFILE = env("AWS_PROFILE")
AWS_MAX_ATTEMPTS = env_int("AWS_MAX_ATTEMPTS", 5)
# The partner's credentials in the China partition (aws-cn), for Beijing/Ningxia accounts.
AWS_CN_ACCESS_KEY_ID = env("AWS_CN_ACCESS_KEY_ID")
AWS_CN_SECRET_ACCESS_KEY = env("AWS_CN_SECRET_ACCESS_KEY")
AWS_CN_PROFILE = env("AWS_CN_PROFILE")
# AWS Support sync (SPT-005).
AWS_SUPPORT_POLL_MINUTES = env_int("AWS_SUPPORT_POLL_MINUTES", 10)
AWS_SUPPORT_STALE_MINUTES = env_int("AWS_SUPPORT_STALE_MINUTES", 30)
# AWS Health (SPT-006): EventBridge -> SQS (the seed's AWS_HEALTH_QUEUE_URL), and a poll.
AWS_HEALTH_QUEUE_URL = env("AWS_HEALTH_QUEUE_URL")
AWS_HEALTH_DLQ_URL = env("AWS_HEALTH_DLQ_URL")
AWS_HEALTH_ORGANIZATION_VIEW = env_bool("AWS_HEALTH_ORGANIZATION_VIEW", True)
AWS_HEALTH_POLL_OVERLAP_MINUTES = env_int("AWS_HEALTH_POLL_OVERLAP_MINUTES", 15)
# While an event with affected customers is open, engineers are reminded to update them.
AWS_HEALTH_UPDATE_HOURS = env_int("AWS_HEALTH_UPDATE_HOURS", 4)

# --- Production security defaults (HTTPS only, behind a TLS-terminating proxy). -----------
# ALLOW_PLAIN_HTTP=1 is the one switch that allows plain HTTP, and only when every allowed
# host is a loopback name or address: the quick start, CI's smoke test and the benchmarks.
ALLOW_PLAIN_HTTP = env_bool("ALLOW_PLAIN_HTTP", False)


def _is_loopback(host: str) -> bool:
    host = host.strip("[]")
    if host in {"localhost", "testserver"}:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


if ALLOW_PLAIN_HTTP and not all(_is_loopback(h) for h in ALLOWED_HOSTS):
    raise ImproperlyConfigured(
        "ALLOW_PLAIN_HTTP=1 is only allowed when ALLOWED_HOSTS lists loopback hosts only "
        f"(localhost, 127.0.0.1, [::1]); got {ALLOWED_HOSTS}."
    )

_https = not (DEBUG or ALLOW_PLAIN_HTTP)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = _https and env_bool("SECURE_SSL_REDIRECT", True)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^health$", r"^readyz$", r"^metrics$"]
SESSION_COOKIE_SECURE = _https
CSRF_COOKIE_SECURE = _https
LANGUAGE_COOKIE_SECURE = _https
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000) if _https else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = _https
SECURE_HSTS_PRELOAD = _https and env_bool("SECURE_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# A session lasts a working day by default, and ends when the browser closes if asked.
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE_HOURS", 12) * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = env_bool("SESSION_EXPIRE_AT_BROWSER_CLOSE", False)
X_FRAME_OPTIONS = "DENY"

# Content Security Policy (django-csp): only our own scripts, styles, images and fonts; an
# inline <script> or <style> runs only with the request's nonce ({{ request.csp_nonce }});
# no framing, no plugins, forms post to us only. Style *attributes* stay allowed
# (style-src-attr): Bootstrap and our SVG charts set them, and they cannot run code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp.SELF],
        "script-src": [csp.SELF, csp.NONCE],
        "style-src": [csp.SELF, csp.NONCE],
        "style-src-attr": [csp.UNSAFE_INLINE],
        "img-src": [csp.SELF, "data:"],
        "font-src": [csp.SELF, "data:"],
        "connect-src": [csp.SELF],
        "object-src": [csp.NONE],
        "base-uri": [csp.SELF],
        "form-action": [csp.SELF],
        "frame-ancestors": [csp.NONE],
    },
}

# Sign-in throttling (django-axes): after AXES_FAILURE_LIMIT failed sign-ins for the same
# user from the same address, that pair is locked out for AXES_COOLOFF_MINUTES (HTTP 429 and
# a page saying so). A success resets the count. Attempts are kept in the database (admin:
# "Axes"); `manage.py axes_reset` unlocks everyone.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_USERNAME_FORM_FIELD = "username"
AXES_LOCKOUT_CALLABLE = "spt_portal.views.locked_out"
AXES_VERBOSE = False
# The client address (django-ipware): REMOTE_ADDR, or, behind N trusted proxies
# (AXES_PROXY_COUNT=N), the address the outermost proxy saw in X-Forwarded-For. Leave it 0
# unless a proxy sets that header: a client could otherwise choose its own address.
AXES_IPWARE_PROXY_COUNT = env_int("AXES_PROXY_COUNT", 0) or None
AXES_IPWARE_PROXY_ORDER = "right-most"
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR") if AXES_IPWARE_PROXY_COUNT else ("REMOTE_ADDR",)
)

LOG_LEVEL = env("LOG_LEVEL", "INFO")
# LOG_FORMAT=json: one JSON object per line (for Loki, CloudWatch, ELK); else plain text.
LOG_FORMAT = env("LOG_FORMAT", "plain").lower()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "spt_portal.logs.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "spt_portal.logs.json_formatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if LOG_FORMAT == "json" else "plain",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"level": "INFO"},
        # One line per request; REQUEST_LOG_LEVEL=WARNING turns them off.
        "spt_portal.requests": {"level": env("REQUEST_LOG_LEVEL", "INFO")},
        # django-axes logs every attempt at INFO; lockouts (WARNING) are what matters.
        "axes": {"level": "WARNING"},
    },
}

# /healthz calls the worker or the cron scheduler "stale" when its heartbeat is older.
HEALTH_HEARTBEAT_STALE_SECONDS = env_int("HEALTH_HEARTBEAT_STALE_SECONDS", 300)

# Tickets: reopen window, attachment limits.
TICKET_REOPEN_DAYS = env_int("TICKET_REOPEN_DAYS", 14)
TICKET_ATTACHMENT_MAX_BYTES = env_int("TICKET_ATTACHMENT_MAX_MB", 20) * 1024 * 1024
TICKET_ATTACHMENT_EXTENSIONS = set(
    env_list(
        "TICKET_ATTACHMENT_EXTENSIONS",
        "txt,log,csv,json,yaml,yml,pdf,png,jpg,jpeg,gif,webp,zip,gz,tar,7z,doc,docx,xls,xlsx,"
        "ppt,pptx,eml,har,pcap",
    )
)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Notifications: email Message-IDs use this domain; SMS through a provider with
# pre-approved templates (Chinese providers require them): "logging" (development: the
# message is only logged) or "aliyun" (Alibaba Cloud SMS, needs the aliyun-sms extra).
EMAIL_MESSAGE_ID_DOMAIN = env("EMAIL_MESSAGE_ID_DOMAIN", "spt-portal.local")
NOTIFICATION_MAX_ATTEMPTS = env_int("NOTIFICATION_MAX_ATTEMPTS", 5)
SMS_PROVIDER = env("SMS_PROVIDER", "logging")
SMS_SIGN_NAME = env("SMS_SIGN_NAME")
SMS_TEMPLATE_CRITICAL_TICKET = env("SMS_TEMPLATE_CRITICAL_TICKET", "SMS_CRITICAL_TICKET")
ALIYUN_SMS_ACCESS_KEY_ID = env("ALIYUN_SMS_ACCESS_KEY_ID")
ALIYUN_SMS_ACCESS_KEY_SECRET = env("ALIYUN_SMS_ACCESS_KEY_SECRET")
ALIYUN_SMS_ENDPOINT = env("ALIYUN_SMS_ENDPOINT", "dysmsapi.aliyuncs.com")
# Resolved tickets the customer never confirms close themselves after this many days.
TICKET_AUTO_CLOSE_DAYS = env_int("TICKET_AUTO_CLOSE_DAYS", 7)

# Incidents: an unacknowledged page is sent again every N minutes, at most M more times,
# before escalation moves on; acknowledge links in pages expire after H hours.
INCIDENT_PAGE_REPEAT_MINUTES = env_int("INCIDENT_PAGE_REPEAT_MINUTES", 5)
INCIDENT_PAGE_REPEATS = env_int("INCIDENT_PAGE_REPEATS", 3)
INCIDENT_ACK_LINK_HOURS = env_int("INCIDENT_ACK_LINK_HOURS", 24)
SMS_TEMPLATE_INCIDENT_PAGE = env("SMS_TEMPLATE_INCIDENT_PAGE", "SMS_INCIDENT_PAGE")
SMS_TEMPLATE_RULE_NOTICE = env("SMS_TEMPLATE_RULE_NOTICE", "SMS_RULE_NOTICE")
# Largest alert webhook body accepted (Alertmanager groups can be large).
ALERT_WEBHOOK_MAX_BYTES = env_int("ALERT_WEBHOOK_MAX_KB", 1024) * 1024
# Prometheus queried for incident metrics (seed 002); empty: off.
PROMETHEUS_URL = env("PROMETHEUS_URL")
PROMETHEUS_BEARER_TOKEN = env("PROMETHEUS_BEARER_TOKEN")
PROMETHEUS_TIMEOUT_SECONDS = env_int("PROMETHEUS_TIMEOUT_SECONDS", 10)
# Postmortems: alerts linked to incidents closed this many days ago are deleted
# (seed 004 "数据清理"); nothing else is ever deleted automatically. 0 switches it off.
ALERT_RETENTION_DAYS = env_int("ALERT_RETENTION_DAYS", 90)
# Action item owners are reminded this many days before the due date (and daily after).
ACTION_ITEM_REMIND_DAYS = env_int("ACTION_ITEM_REMIND_DAYS", 2)

# Email to ticket (SES receipt rule -> SNS -> POST /hooks/ses/).
SES_SNS_TOPIC_ARNS = env_list("SES_SNS_TOPIC_ARNS")
SNS_MAX_AGE_SECONDS = env_int("SNS_MAX_AGE_SECONDS", 3600)
# Mail from unknown senders: "reject" (logged, no ticket) or "triage" (an internal ticket).
EMAIL_UNKNOWN_SENDER_POLICY = env("EMAIL_UNKNOWN_SENDER_POLICY", "triage")
# Create a contact for a new address from a customer's registered domain.
EMAIL_CREATE_CONTACTS = env_bool("EMAIL_CREATE_CONTACTS", True)
# Quarantine mail whose DMARC verdict is FAIL (spam and virus FAIL always are).
EMAIL_QUARANTINE_DMARC_FAIL = env_bool("EMAIL_QUARANTINE_DMARC_FAIL", True)
EMAIL_QUARANTINE_SPF_FAIL = env_bool("EMAIL_QUARANTINE_SPF_FAIL", False)
