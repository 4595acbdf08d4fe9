"""A real browser (Debian's chromium, driven by selenium through chromedriver) against a
real runserver of the project as the README sets it up, on SQLite and PostgreSQL.

Locally the test is skipped when chromium, chromedriver or selenium is missing; CI
(.ci/run) installs them and sets SQLMIGRATIONS_REQUIRE_BROWSER=1, which makes a missing
browser a failure instead, as SQLMIGRATIONS_REQUIRE_POSTGRES does for PostgreSQL.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import (
    create_postgres_database,
    drop_postgres_database,
    postgres_url_for,
    require_postgres,
)
from tests.demo_project import PASSWORD, create_superuser, runserver, set_up_fresh_project

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
REQUIRE_BROWSER = os.environ.get("SQLMIGRATIONS_REQUIRE_BROWSER") == "1"
PREFS = "/api/portfolios/demo-portfolio-1/notification-preferences/"
WAIT = 15  # seconds for any one page to show what the test waits for


def no_browser(reason: str) -> None:
    if REQUIRE_BROWSER:
        pytest.fail(f"{reason} (SQLMIGRATIONS_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    for program in (CHROMIUM, CHROMEDRIVER):
        if not shutil.which(program):
            no_browser(f"{program} is missing: apt-get install chromium chromium-driver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        no_browser("selenium is missing: pip install -e '.[test]'")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    # The driver named here is used as is: selenium never looks for or downloads another.
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT)
    driver.set_script_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The base URL of a runserver of the project after the README's set-up, with an admin."""
    url = None
    if request.param == "postgresql":
        require_postgres()
        name = create_postgres_database()
        url = postgres_url_for(name)
    try:
        project = set_up_fresh_project(tmp_path / "project", database_url=url)
        create_superuser(project, database_url=url)
        with runserver(project, {"DATABASE_URL": url} if url else {}) as base:
            yield base
    finally:
        if url:
            drop_postgres_database(name)


def api_preferences(base: str) -> dict[tuple[str, str], bool]:
    with urllib.request.urlopen(base + PREFS, timeout=WAIT) as response:
        body = json.load(response)
    return {(p["channel"], p["event_type"]): p["enabled"] for p in body["preferences"]}


def put_from_the_page(driver: Any, csrf: bool) -> int:
    """A PUT sent by the page's own JavaScript, with the session cookie the browser adds."""
    return int(
        driver.execute_async_script(
            """
            const [url, withCsrf, done] = arguments;
            const token = (document.cookie.match(/csrftoken=([^;]+)/) || [])[1];
            const headers = {"Content-Type": "application/json"};
            if (withCsrf) headers["X-CSRFToken"] = token;
            fetch(url, {method: "PUT", headers, credentials: "same-origin", body: JSON.stringify(
                {preferences: [{channel: "webhook", event_type: "daily_summary", enabled: true}]}
            )}).then(r => done(r.status), e => done(String(e)));
            """,
            PREFS,
            csrf,
        )
    )


def test_log_in_change_a_preference_in_the_admin_and_see_it_in_the_api(
    browser: Any, served: str
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as shows
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, WAIT)
    assert api_preferences(served)[("sms", "rebalance_failed")] is False

    # Log into the admin.
    browser.get(f"{served}/admin/login/?next=/admin/")
    browser.find_element(By.ID, "id_username").send_keys("admin")
    browser.find_element(By.ID, "id_password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait.until(shows.url_to_be(f"{served}/admin/"))
    assert "Site administration" in browser.find_element(By.ID, "content").text

    # Open the portfolio.
    browser.get(f"{served}/admin/backend/portfolio/demo-portfolio-1/change/")
    assert browser.find_element(By.ID, "id_name").get_attribute("value") == (
        "Demo balanced portfolio"
    )

    # Turn a preference on in the admin and save it.
    browser.get(
        f"{served}/admin/backend/notificationpreference/?channel=sms&event_type=rebalance_failed"
    )
    [row] = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    row.find_element(By.CSS_SELECTOR, "th a").click()
    enabled = wait.until(shows.element_to_be_clickable((By.ID, "id_enabled")))
    assert not enabled.is_selected()
    enabled.click()
    browser.find_element(By.NAME, "_save").click()
    message = wait.until(shows.presence_of_element_located((By.CSS_SELECTOR, ".messagelist")))
    assert "was changed successfully" in message.text

    assert api_preferences(served)[("sms", "rebalance_failed")] is True

    # The API from the logged-in page: refused without the CSRF token, done with it.
    assert put_from_the_page(browser, csrf=False) == 403
    assert api_preferences(served)[("sms", "rebalance_failed")] is True
    assert put_from_the_page(browser, csrf=True) == 200
    assert api_preferences(served) == {("webhook", "daily_summary"): True}
