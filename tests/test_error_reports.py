"""Error pages and reports never show a password, even with DEBUG on.

The process below is what runserver does with DJANGO_DEBUG=1 and a DATABASE_URL whose
server is down: the request's META holds the whole environment, the settings hold the
parsed URL, and the traceback's frames hold the connection parameters.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import run_python

SECRETS = {
    "DATABASE_URL": "postgres://app:DbUrlPass-4711@127.0.0.1:1/app",
    "REPORTS_DSN": "postgresql://reports:DsnPass%40x@db.internal/reports",
    "BROKER": "amqp://worker:BrokerPass-0815@mq.internal:5672//",
    "PGCONNINFO": "host=db.internal user=app password=ConninfoPass-42 dbname=app",
}
PASSWORDS = ["DbUrlPass-4711", "DsnPass%40x", "DsnPass@x", "BrokerPass-0815", "ConninfoPass-42"]

RENDER = """
import os, sys, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
django.setup()
from django.conf import settings
from django.db import connection
from django.test import RequestFactory
from django.views.debug import get_exception_reporter_class, technical_500_response

assert settings.DEBUG
url = os.environ["DATABASE_URL"]  # a frame variable holding the URL, as settings.py has
loop = {"url": url}
loop["self"] = loop  # a variable that contains itself must not break the page
# A WSGI server copies the environment into every request's META (runserver does).
html_request = RequestFactory().get("/api/portfolios/", **os.environ)
text_request = RequestFactory().get("/api/portfolios/", HTTP_ACCEPT="text/plain", **os.environ)
try:
    try:
        connection.ensure_connection()
    except Exception as exc:
        raise RuntimeError(f"could not reach {url}") from exc
except Exception:
    info = sys.exc_info()
    for request in (html_request, text_request):
        sys.stdout.write(technical_500_response(request, *info).content.decode())
    # What AdminEmailHandler mails: the configured reporter, without a request.
    reporter = get_exception_reporter_class(None)(None, *info, is_email=True)
    sys.stdout.write(reporter.get_traceback_text())
"""


@pytest.fixture
def pages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    for name in list(os.environ):
        if name.startswith("DJANGO_"):
            monkeypatch.delenv(name)
    result = run_python(
        "-c",
        RENDER,
        database_url=SECRETS["DATABASE_URL"],
        env={**SECRETS, "DJANGO_DEBUG": "1", "DB_PATH": str(tmp_path / "db.sqlite3")},
    )
    assert result.code == 0, result.output
    return result.out


def test_the_pages_are_the_technical_ones(pages: str) -> None:
    # Not vacuous: the traceback, the settings and the environment are all there.
    assert "OperationalError" in pages
    assert "RuntimeError" in pages
    assert "conn_params" in pages
    assert "DATABASE_URL" in pages
    assert "127.0.0.1:1/app" in pages or "127.0.0.1" in pages


# Ids without the passwords: the process inherits PYTEST_CURRENT_TEST, the test's id.
@pytest.mark.parametrize("password", PASSWORDS, ids=[f"password{i}" for i in range(5)])
def test_no_password_on_any_page(pages: str, password: str) -> None:
    assert password not in pages


LOG = """
import logging, os, django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
django.setup()
url = os.environ["DATABASE_URL"]
try:
    raise RuntimeError(f"could not reach {url}")
except RuntimeError:
    logging.getLogger("django.request").exception("Internal Server Error: %s (%s)", "/api/", url)
logging.getLogger("django").warning("conninfo %s", os.environ["PGCONNINFO"])
"""


@pytest.mark.parametrize("debug", ["1", "0"])
def test_logs_show_no_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, debug: str) -> None:
    for name in list(os.environ):
        if name.startswith("DJANGO_"):
            monkeypatch.delenv(name)

    result = run_python(
        "-c",
        LOG,
        database_url=SECRETS["DATABASE_URL"],
        env={**SECRETS, "DJANGO_DEBUG": "1", "DB_PATH": str(tmp_path / "db.sqlite3")},
    )

    assert result.code == 0, result.output
    # Django's console handler (DEBUG); without DEBUG Django logs only to mail_admins.
    assert "RuntimeError: could not reach postgres://app:" in result.err
    assert "conninfo host=db.internal" in result.err
    for password in PASSWORDS:
        assert password not in result.output, password
