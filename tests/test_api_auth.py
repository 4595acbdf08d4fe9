"""Writes through the API need a user with the change permission; reading stays public.

On the test database Django's migrate built (auth tables, backend_api_tokens) together
with the SQL migrations (the portfolio tables and the demo rows).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from backend.models import ApiToken, NotificationPreference
from backend.tokens import create_token

pytestmark = pytest.mark.django_db
PREFS = "/api/portfolios/demo-portfolio-1/notification-preferences/"
WANTED = {"preferences": [{"channel": "push", "event_type": "drift_alert", "enabled": True}]}


def stored() -> list[tuple[str, str, bool]]:
    return sorted(
        NotificationPreference.objects.filter(portfolio_id="demo-portfolio-1").values_list(
            "channel", "event_type", "enabled"
        )
    )


def put(client: Client, **headers: str) -> Any:
    return client.put(
        PREFS, data=json.dumps(WANTED), content_type="application/json", headers=headers
    )


def user(name: str, *, can_change: bool, active: bool = True) -> User:
    account = User.objects.create_user(name, password="pw-for-tests", is_active=active)
    if can_change:
        account.user_permissions.add(
            Permission.objects.get(codename="change_notificationpreference")
        )
    return account


def assert_refused(response: Any, status: int, before: list[Any], words: str) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert words in response.json()["error"]
    assert stored() == before


def test_reading_is_public() -> None:
    response = Client().get(PREFS)

    assert response.status_code == 200
    assert len(response.json()["preferences"]) == 4


def test_an_anonymous_write_is_401_and_changes_nothing() -> None:
    before = stored()

    response = put(Client())

    assert_refused(response, 401, before, "writing needs authentication")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_a_session_without_the_permission_is_403() -> None:
    client = Client()
    client.force_login(user("viewer", can_change=False))
    before = stored()

    assert_refused(put(client), 403, before, "backend.change_notificationpreference")


def test_a_session_with_the_permission_needs_the_csrf_token() -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user("editor", can_change=True))
    before = stored()

    assert_refused(put(client), 403, before, "CSRF check failed")
    assert_refused(put(client, X_CSRFToken="forged" * 6), 403, before, "CSRF check failed")

    client.get("/admin/login/")  # sets the csrftoken cookie, as any admin page does
    response = put(client, X_CSRFToken=client.cookies["csrftoken"].value)

    assert response.status_code == 200, response.content
    assert stored() == [("push", "drift_alert", True)]


def test_a_superuser_session_may_write() -> None:
    client = Client()
    client.force_login(User.objects.create_superuser("root", password="pw-for-tests"))

    assert put(client).status_code == 200
    assert stored() == [("push", "drift_alert", True)]


def test_a_token_writes_without_session_or_csrf() -> None:
    key = create_token(user("script", can_change=True), "nightly sync")
    client = Client(enforce_csrf_checks=True)

    response = put(client, Authorization=f"Bearer {key}")

    assert response.status_code == 200, response.content
    assert stored() == [("push", "drift_alert", True)]


def test_a_token_wins_over_the_session() -> None:
    """A bad token is refused even from a browser logged in as an editor."""
    client = Client()
    client.force_login(user("editor", can_change=True))
    before = stored()

    assert_refused(put(client, Authorization="Bearer nope"), 401, before, "token is not valid")


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer   ", "Token abc", "Basic cm9vdDpwdw==", "abc", "Bearer not-a-token"],
)
def test_bad_authorization_headers_are_401(header: str) -> None:
    create_token(user("script", can_change=True))
    before = stored()

    response = put(Client(), Authorization=header)

    assert_refused(response, 401, before, "")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_a_token_of_a_user_without_the_permission_is_403() -> None:
    key = create_token(user("viewer", can_change=False))
    before = stored()

    assert_refused(put(Client(), Authorization=f"Bearer {key}"), 403, before, "permission")


def test_a_token_of_an_inactive_user_is_401() -> None:
    key = create_token(user("gone", can_change=True, active=False))
    before = stored()

    assert_refused(put(Client(), Authorization=f"Bearer {key}"), 401, before, "inactive")


def test_a_deleted_token_no_longer_works() -> None:
    key = create_token(user("script", can_change=True))
    ApiToken.objects.all().delete()
    before = stored()

    assert_refused(put(Client(), Authorization=f"Bearer {key}"), 401, before, "token")


def test_create_api_token_prints_a_working_key_stored_only_as_a_hash(capsys: Any) -> None:
    user("script", can_change=True)

    call_command("create_api_token", "script", "--name", "nightly sync")
    key = capsys.readouterr().out.strip()

    assert len(key) >= 40
    token = ApiToken.objects.get()
    assert (token.user.username, token.name) == ("script", "nightly sync")
    assert key not in token.digest
    assert put(Client(), Authorization=f"Bearer {key}").status_code == 200


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody"], "no user named 'nobody': create one with createsuperuser first"),
        (["gone"], "user 'gone' is inactive"),
        (["script", "--name", "x" * 101], "--name: at most 100 characters"),
    ],
)
def test_create_api_token_refuses_bad_input(args: list[str], message: str) -> None:
    user("gone", can_change=True, active=False)
    user("script", can_change=True)

    with pytest.raises(CommandError) as caught:
        call_command("create_api_token", *args)

    assert (caught.value.returncode, str(caught.value)) == (2, message)
    assert not ApiToken.objects.exists()
