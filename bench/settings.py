"""Settings for bench/bench.py: the backend project pointed at generated files."""

import os

from backend.settings import *  # noqa: F403

SQLMIGRATIONS_DIRS = [os.environ["BENCH_SQL_DIR"]]
INSTALLED_APPS = [*INSTALLED_APPS, os.environ["BENCH_DJANGO_APP"]]  # noqa: F405
