"""The app's settings, read in one place, with their defaults."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from sqlmigrations.errors import ConfigurationError

DEFAULT_LOCK_TIMEOUT = 60.0


def migration_dirs(alias: str) -> list[Path]:
    """The directories holding the SQL files for database ``alias``.

    ``SQLMIGRATIONS_DATABASE_DIRS[alias]`` wins over ``SQLMIGRATIONS_DIRS`` so that
    a second database can keep its own, unrelated set of files.
    """
    per_alias = getattr(settings, "SQLMIGRATIONS_DATABASE_DIRS", {}) or {}
    dirs = per_alias.get(alias)
    if dirs is None:
        dirs = getattr(settings, "SQLMIGRATIONS_DIRS", []) or []
    if isinstance(dirs, (str, Path)):
        raise ConfigurationError(
            "SQLMIGRATIONS_DIRS must be a list of directories, not a single string"
        )
    if not dirs:
        raise ConfigurationError(
            f"no migration directories are configured for database '{alias}': "
            "set SQLMIGRATIONS_DIRS (or SQLMIGRATIONS_DATABASE_DIRS) in your settings"
        )
    return [Path(d) for d in dirs]


def lock_timeout() -> float:
    return float(getattr(settings, "SQLMIGRATIONS_LOCK_TIMEOUT", DEFAULT_LOCK_TIMEOUT))
