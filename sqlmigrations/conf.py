"""The app's settings, read in one place, with their defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings

from sqlmigrations.errors import ConfigurationError
from sqlmigrations.files import distinct_dirs

DEFAULT_LOCK_TIMEOUT = 60.0


def _configured_dirs(alias: str) -> Any:
    """``SQLMIGRATIONS_DATABASE_DIRS[alias]`` wins over ``SQLMIGRATIONS_DIRS`` so that
    a second database can keep its own, unrelated set of files."""
    per_alias = getattr(settings, "SQLMIGRATIONS_DATABASE_DIRS", {}) or {}
    dirs = per_alias.get(alias)
    if dirs is None:
        dirs = getattr(settings, "SQLMIGRATIONS_DIRS", []) or []
    return dirs


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
    return float(getattr(settings, "SQLMIGRATIONS_LOCK_TIMEOUT", DEFAULT_LOCK_TIMEOUT))


def has_migration_dirs(alias: str) -> bool:
    return bool(_configured_dirs(alias))


def skipped_versions(alias: str) -> frozenset[int]:
    """Versions never applied on ``alias`` (e.g. demo data in production)."""
    per_alias = getattr(settings, "SQLMIGRATIONS_SKIP_VERSIONS", {}) or {}
    return frozenset(int(v) for v in per_alias.get(alias, ()))


def apply_on_migrate() -> bool | str:
    """When ``manage.py migrate`` also applies SQL migrations: "tests", True or False."""
    value = getattr(settings, "SQLMIGRATIONS_APPLY_ON_MIGRATE", "tests")
    if value not in (True, False, "tests"):
        raise ConfigurationError(
            f'SQLMIGRATIONS_APPLY_ON_MIGRATE must be True, False or "tests", not {value!r}'
        )
    return value
