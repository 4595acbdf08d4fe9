"""Settings for tests that run real ``manage.py`` processes on their own migration files."""

import os

from backend.settings import *  # noqa: F403

SQLMIGRATIONS_DIRS = [os.environ["SQLMIGRATIONS_TEST_DIRS"]]
SQLMIGRATIONS_BACKUP_DIR = os.path.join(os.path.dirname(SQLMIGRATIONS_DIRS[0]), "backups")

# As conftest's no_lint_on_up: sqlmigrate_up's lint is tested where a test asks for it.
SQLMIGRATIONS_LINT_ON_UP = "off"

# Lets a test give the SQLite test database a file, so --keepdb has something to keep.
if os.environ.get("SQLMIGRATIONS_TEST_DB_NAME"):
    DATABASES["default"]["TEST"] = {"NAME": os.environ["SQLMIGRATIONS_TEST_DB_NAME"]}  # noqa: F405

# A second database with its own migration files, for the several-databases tests.
if os.environ.get("REPORTS_DATABASE_URL"):
    import dj_database_url

    DATABASES["reports"] = dj_database_url.parse(os.environ["REPORTS_DATABASE_URL"])  # noqa: F405
    SQLMIGRATIONS_DATABASE_DIRS = {"reports": [os.environ["REPORTS_MIGRATION_DIRS"]]}

# Any other settings a test needs, as JSON: {"SQLMIGRATIONS_CONNECT_TIMEOUT": 1}.
if os.environ.get("SQLMIGRATIONS_TEST_SETTINGS"):
    import json

    globals().update(json.loads(os.environ["SQLMIGRATIONS_TEST_SETTINGS"]))
