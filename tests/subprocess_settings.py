"""Settings for tests that run real ``manage.py`` processes on their own migration files."""

import os

from backend.settings import *  # noqa: F403

SQLMIGRATIONS_DIRS = [os.environ["SQLMIGRATIONS_TEST_DIRS"]]
