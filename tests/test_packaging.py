"""The wheel in brand-new Django projects that are not this repository, one per way a
project installs it: SQLite only with no extras; the ``postgresql`` extra with
psycopg2; the extra with psycopg 3. Each gets a fresh environment holding what
pip resolves for it and nothing of this repository's own.

Slow (environments and pip), so marked ``wheel``: ``python -m pytest -m wheel
tests/test_packaging.py``; .ci/run runs them. The wheel is built once and every
distribution comes from one local wheelhouse, downloaded once (pip's cache makes
that quick when it has run before). They fail, never skip, when they cannot run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dj_database_url
import pytest

from tests.conftest import REPO, MigrationFiles, TargetDatabase

pytestmark = pytest.mark.wheel

# Where each project's database is: the settings read it from the environment,
# with nothing but the standard library (the app brings no URL parser).
SETTINGS_TAIL = """
import json
import os

INSTALLED_APPS += ["sqlmigrations"]
SQLMIGRATIONS_DIRS = [BASE_DIR / "sql"]
DATABASES = {"default": json.loads(os.environ["TEST_DATABASE"])}
"""

# What each kind of project asks pip for, beside the wheel.
KINDS = {
    "no-extras": ("", []),
    "psycopg2": ("[postgresql]", ["psycopg2-binary"]),
    "psycopg3": ("[postgresql]", ["psycopg[binary]"]),
}
DRIVERS = ["psycopg2-binary", "psycopg[binary]"]


def run(
    *args: str | Path, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def pip(*args: str | Path, cwd: Path) -> None:
    result = run(sys.executable, "-m", "pip", "--disable-pip-version-check", *args, cwd=cwd)
    assert result.returncode == 0, result.stdout + result.stderr


@dataclass
class Built:
    wheel: Path
    wheelhouse: Path
    root: Path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The wheel of the tracked files, and every distribution any kind needs."""
    root = tmp_path_factory.mktemp("packaging")
    source = root / "source"
    files = run("git", "ls-files", cwd=REPO).stdout.split()
    for name in files:
        if (REPO / name).is_file():  # a file deleted but not yet committed is skipped
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            (source / name).write_bytes((REPO / name).read_bytes())
    pip("wheel", "--no-deps", "-q", "-w", root / "dist", source, cwd=root)
    [wheel] = (root / "dist").glob("sqlmigrations-*.whl")
    wheelhouse = root / "wheelhouse"
    # Only binaries: what the projects install is then exactly what is checked here.
    pip(
        "download", "-q", "--only-binary", ":all:", "-d", wheelhouse,
        f"{wheel}[postgresql]", *DRIVERS, cwd=root,
    )  # fmt: skip
    return Built(wheel, wheelhouse, root)


@dataclass
class Project:
    kind: str
    path: Path

    @property
    def python(self) -> Path:
        return self.path.parent / "venv" / "bin" / "python"

    def manage(self, target: TargetDatabase, *args: str) -> subprocess.CompletedProcess[str]:
        config = dict(dj_database_url.parse(target.url))
        env = {"TEST_DATABASE": json.dumps(config, default=str), "PATH": "/usr/bin:/bin"}
        return run(self.python, "manage.py", *args, "--no-color", cwd=self.path, env=env)

    def installed(self) -> set[str]:
        listed = run(self.python, "-m", "pip", "list", "--format=json", cwd=self.path)
        if listed.returncode != 0:  # no pip of its own: ask importlib
            code = "import json, importlib.metadata as m; print(json.dumps([{'name': d.metadata['Name']} for d in m.distributions()]))"
            listed = run(self.python, "-c", code, cwd=self.path)
        assert listed.returncode == 0, listed.stderr
        return {entry["name"].lower() for entry in json.loads(listed.stdout)}

    def imports(self, module: str) -> bool:
        probe = f"import importlib.util, sys; sys.exit(0 if importlib.util.find_spec({module!r}) else 1)"
        return run(self.python, "-c", probe, cwd=self.path).returncode == 0


