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

# Real environment variables win over .env, so CI and deploys can override it.
load_dotenv(BASE_DIR / ".env", override=False)

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "django-insecure-dev-only-change-me")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = [
    h for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1").split(",") if h
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "sqlmigrations",
    "backend",
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

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
