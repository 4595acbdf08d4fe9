"""backend's settings: production unless DJANGO_DEBUG=1, and no serving without a secret key.

Each test runs real ``manage.py`` or Python processes with a clean DJANGO_* environment,
as a fresh checkout or a deploy would.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import Result, manage, run_python

# At least 50 characters, 5 unique ones, not prefixed django-insecure-: check --deploy's rule.
PRODUCTION_KEY = "kT9#vq2Lw8!rZp4Xy7Nc3Mh6Bf1Gd5Js0Qe-Ua8Wi2Ro7Ty4Pl9Vk3Hb6Cz1Xm"
PRODUCTION = {
    "DJANGO_SECRET_KEY": PRODUCTION_KEY,
    "DJANGO_ALLOWED_HOSTS": "api.example.com",
    "DJANGO_SECURE_SSL_REDIRECT": "1",
    "DJANGO_SECURE_HSTS_SECONDS": "31536000",
}


def clean_env(tmp_path: Path, **env: str) -> dict[str, str]:
    """A SQLite file of the test's own; no_django_env removed the caller's DJANGO_* variables."""
    return {"DB_PATH": str(tmp_path / "db.sqlite3"), **env}


def run_manage(tmp_path: Path, *args: str, **env: str) -> Result:
    return manage(*args, env=clean_env(tmp_path, **env))


def setting(tmp_path: Path, name: str, **env: str) -> str:
    result = run_python(
        "-c",
        "import os, django; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'backend.settings');"
        f"django.setup(); from django.conf import settings; print(repr(settings.{name}))",
        env=clean_env(tmp_path, **env),
    )
    assert result.code == 0, result.output
    return result.out.strip()


@pytest.fixture(autouse=True)
def no_django_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("DJANGO_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize("value", [None, "", "0", "true", "yes", "True"])
def test_debug_is_off_unless_django_debug_is_1(tmp_path: Path, value: str | None) -> None:
    env = {} if value is None else {"DJANGO_DEBUG": value}

    assert setting(tmp_path, "DEBUG", **env) == "False"


def test_django_debug_1_turns_debug_on(tmp_path: Path) -> None:
    assert setting(tmp_path, "DEBUG", DJANGO_DEBUG="1") == "True"


def test_allowed_hosts_come_from_the_environment(tmp_path: Path) -> None:
    hosts = setting(
        tmp_path, "ALLOWED_HOSTS", DJANGO_ALLOWED_HOSTS=" api.example.com, .example.org ,"
    )

    assert hosts == "['api.example.com', '.example.org']"
    assert setting(tmp_path, "ALLOWED_HOSTS") == "[]"


def test_the_readme_set_up_command_needs_no_environment(tmp_path: Path) -> None:
    django_tables = run_manage(tmp_path, "migrate", "--no-color")
    result = run_manage(tmp_path, "sqlmigrate_up", "--no-color")

    assert django_tables.code == 0, django_tables.output
    assert result.code == 0, result.output
    assert "002_seed_demo_data" in result.output


def test_check_deploy_passes_for_a_production_like_environment(tmp_path: Path) -> None:
    result = run_manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)

    assert result.code == 0, result.output
    assert "System check identified no issues" in result.output


@pytest.mark.parametrize(
    ("missing", "warning"),
    [
        ("DJANGO_SECRET_KEY", "security.W009"),
        ("DJANGO_ALLOWED_HOSTS", "security.W020"),
        ("DJANGO_SECURE_SSL_REDIRECT", "security.W008"),
        ("DJANGO_SECURE_HSTS_SECONDS", "security.W004"),
    ],
)
def test_check_deploy_names_each_missing_variable(
    tmp_path: Path, missing: str, warning: str
) -> None:
    env = {k: v for k, v in PRODUCTION.items() if k != missing}

    result = run_manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", **env)

    assert result.code == 1
    assert warning in result.output


def test_check_deploy_fails_in_debug(tmp_path: Path) -> None:
    result = run_manage(
        tmp_path, "check", "--deploy", "--fail-level", "WARNING", DJANGO_DEBUG="1", **PRODUCTION
    )

    assert result.code == 1
    assert "security.W018" in result.output


@pytest.mark.parametrize(
    "key", [None, "", "django-insecure-dev-only-change-me", "django-insecure-" + "x" * 60]
)
def test_runserver_refuses_without_a_real_secret_key(tmp_path: Path, key: str | None) -> None:
    env = {"DJANGO_ALLOWED_HOSTS": "localhost"}
    if key is not None:
        env["DJANGO_SECRET_KEY"] = key

    result = run_manage(tmp_path, "runserver", "--noreload", "127.0.0.1:0", **env)

    assert result.code == 2, result.output
    [line] = result.err.strip().splitlines()
    assert line.startswith("ImproperlyConfigured: DJANGO_SECRET_KEY")
    assert "DJANGO_DEBUG=1" in line


@pytest.mark.parametrize("key", [None, "django-insecure-dev-only-change-me"])
def test_wsgi_refuses_without_a_real_secret_key(tmp_path: Path, key: str | None) -> None:
    env = clean_env(tmp_path, DJANGO_ALLOWED_HOSTS="localhost")
    if key is not None:
        env["DJANGO_SECRET_KEY"] = key

    result = run_python("-c", "import backend.wsgi", env=env)

    assert result.code == 1
    assert "django.core.exceptions.ImproperlyConfigured: DJANGO_SECRET_KEY" in result.err


def test_wsgi_loads_with_a_secret_key(tmp_path: Path) -> None:
    result = run_python("-c", "import backend.wsgi", env=clean_env(tmp_path, **PRODUCTION))

    assert result.code == 0, result.output
