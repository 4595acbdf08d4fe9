"""Every bad request to the API answers JSON with the right status, on both databases.

The API runs on the `target` database (SQLite file or PostgreSQL), built by the backend's
own SQL migrations; a router sends every query there.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from tests.conftest import TargetDatabase, _register_alias, _unregister_alias

DEMO = "/api/portfolios/demo-portfolio-1"
PREFS = f"{DEMO}/notification-preferences/"
GOOD = {"preferences": [{"channel": "push", "event_type": "drift_alert", "enabled": True}]}


class ToAlias:
    alias = "target"

    def db_for_read(self, model: Any, **hints: Any) -> str:
        return self.alias

    def db_for_write(self, model: Any, **hints: Any) -> str:
        return self.alias


class ToBroken(ToAlias):
    alias = "broken"


@pytest.fixture
def api(
    target: TargetDatabase, settings: Any, backend_migrations: Path
) -> Iterator[TargetDatabase]:
    settings.SQLMIGRATIONS_DIRS = [backend_migrations]
    settings.SQLMIGRATIONS_DATABASE_DIRS = {}
    assert target.run("sqlmigrate_up").code == 0
    settings.DATABASE_ROUTERS = [f"{__name__}.ToAlias"]
    yield target


@pytest.fixture
def client() -> Client:
    return Client(raise_request_exception=False)


@pytest.fixture
def writer(api: TargetDatabase, client: Client) -> Client:
    """The client, logged in as a superuser: writes need a user (tests/test_api_auth.py).

    Only the tables a session login reads are created on the target, by their models
    (Django's migrate would add ~1 s to each test); auth itself is tested on a database
    Django's migrate built."""
    from django.contrib.auth.models import Group, Permission, User
    from django.contrib.contenttypes.models import ContentType
    from django.contrib.sessions.models import Session
    from django.db import connections

    with connections[api.alias].schema_editor() as editor:
        for model in (ContentType, Permission, Group, User, Session):
            editor.create_model(model)
    client.force_login(User.objects.create_superuser("root", password="pw-for-tests"))
    return client


def preferences(database: TargetDatabase) -> list[tuple[Any, ...]]:
    return database.query(
        "SELECT channel, event_type, enabled FROM notification_preferences ORDER BY channel, event_type"
    )


def assert_json(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}, body
    return body


def put(client: Client, body: Any, content_type: str = "application/json", **extra: Any) -> Any:
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.put(PREFS, data=data, content_type=content_type, **extra)


def test_the_api_runs_on_the_target_database(api: TargetDatabase, client: Client) -> None:
    response = client.get(f"{DEMO}/")

    assert response.status_code == 200
    assert response.json()["id"] == "demo-portfolio-1"


@pytest.mark.parametrize(
    "path",
    [
        "/api/portfolios/%00/",
        "/api/portfolios/demo%00/rebalance-events/",
        "/api/portfolios/demo-portfolio-1%00/analytics/",
        "/api/portfolios/%00%00/notification-preferences/",
        "/api/portfolios/%FF%FE/",
        "/api/portfolios/%ED%A0%80/",
    ],
)
def test_invalid_ids_are_404(api: TargetDatabase, client: Client, path: str) -> None:
    body = assert_json(client.get(path), 404)

    assert "does not exist" in body["error"]


def test_nul_in_the_id_of_a_write_is_404_and_changes_nothing(
    api: TargetDatabase, client: Client
) -> None:
    before = preferences(api)

    response = client.put(
        "/api/portfolios/demo-portfolio-1%00/notification-preferences/",
        data=json.dumps(GOOD),
        content_type="application/json",
    )

    assert_json(response, 404)
    assert preferences(api) == before


@pytest.mark.parametrize(
    "query",
    [
        "rebalance-events/?page=%00",
        "rebalance-events/?page_size=1%00",
        f"rebalance-events/?page={'9' * 5000}",
        f"rebalance-events/?page={'9' * 100}",
        f"rebalance-events/?page_size={'9' * 5000}",
        "analytics/?start=2026-03-01%00",
        "analytics/?end=%00",
    ],
)
def test_bad_query_values_are_400(api: TargetDatabase, client: Client, query: str) -> None:
    assert_json(client.get(f"{DEMO}/{query}"), 400)


def test_too_many_query_fields_are_400(api: TargetDatabase, client: Client) -> None:
    query = "&".join(f"f{i}=1" for i in range(1100))

    assert_json(client.get(f"{DEMO}/rebalance-events/?{query}"), 400)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "nests too deeply"),
        ('{"preferences": ' + "[" * 50_000 + "]" * 50_000 + "}", "nests too deeply"),
        ('{"preferences": [' + "9" * 5000 + "]}", "too long"),
        (
            '{"preferences": [{"channel": "email\\u0000", "event_type": "drift_alert", "enabled": true}]}',
            "channel",
        ),
        (
            '{"preferences": [{"channel": "email", "event_type": "drift_alert", "enabled": 1e999}]}',
            "enabled",
        ),
        (b"\xff\xfe{", "not valid JSON"),
        ("null", "expected a JSON object"),
    ],
)
def test_bad_bodies_are_400_and_change_nothing(
    api: TargetDatabase, writer: Client, body: str | bytes, message: str
) -> None:
    before = preferences(api)

    body_json = assert_json(put(writer, body), 400)

    assert message in body_json["error"]
    assert preferences(api) == before


