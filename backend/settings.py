"""Settings of the backend project.

The database comes from DATABASE_URL (environment, or a .env file at the project
root) through dj-database-url; without it the project runs on an embedded SQLite
file at DB_PATH, so a newcomer needs no database server. A DATABASE_URL that cannot
work (empty, malformed, another kind of database, no database name) stops every
command with ImproperlyConfigured, which manage.py prints as one line (exit 2).
"""

import os
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent
DEVELOPMENT_SECRET_KEY = "django-insecure-dev-only-change-me"

# Real environment variables win over .env, so CI and deploys can override it.
load_dotenv(BASE_DIR / ".env", override=False)

# Production is the default: DEBUG only with DJANGO_DEBUG=1 (the README's local set-up).
DEBUG = os.environ.get("DJANGO_DEBUG") == "1"
# Without DJANGO_SECRET_KEY, commands (sqlmigrate_up on a fresh checkout, tests) still work
# with a development key, but backend.serving refuses to serve with it unless DEBUG is on.
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or DEVELOPMENT_SECRET_KEY
# Empty without the variable: with DEBUG off Django then refuses every host, and
# runserver refuses to start; DEBUG allows localhost by itself.
ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(",") if h.strip()
]

# Cookies over HTTPS only, unless DEBUG. The redirect to HTTPS and HSTS (hard to undo in
# browsers) are asked for, since a proxy in front may already do them; check --deploy
# warns until they are.
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = not DEBUG
SECURE_SSL_REDIRECT = os.environ.get("DJANGO_SECURE_SSL_REDIRECT") == "1"
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_SECURE_HSTS_SECONDS") or 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = os.environ.get("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", "1") == "1"
SECURE_HSTS_PRELOAD = os.environ.get("DJANGO_SECURE_HSTS_PRELOAD", "1") == "1"
if os.environ.get("DJANGO_SECURE_PROXY_SSL_HEADER") == "1":
    # Behind a proxy that terminates TLS and sets X-Forwarded-Proto (and strips the client's).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Error pages and reports hide credentials even with DEBUG on (backend/reporting.py).
DEFAULT_EXCEPTION_REPORTER = "backend.reporting.CredentialCleansingReporter"
DEFAULT_EXCEPTION_REPORTER_FILTER = "backend.reporting.CredentialCleansingFilter"
# Django's default logging, with that filter first on each of the django logger's
# handlers: it rewrites the record itself, so whatever handler a deploy adds to the root
# logger gets it cleansed too. The root logger is left alone (the sqlmigrations commands
# rely on it having no handler).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
        "require_debug_true": {"()": "django.utils.log.RequireDebugTrue"},
        "hide_credentials": {"()": "backend.reporting.HideCredentials"},
    },
    "handlers": {
        "console": {
            "level": "INFO",
            "filters": ["hide_credentials", "require_debug_true"],
            "class": "logging.StreamHandler",
        },
        "mail_admins": {
            "level": "ERROR",
            "filters": ["hide_credentials", "require_debug_false"],
            "class": "django.utils.log.AdminEmailHandler",
        },
    },
    "loggers": {"django": {"handlers": ["console", "mail_admins"], "level": "INFO"}},
}

# backend first: its runserver command (backend/serving.py's check) overrides staticfiles'.
INSTALLED_APPS = [
    "backend",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "sqlmigrations",
]

# JsonErrorsMiddleware first: it sees every API response, even one another middleware made.
MIDDLEWARE = [
    "backend.api_errors.JsonErrorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "backend.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

WSGI_APPLICATION = "backend.wsgi.application"

DB_PATH = Path(os.environ.get("DB_PATH") or BASE_DIR / "db.sqlite3")
SUPPORTED_ENGINES = ("django.db.backends.postgresql", "django.db.backends.sqlite3")
URL_EXAMPLES = "postgres://USER:PASSWORD@HOST:5432/NAME or sqlite:///PATH"


def database_from_url(url: str | None) -> dj_database_url.DBConfig:
    """The database settings DATABASE_URL gives; unset means the SQLite file at DB_PATH.

    Messages never quote the URL: it may hold a password.
    """
    if url is None:
        return dj_database_url.parse(f"sqlite:///{DB_PATH.resolve()}", conn_max_age=0)
    url = url.strip()
    if not url:
        # A deploy that lost its URL must not quietly migrate a new, empty SQLite file.
        raise ImproperlyConfigured(
            "DATABASE_URL is set but empty: unset it to use the SQLite file at DB_PATH, "
            f"or set it to {URL_EXAMPLES}"
        )
    scheme = urlsplit(url).scheme if "://" in url else ""
    try:
        config = dj_database_url.parse(url, conn_max_age=0)
    except dj_database_url.UnknownSchemeError:
        if not scheme:
            raise ImproperlyConfigured(
                f"DATABASE_URL is not a database URL: expected {URL_EXAMPLES}"
            ) from None
        config = dj_database_url.DBConfig()
    except ValueError:  # dj_database_url.ParseError: a bad port, an unquoted character
        raise ImproperlyConfigured(
            "DATABASE_URL is not a valid URL: check that the port is a number and that "
            "special characters in the user name or password are %-encoded (a space is %20)"
        ) from None
    if config.get("ENGINE") not in SUPPORTED_ENGINES:
        raise ImproperlyConfigured(
            f"DATABASE_URL uses {scheme}://, which this project does not support: "
            f"it runs on PostgreSQL or SQLite ({URL_EXAMPLES})"
        )
    if not config.get("NAME") and not config.get("OPTIONS", {}).get("service"):
        raise ImproperlyConfigured(
            f"DATABASE_URL names no database: give its name after the host, as in {URL_EXAMPLES}"
        )
    return config


DATABASES = {"default": database_from_url(os.environ.get("DATABASE_URL"))}

SQLMIGRATIONS_DIRS = [BASE_DIR / "backend" / "db" / "migrations"]
SQLMIGRATIONS_BACKUP_DIR = Path(os.environ.get("SQLMIGRATIONS_BACKUP_DIR") or BASE_DIR / "backups")
# SEED_DEMO_DATA=0 keeps 002_seed_demo_data off this database for good (production):
# it is then never applied and never reported as pending.
if os.environ.get("SEED_DEMO_DATA", "1") == "0":
    SQLMIGRATIONS_SKIP_VERSIONS = {"default": [2]}
# sqlmigrate_lint (squawk): rules this project leaves out, each with the reason.
# 001_initial_schema.up.sql is applied wherever the backend runs, so it cannot take a
# suppression comment (its checksum would change): its two findings are answered here.
SQLMIGRATIONS_LINT_EXCLUDE = {
    "ban-char-field": "char(3) holds ISO 4217 currency codes, three letters by definition",
    "require-statement-timeout": "the backend's migrations create tables and write the "
    "demo rows; none scans a table that could be large",
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# JSON bodies of the API, and admin forms, above this many bytes answer 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
