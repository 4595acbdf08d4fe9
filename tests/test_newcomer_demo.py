"""The README's set-up, as a newcomer runs it on a fresh clone: then createsuperuser and
the admin work on the SQLite file it made."""

from __future__ import annotations

import http.cookiejar
import re
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from tests.demo_project import PASSWORD, create_superuser, runserver, set_up_fresh_project


@pytest.fixture
def set_up_project(tmp_path: Path) -> Path:
    return set_up_fresh_project(tmp_path / "project")


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
