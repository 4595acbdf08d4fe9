"""The support matrix: every Django release the app supports, on every Python it supports.

    nox -l                                   # the sessions
    nox -s "tests(3.13-django6.1)"           # one pair: the whole suite
    nox -s "tests(3.10-django5.2)" -- -n 4 runner-tests   # the runner's tests only
    nox -s psycopg2-3.10                     # the runner's tests under psycopg2
    nox -s wheels                            # the built wheel in fresh projects
    nox                                      # everything (the GitHub workflow's matrix)

Arguments after ``--`` go to pytest (``runner-tests`` stands for RUNNER_TESTS).
PostgreSQL tests need a server:
SQLMIGRATIONS_TEST_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True

# Django's own support: 5.2 LTS on 3.10 and later, 6.x on 3.12 and later.
DJANGO_PYTHONS = {
    "5.2": ["3.10", "3.11", "3.12", "3.13"],
    "6.0": ["3.12", "3.13"],
    "6.1": ["3.12", "3.13"],
}
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
OLDEST = ("3.10", "5.2")
NEWEST = ("3.13", "6.1")

# The runner's own tests: every path that differs by vendor, driver or Django
# version (how a migration is sent, errors read, the session put back, blockers
# found, pg_dump given the connection, Ctrl-C, verify's scratch database). The
# psycopg2 session runs them in an environment where psycopg 3 is not installed.
RUNNER_TESTS = [
    "tests/test_up.py",
    "tests/test_down.py",
    "tests/test_no_transaction.py",
    "tests/test_truthful_failures.py",
    "tests/test_session_state.py",
    "tests/test_messages.py",
    "tests/test_lock.py",
    "tests/test_bounded_waits.py",
    "tests/test_backup.py",
    "tests/test_one_message_per_migration.py",
    "tests/test_exit_paths.py",
    "tests/test_verify.py",  # scratch database made and dropped, Ctrl-C there, snapshots
]


@nox.session
@nox.parametrize(
    ("python", "django"),
    [
        nox.param(python, django, id=f"{python}-django{django}")
        for django, pythons in DJANGO_PYTHONS.items()
        for python in pythons
    ],
)
def tests(session: nox.Session, django: str) -> None:
    """The whole suite on one Python and one Django release, with psycopg 3."""
    session.install("-e", ".[test]", f"django~={django}.0")
    _show_versions(session)
    session.run("python", "-m", "pytest", *_pytest_args(session.posargs))


@nox.session(python=PYTHONS)
def psycopg2(session: nox.Session) -> None:
    """The driver-dependent tests with psycopg2 as the project's only driver."""
    session.install("-e", ".[testing]", "psycopg2-binary>=2.9")
    session.run(
        "python", "-c", "import importlib.util as u, sys; sys.exit(bool(u.find_spec('psycopg')))"
    )
    _show_versions(session)
    args = _pytest_args(session.posargs)
    if not any(arg.startswith("tests") for arg in args):
        args += RUNNER_TESTS  # not the whole suite: bench/ itself uses psycopg 3
    session.run("python", "-m", "pytest", "-m", "not psycopg3 and not wheel", *args)


@nox.session(python=NEWEST[0])
def wheels(session: nox.Session) -> None:
    """The wheel, built once, in fresh projects: no extras, psycopg2, psycopg 3."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", "-m", "wheel", "tests/test_packaging.py")


@nox.session(python=NEWEST[0])
def lint(session: nox.Session) -> None:
    session.install("-e", ".[test,lint]")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy", "sqlmigrations", "backend")
    session.run(
        "check-jsonschema", "--builtin-schema", "vendor.github-workflows",
        ".github/workflows/ci.yml",
    )  # fmt: skip


def _pytest_args(posargs: list[str]) -> list[str]:
    args: list[str] = []
    for arg in posargs:
        args += RUNNER_TESTS if arg == "runner-tests" else [arg]
    return args


def _show_versions(session: nox.Session) -> None:
    session.run(
        "python",
        "-c",
        "import sys, django; from importlib.metadata import version as v\n"
        "from importlib.util import find_spec as f\n"
        "d = 'psycopg ' + v('psycopg') if f('psycopg') else 'psycopg2 ' + v('psycopg2-binary')\n"
        "print(f'Python {sys.version.split()[0]}, Django {django.__version__}, {d}')",
    )
