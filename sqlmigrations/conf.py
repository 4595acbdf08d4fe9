"""The app's settings, read in one place, with their defaults."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from django.conf import settings

from sqlmigrations.errors import ConfigurationError
from sqlmigrations.files import MAX_VERSION, distinct_dirs
from sqlmigrations.waits import MAX_SECONDS

DEFAULT_LOCK_TIMEOUT = 60.0
# No deploy should wait longer than a day for another runner; the bound also keeps the
# wait within SQLite's busy timeout, a C int of milliseconds (about 24.8 days).
MAX_LOCK_TIMEOUT = 86400.0
# A migration's own waits (not the runner's lock): see waits.py.
DEFAULT_STATEMENT_LOCK_TIMEOUT = 5.0
DEFAULT_LOCK_RETRIES = 3
DEFAULT_CONNECT_TIMEOUT = 10


def _configured_dirs(alias: str) -> Any:
    """``SQLMIGRATIONS_DATABASE_DIRS[alias]`` wins over ``SQLMIGRATIONS_DIRS`` so that
    a second database can keep its own, unrelated set of files."""
    per_alias = getattr(settings, "SQLMIGRATIONS_DATABASE_DIRS", {}) or {}
    dirs = per_alias.get(alias)
    if dirs is None:
        dirs = getattr(settings, "SQLMIGRATIONS_DIRS", []) or []
    return dirs


def dirs_setting(alias: str) -> str:
    """The setting that names ``alias``'s directories, as a user would look it up."""
    per_alias = getattr(settings, "SQLMIGRATIONS_DATABASE_DIRS", {}) or {}
    if per_alias.get(alias) is not None:
        return f"SQLMIGRATIONS_DATABASE_DIRS['{alias}']"
    return "SQLMIGRATIONS_DIRS"


def migration_dirs(alias: str) -> list[Path]:
    """The directories holding the SQL files for database ``alias``, each once."""
    dirs = _configured_dirs(alias)
    if isinstance(dirs, (str, Path)):
        raise ConfigurationError(
            "SQLMIGRATIONS_DIRS must be a list of directories, not a single string"
        )
    if not dirs:
        raise ConfigurationError(
            f"no migration directories are configured for database '{alias}': "
            "set SQLMIGRATIONS_DIRS (or SQLMIGRATIONS_DATABASE_DIRS) in your settings"
        )
    return distinct_dirs(Path(d) for d in dirs)


def backup_dir() -> Path:
    return Path(getattr(settings, "SQLMIGRATIONS_BACKUP_DIR", "backups"))


def lock_timeout() -> float:
    value = getattr(settings, "SQLMIGRATIONS_LOCK_TIMEOUT", DEFAULT_LOCK_TIMEOUT)
    try:
        return checked_lock_timeout(value)
    except ValueError as exc:
        raise ConfigurationError(f"SQLMIGRATIONS_LOCK_TIMEOUT: {exc}") from None


def checked_lock_timeout(value: object) -> float:
    """Seconds to wait for the runner's lock, from an option or the setting: a finite
    number from 0 to MAX_LOCK_TIMEOUT, else ValueError saying what is wrong."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    if math.isnan(number):
        raise ValueError(f"'{value}' is not a number of seconds")
    if number < 0:
        raise ValueError("must be 0 or more")
    if number > MAX_LOCK_TIMEOUT:  # inf and 1e400 too
        raise ValueError(f"must be at most {MAX_LOCK_TIMEOUT:g} (one day)")
    return number


def _seconds(name: str, default: float | None) -> float | None:
    value = getattr(settings, name, default)
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not 0 <= number <= MAX_SECONDS:  # also refuses nan
        raise ConfigurationError(
            f"{name} must be a number of seconds from 0 to {MAX_SECONDS:g}, not {value!r}"
        )
    return number


def statement_lock_timeout() -> float:
    """Seconds one attempt of a migration may wait for a lock held by another session."""
    return _seconds("SQLMIGRATIONS_STATEMENT_LOCK_TIMEOUT", DEFAULT_STATEMENT_LOCK_TIMEOUT) or 0.0


def lock_retries() -> int:
    """How many times a migration that timed out on a lock is tried again."""
    value = getattr(settings, "SQLMIGRATIONS_LOCK_RETRIES", DEFAULT_LOCK_RETRIES)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigurationError(
            f"SQLMIGRATIONS_LOCK_RETRIES must be a whole number, 0 or more, not {value!r}"
        )
    return value


def statement_timeout() -> float | None:
    """PostgreSQL's statement_timeout for each migration; None leaves the session's own."""
    return _seconds("SQLMIGRATIONS_STATEMENT_TIMEOUT", None)


def connect_timeout() -> float:
    """Seconds to wait for the database server to answer when connecting; 0: the driver's."""
    return _seconds("SQLMIGRATIONS_CONNECT_TIMEOUT", DEFAULT_CONNECT_TIMEOUT) or 0.0


def has_migration_dirs(alias: str) -> bool:
    return bool(_configured_dirs(alias))


def skipped_versions(alias: str) -> frozenset[int]:
    """Versions never applied on ``alias`` (e.g. demo data in production)."""
    per_alias = getattr(settings, "SQLMIGRATIONS_SKIP_VERSIONS", {}) or {}
    versions = per_alias.get(alias, ()) if isinstance(per_alias, dict) else None
    if not isinstance(versions, (list, tuple, set, frozenset)) or not all(
        type(v) is int and 1 <= v <= MAX_VERSION for v in versions
    ):
        raise ConfigurationError(
            "SQLMIGRATIONS_SKIP_VERSIONS must be a dict of database aliases to lists of "
            f'versions (whole numbers from 1 to {MAX_VERSION}), e.g. {{"default": [2]}}; '
            f"not {per_alias!r}"[:300]
        )
    return frozenset(versions)


def apply_on_migrate() -> bool | str:
    """When ``manage.py migrate`` also applies SQL migrations: "tests", True or False."""
    value = getattr(settings, "SQLMIGRATIONS_APPLY_ON_MIGRATE", "tests")
    if value not in (True, False, "tests"):
        raise ConfigurationError(
            f'SQLMIGRATIONS_APPLY_ON_MIGRATE must be True, False or "tests", not {value!r}'
        )
    return value
