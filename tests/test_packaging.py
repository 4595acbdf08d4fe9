"""The wheel works in a brand-new Django project that is not this repository."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, MigrationFiles, TargetDatabase

SETTINGS_TAIL = """
import os
import dj_database_url

INSTALLED_APPS += ["sqlmigrations"]
SQLMIGRATIONS_DIRS = [BASE_DIR / "sql"]
DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"])}
"""


def run(
    *args: str | Path, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def installed_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Build the wheel from the tracked files, install it into a fresh venv, startproject."""
    root = tmp_path_factory.mktemp("packaging")
    source = root / "source"
    files = run("git", "ls-files", cwd=REPO).stdout.split()
    for name in files:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_bytes((REPO / name).read_bytes())
    built = run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--no-deps",
        "-q",
        "-w",
        root / "dist",
        source,
        cwd=root,
    )
    assert built.returncode == 0, built.stderr
    [wheel] = (root / "dist").glob("sqlmigrations-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert "sqlmigrations/py.typed" in names
    assert not [name for name in names if name.startswith("backend/")]

    venv = root / "venv"
    assert run(sys.executable, "-m", "venv", venv, cwd=root).returncode == 0
    installed = run(venv / "bin" / "python", "-m", "pip", "install", "-q", wheel, cwd=root)
    assert installed.returncode == 0, installed.stderr
    (root / "project").mkdir()
    created = run(
        venv / "bin" / "django-admin", "startproject", "mysite", root / "project", cwd=root
    )
    assert created.returncode == 0, created.stderr
    settings = root / "project" / "mysite" / "settings.py"
    settings.write_text(settings.read_text() + SETTINGS_TAIL)
    yield root / "project"


def test_nothing_of_backend_ships_in_the_wheel(installed_project: Path) -> None:
    python = installed_project.parent / "venv" / "bin" / "python"

    result = run(python, "-c", "import backend", cwd=installed_project.parent)

    assert result.returncode != 0
    assert "No module named 'backend'" in result.stderr


def test_up_status_down_in_a_fresh_project(installed_project: Path, target: TargetDatabase) -> None:
    sql = MigrationFiles(installed_project / "sql")
    for path in sql.path.iterdir():
        path.unlink()
    sql.pair(
        "001_notes", "CREATE TABLE notes (id integer PRIMARY KEY, body text);", "DROP TABLE notes;"
    )
    sql.pair("002_seed", "INSERT INTO notes VALUES (1, 'hello');", "DELETE FROM notes;")
    python = installed_project.parent / "venv" / "bin" / "python"
    env = {"DATABASE_URL": target.url, "PATH": "/usr/bin:/bin"}

    def manage(*args: str) -> subprocess.CompletedProcess[str]:
        return run(python, "manage.py", *args, cwd=installed_project, env=env)

    up = manage("sqlmigrate_up")
    status = manage("sqlmigrate_status", "--check")
    down = manage("sqlmigrate_down", "--noinput", "--no-backup")

    assert up.returncode == 0, up.stdout + up.stderr
    assert "Applying 002_seed... OK" in up.stdout
    assert status.returncode == 0, status.stdout + status.stderr
    assert "2 applied, 0 pending" in status.stdout
    assert down.returncode == 0, down.stdout + down.stderr
    assert target.applied() == [1]
    assert target.query("SELECT count(*) FROM notes") == [(0,)]
