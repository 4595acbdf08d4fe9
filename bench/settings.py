"""Settings for bench/bench.py: the backend project pointed at generated files."""

import os

from backend.settings import *  # noqa: F403

SQLMIGRATIONS_DIRS = [os.environ["BENCH_SQL_DIR"]]
# Only the `migrate` peer gets the app of N Django migrations: a project on
# sqlmigrations does not carry them, and Django's migration loader would import
# all N whenever schema_migrations is created.
if os.environ.get("BENCH_DJANGO_APP"):
    INSTALLED_APPS = [*INSTALLED_APPS, os.environ["BENCH_DJANGO_APP"]]  # noqa: F405
