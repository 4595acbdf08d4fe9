"""Settings of the backend project.

The database comes from DATABASE_URL (environment, or a .env file at the project
root) through dj-database-url; without it the project runs on an embedded SQLite
file at DB_PATH, so a newcomer needs no database server.
"""

import os
from pathlib import Path

import dj_database_url
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
DATABASES = {
    "default": dj_database_url.config(
        env="DATABASE_URL", default=f"sqlite:///{DB_PATH.resolve()}", conn_max_age=0
    ),
}

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
