"""The README's set-up, as a newcomer runs it on a fresh clone: then createsuperuser and
the admin work on the SQLite file it made."""

from __future__ import annotations

import http.cookiejar
import re
import shlex
import shutil
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO, manage
from tests.live_server import runserver

PASSWORD = "a-newcomer-password-42"


def readme_setup_commands() -> list[list[str]]:
    """The ``python manage.py ...`` steps of the README's set-up command, as argument lists."""
    section = (REPO / "README.md").read_text().split("\n## Set-up\n", 1)[1]
    block = re.search(r"```sh\n(.*?)\n```", section, re.S)
    assert block, "the README's Set-up section has no sh block"
    steps = [shlex.split(step) for step in block[1].split("&&")]
    return [step[2:] for step in steps if step[:2] == ["python", "manage.py"]]


@pytest.fixture
def set_up_project(tmp_path: Path) -> Path:
    """A copy of the project as a clone has it, after the README's set-up command."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(REPO / "manage.py", project)
    shutil.copytree(
        REPO / "backend", project / "backend", ignore=shutil.ignore_patterns("__pycache__")
    )
    steps = readme_setup_commands()
    assert steps, "the README's set-up command runs no manage.py step"
    for step in steps:
        result = manage(*step, cwd=project)
        assert result.code == 0, f"{step}: {result.output}"
    return project


def create_superuser(project: Path, username: str = "admin") -> None:
    result = manage(
        "createsuperuser",
        "--noinput",
        "--username",
        username,
        "--email",
        f"{username}@example.com",
        cwd=project,
        env={"DJANGO_SUPERUSER_PASSWORD": PASSWORD},
    )
    assert result.code == 0, result.output
    assert "Superuser created successfully." in result.out


def test_createsuperuser_and_the_admin_work_after_the_set_up(set_up_project: Path) -> None:
    create_superuser(set_up_project)
    browser = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )

    with runserver(set_up_project, {}) as base:
        login_page = browser.open(f"{base}/admin/login/?next=/admin/", timeout=10).read().decode()
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page)
        assert token, login_page[:500]
        form = urllib.parse.urlencode(
            {
                "username": "admin",
                "password": PASSWORD,
                "csrfmiddlewaretoken": token[1],
                "next": "/admin/",
            }
        ).encode()
        index = browser.open(f"{base}/admin/login/?next=/admin/", data=form, timeout=10)
        index_page = index.read().decode()
        portfolio = browser.open(
            f"{base}/admin/backend/portfolio/demo-portfolio-1/change/", timeout=10
        )
        portfolio_page = portfolio.read().decode()

    assert index.url == f"{base}/admin/", index_page[:500]
    assert "Site administration" in index_page
    assert portfolio.status == 200
    assert re.search(r'name="name"[^>]*>\s*Demo balanced portfolio</textarea>', portfolio_page)