def make_project(built: Built, kind: str, *more: str, name: str = "") -> Project:
    """A fresh environment with the wheel (and ``more``) from the wheelhouse alone,
    and a new project from Django's own startproject."""
    extra, drivers = KINDS[kind]
    home = built.root / (name or kind)
    venv = home / "venv"
    created = run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=built.root)
    assert created.returncode == 0, created.stderr
    pip(
        "--python", venv / "bin" / "python", "install", "-q", "--no-compile", "--no-index",
        "--find-links", built.wheelhouse, f"{built.wheel}{extra}", *drivers, *more,
        cwd=home,
    )  # fmt: skip
    (home / "project").mkdir()
    started = run(
        venv / "bin" / "django-admin", "startproject", "mysite", home / "project", cwd=home
    )
    assert started.returncode == 0, started.stderr
    settings = home / "project" / "mysite" / "settings.py"
    settings.write_text(settings.read_text() + SETTINGS_TAIL)
    return Project(kind, home / "project")


@pytest.fixture(scope="module")
def projects(built: Built) -> Iterator[dict[str, Project]]:
    yield {kind: make_project(built, kind) for kind in KINDS}


def write_migrations(project: Project) -> None:
    sql = MigrationFiles(project.path / "sql")
    for path in sql.path.iterdir():
        path.unlink()
    sql.pair(
        "001_notes", "CREATE TABLE notes (id integer PRIMARY KEY, body text);", "DROP TABLE notes;"
    )
    sql.pair("002_seed", "INSERT INTO notes VALUES (1, 'hello');", "DELETE FROM notes;")


def apply_and_roll_back(project: Project, target: TargetDatabase) -> None:
    write_migrations(project)

    up = project.manage(target, "sqlmigrate_up")
    status = project.manage(target, "sqlmigrate_status", "--check")
    down = project.manage(target, "sqlmigrate_down", "--noinput", "--no-backup")

    assert up.returncode == 0, up.stdout + up.stderr
    assert "Applying 002_seed... OK" in up.stdout
    assert status.returncode == 0, status.stdout + status.stderr
    assert "2 applied, 0 pending" in status.stdout
    assert down.returncode == 0, down.stdout + down.stderr
    assert target.applied() == [1]
    assert target.query("SELECT count(*) FROM notes") == [(0,)]


def test_the_wheel_holds_the_app_only(built: Built, projects: dict[str, Project]) -> None:
    with zipfile.ZipFile(built.wheel) as archive:
        names = archive.namelist()
        [metadata] = [n for n in names if n.endswith(".dist-info/METADATA")]
        requires = [
            line.split(":", 1)[1].strip()
            for line in archive.read(metadata).decode().splitlines()
            if line.startswith("Requires-Dist:")
        ]
    project = projects["no-extras"]

    assert "sqlmigrations/py.typed" in names
    assert not [name for name in names if name.startswith(("backend/", "tests/"))]
    # Django alone, unconditionally; everything else behind an extra.
    assert [r for r in requires if "extra ==" not in r] == ["django<6.2,>=5.2"]
    assert run(project.python, "-c", "import backend", cwd=project.path).returncode != 0


def test_sqlite_only_with_no_extras(projects: dict[str, Project], tmp_path: Path) -> None:
    project = projects["no-extras"]
    path = tmp_path / "app.sqlite3"
    target = TargetDatabase("sqlite", "default", f"sqlite:///{path}", path)

    installed = project.installed()
    assert "django" in installed
    assert not installed & {"pglast", "psycopg", "psycopg-binary", "psycopg2-binary"}
    assert not installed & {"dj-database-url", "python-dotenv"}
    apply_and_roll_back(project, target)


def test_postgresql_without_the_extra_names_the_install_command(
    built: Built, postgres: TargetDatabase
) -> None:
    # A project that has a driver but installed the app without [postgresql].
    project = make_project(built, "no-extras", "psycopg[binary]", name="driver-only")
    write_migrations(project)
    assert not project.imports("pglast")

    for command in ("sqlmigrate_up", "sqlmigrate_status"):
        result = project.manage(postgres, command)

        assert result.returncode == 2, result.stdout + result.stderr
        assert result.stderr.strip().splitlines() == [
            "CommandError: PostgreSQL migrations need pglast (the server's own SQL parser), "
            "which is not installed: pip install 'sqlmigrations[postgresql]'"
        ]
    assert postgres.tables() == set()


@pytest.mark.parametrize("kind", ["psycopg2", "psycopg3"])
def test_postgresql_with_the_extra(
    projects: dict[str, Project], postgres: TargetDatabase, kind: str
) -> None:
    project = projects[kind]
    other = {"psycopg2": "psycopg", "psycopg3": "psycopg2"}[kind]

    assert project.imports("pglast")
    assert not project.imports(other), f"the app installed {other}, which nobody asked for"
    apply_and_roll_back(project, postgres)
