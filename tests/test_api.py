"""The JSON API and health check, on the test database the SQL migrations built.

No fixture creates these tables or rows: the demo portfolio is here because the
test database was built by applying backend/db/migrations (sqlmigrations' hook).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from backend.models import NotificationPreference, Portfolio
from tests.conftest import copy_backend_migrations

pytestmark = pytest.mark.django_db
DEMO = "/api/portfolios/demo-portfolio-1"


@pytest.fixture
def editor(client: Client, admin_user: Any) -> Client:
    """A client logged in as a superuser: writes need a user (tests/test_api_auth.py)."""
    client.force_login(admin_user)
    return client


def put_json(client: Client, url: str, body: Any) -> Any:
    data = body if isinstance(body, str) else json.dumps(body)
    return client.put(url, data=data, content_type="application/json")


def test_lists_the_demo_portfolio(client: Client) -> None:
    response = client.get("/api/portfolios/")

    assert response.status_code == 200
    [portfolio] = response.json()["results"]
    assert portfolio["id"] == "demo-portfolio-1"
    assert portfolio["target_allocation"] == {"VTI": 40, "VXUS": 20, "BND": 30, "VNQ": 10}


def test_portfolio_detail(client: Client) -> None:
    response = client.get(f"{DEMO}/")

    assert response.status_code == 200
    body = response.json()
    assert (body["base_currency"], body["drift_threshold_pct"]) == ("USD", "5.00")
    assert body["created_at"] == "2026-01-02T09:00:00+00:00"


@pytest.mark.parametrize(
    "suffix", ["/", "/rebalance-events/", "/analytics/", "/notification-preferences/"]
)
def test_unknown_portfolio_is_404_with_a_message(client: Client, suffix: str) -> None:
    response = client.get(f"/api/portfolios/nope{suffix}")

    assert response.status_code == 404
    assert response.json() == {"error": "portfolio 'nope' does not exist"}


def test_rebalance_events_newest_first_and_paginated(client: Client) -> None:
    first = client.get(f"{DEMO}/rebalance-events/?page_size=3").json()
    second = client.get(f"{DEMO}/rebalance-events/?page_size=3&page=2").json()

    assert (first["count"], first["num_pages"]) == (4, 2)
    keys = [e["idempotency_key"] for e in first["results"] + second["results"]]
    assert keys == [
        "demo-rebalance-2026-03",
        "demo-rebalance-2026-02",
        "demo-rebalance-2026-02-drift",
        "demo-rebalance-2026-01",
    ]
    failed = first["results"][1]
    assert (failed["status"], failed["failure_reason"]) == (
        "failed",
        "Market closed for the trading venue",
    )


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("page=0", "page: Ensure this value is greater than or equal to 1."),
        ("page=x", "page: Enter a whole number."),
        ("page_size=101", "page_size: Ensure this value is less than or equal to 100."),
        ("page=3&page_size=3", "page: 3 is past the last page (2)"),
    ],
)
def test_bad_paging_is_400(client: Client, query: str, message: str) -> None:
    response = client.get(f"{DEMO}/rebalance-events/?{query}")

    assert response.status_code == 400
    assert response.json() == {"error": message}


def test_analytics_date_range(client: Client) -> None:
    everything = client.get(f"{DEMO}/analytics/").json()["results"]
    ranged = client.get(f"{DEMO}/analytics/?start=2026-03-28&end=2026-03-30").json()["results"]

    assert [s["date"] for s in everything] == ["2026-03-27", "2026-03-30", "2026-03-31"]
    assert [(s["date"], s["total_value"]) for s in ranged] == [("2026-03-30", "100812.40")]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("start=2026-13-01", "start: Enter a valid date."),
        ("end=yesterday", "end: Enter a valid date."),
        ("start=2026-03-31&end=2026-03-01", "start must not be after end"),
    ],
)
def test_bad_date_range_is_400(client: Client, query: str, message: str) -> None:
    response = client.get(f"{DEMO}/analytics/?{query}")

    assert response.status_code == 400
    assert response.json() == {"error": message}


def test_get_notification_preferences(client: Client) -> None:
    response = client.get(f"{DEMO}/notification-preferences/")

    assert response.status_code == 200
    assert {
        "channel": "sms",
        "event_type": "rebalance_failed",
        "enabled": False,
    } in response.json()["preferences"]
    assert len(response.json()["preferences"]) == 4


def test_put_replaces_notification_preferences(editor: Client) -> None:
    wanted = [
        {"channel": "push", "event_type": "daily_summary", "enabled": True},
        {"channel": "email", "event_type": "drift_alert", "enabled": False},
    ]

    response = put_json(editor, f"{DEMO}/notification-preferences/", {"preferences": wanted})

    assert response.status_code == 200, response.content
    assert response.json()["preferences"] == sorted(
        wanted, key=lambda p: (p["channel"], p["event_type"])
    )
    stored = NotificationPreference.objects.filter(portfolio_id="demo-portfolio-1")
    assert sorted((p.channel, p.event_type, p.enabled) for p in stored) == [
        ("email", "drift_alert", False),
        ("push", "daily_summary", True),
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "the request body is not valid JSON"),
        (
            {"prefs": []},
            'expected a JSON object {"preferences": [{"channel", "event_type", "enabled"}, ...]}',
        ),
        ({"preferences": ["email"]}, "preferences[0]: expected an object"),
        (
            {"preferences": [{"channel": "fax", "event_type": "drift_alert", "enabled": True}]},
            "preferences[0]: channel: Select a valid choice. fax is not one of the available choices.",
        ),
        (
            {
                "preferences": [
                    {"channel": "email", "event_type": "drift_alert", "enabled": "false"}
                ]
            },
            "preferences[0]: enabled: must be true or false",
        ),
        (
            {"preferences": [{"channel": "email", "event_type": "drift_alert"}]},
            "preferences[0]: enabled: must be true or false",
        ),
        (
            {
                "preferences": [
                    {"channel": "email", "event_type": "drift_alert", "enabled": True, "x": 1}
                ]
            },
            "preferences[0]: unknown field 'x'",
        ),
        (
            {
                "preferences": [
                    {"channel": "email", "event_type": "drift_alert", "enabled": True},
                    {"channel": "email", "event_type": "drift_alert", "enabled": False},
                ]
            },
            "preferences[1]: email/drift_alert is listed twice",
        ),
    ],
)
def test_bad_preferences_are_400_and_change_nothing(
    editor: Client, body: Any, message: str
) -> None:
    before = editor.get(f"{DEMO}/notification-preferences/").json()

    response = put_json(editor, f"{DEMO}/notification-preferences/", body)

    assert response.status_code == 400
    assert response.json() == {"error": message}
    assert editor.get(f"{DEMO}/notification-preferences/").json() == before


def test_other_methods_are_405(client: Client) -> None:
    assert client.post(f"{DEMO}/notification-preferences/").status_code == 405
    assert client.delete(f"{DEMO}/").status_code == 405


def test_health_is_200_when_nothing_is_pending(client: Client) -> None:
    response = client.get("/health/")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "pending": [], "problems": []}


def test_health_is_503_listing_pending_versions(
    client: Client, tmp_path: Path, settings: Any
) -> None:
    migrations = copy_backend_migrations(tmp_path / "migrations")
    (migrations / "004_add_risk_profile.up.sql").write_text("SELECT 1;")
    (migrations / "004_add_risk_profile.down.sql").write_text("SELECT 1;")
    settings.SQLMIGRATIONS_DIRS = [migrations]

    response = client.get("/health/")

    assert response.status_code == 503
    assert response.json() == {"status": "migrations_needed", "pending": [4], "problems": []}


def test_the_models_read_the_sql_tables(db: None) -> None:
    demo = Portfolio.objects.get(pk="demo-portfolio-1")

    assert demo.rebalance_events.count() == 4
    assert demo.analytics_snapshots.count() == 3


@pytest.mark.parametrize(
    "model", ["portfolio", "rebalanceevent", "analyticssnapshot", "notificationpreference"]
)
def test_admin_lists_each_table(admin_client: Client, model: str) -> None:
    response = admin_client.get(f"/admin/backend/{model}/")

    assert response.status_code == 200
    assert b"demo-portfolio-1" in response.content or b"Demo balanced portfolio" in response.content