def test_a_body_over_the_size_limit_is_413(
    api: TargetDatabase, writer: Client, settings: Any
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    before = preferences(api)
    padded = json.dumps(GOOD)[:-1] + ', "x": "' + "x" * 2000 + '"}'

    body = assert_json(put(writer, padded), 413)

    assert "1000 bytes" in body["error"]
    assert preferences(api) == before


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonp",
        "application/json; charset=latin-1",
        "",
    ],
)
def test_writes_need_a_json_content_type(
    api: TargetDatabase, writer: Client, content_type: str
) -> None:
    before = preferences(api)

    body = assert_json(put(writer, GOOD, content_type=content_type), 415)

    assert "application/json" in body["error"]
    assert preferences(api) == before


@pytest.mark.parametrize("content_type", ["application/json", "Application/JSON; charset=UTF-8"])
def test_json_content_types_are_accepted(
    api: TargetDatabase, writer: Client, content_type: str
) -> None:
    response = put(writer, GOOD, content_type=content_type)

    assert response.status_code == 200, response.content
    assert preferences(api) == [("push", "drift_alert", True)]


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("post", PREFS, "GET, PUT"),
        ("delete", PREFS, "GET, PUT"),
        ("patch", PREFS, "GET, PUT"),
        ("delete", f"{DEMO}/", "GET"),
        ("put", f"{DEMO}/", "GET"),
        ("post", "/api/portfolios/", "GET"),
        ("post", f"{DEMO}/rebalance-events/", "GET"),
        ("post", f"{DEMO}/analytics/", "GET"),
        ("post", "/health/", "GET"),
    ],
)
def test_methods_not_allowed_are_405_with_allow(
    api: TargetDatabase, client: Client, method: str, path: str, allow: str
) -> None:
    response = getattr(client, method)(path)

    body = assert_json(response, 405)
    assert response["Allow"] == allow
    assert method.upper() in body["error"]


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize(
    "path", ["/api/", "/api/nothing/", "/api/portfolios/a/b/c/", "/api/portfolios"]
)
def test_unknown_api_urls_are_404_json(
    api: TargetDatabase, client: Client, settings: Any, debug: bool, path: str
) -> None:
    settings.DEBUG = debug

    body = assert_json(client.get(path), 404)

    assert "no such API endpoint" in body["error"]


def test_a_missing_trailing_slash_is_named(api: TargetDatabase, client: Client) -> None:
    body = assert_json(client.put(DEMO + "/notification-preferences"), 404)

    assert "trailing slash" in body["error"]


@pytest.fixture
def broken_database(settings: Any, django_db_blocker: Any) -> Iterator[None]:
    """The API's database is down: a server that refuses connections, with a password."""
    _register_alias("broken", "postgres://app:BrokenPass-99@127.0.0.1:1/app")
    settings.DATABASE_ROUTERS = [f"{__name__}.ToBroken"]
    try:
        with django_db_blocker.unblock():
            yield
    finally:
        _unregister_alias("broken")


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("path", ["/api/portfolios/", f"{DEMO}/", PREFS])
def test_a_server_error_is_json_500_without_details(
    broken_database: None,
    client: Client,
    settings: Any,
    caplog: pytest.LogCaptureFixture,
    debug: bool,
    path: str,
) -> None:
    settings.DEBUG = debug

    response = client.get(path)

    assert_json(response, 500)
    assert response.json() == {"error": "internal server error"}
    # The traceback goes to the log, for the operator, once.
    [record] = [r for r in caplog.records if r.name == "django.request"]
    assert record.exc_info is not None
    assert "BrokenPass" not in caplog.text


@pytest.mark.parametrize("debug", [False, True])
def test_a_disallowed_host_is_400_json(
    api: TargetDatabase, client: Client, settings: Any, debug: bool
) -> None:
    # Refused by Django before any view runs: in DEBUG its answer is a technical page.
    settings.DEBUG = debug

    assert_json(client.get(f"{DEMO}/", HTTP_HOST="evil.example"), 400)


def test_admin_pages_keep_django_s_own_errors(api: TargetDatabase, client: Client) -> None:
    response = client.get("/admin/no-such-page/")

    assert response.status_code in (302, 404)
    assert response["Content-Type"].startswith("text/html")
