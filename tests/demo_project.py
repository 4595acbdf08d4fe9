"""The project as a newcomer sets it up (the README's set-up command, on a fresh copy),
and a real ``manage.py runserver`` of it on a free loopback port."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import REPO, manage

PASSWORD = "a-newcomer-password-42"


def readme_setup_commands() -> list[list[str]]:
    """The ``python manage.py ...`` steps of the README's set-up command, as argument lists."""
    section = (REPO / "README.md").read_text().split("\n## Set-up\n", 1)[1]
    block = re.search(r"```sh\n(.*?)\n```", section, re.S)
    assert block, "the README's Set-up section has no sh block"
    steps = [shlex.split(step) for step in block[1].split("&&")]
    return [step[2:] for step in steps if step[:2] == ["python", "manage.py"]]


def set_up_fresh_project(project: Path, database_url: str | None = None) -> Path:
    """A copy of the project as a clone has it, after the README's set-up command."""
    project.mkdir()
    shutil.copy(REPO / "manage.py", project)
    shutil.copytree(
        REPO / "backend", project / "backend", ignore=shutil.ignore_patterns("__pycache__")
    )
    steps = readme_setup_commands()
    assert steps, "the README's set-up command runs no manage.py step"
    for step in steps:
        result = manage(*step, cwd=project, database_url=database_url)
        assert result.code == 0, f"{step}: {result.output}"
    return project


def create_superuser(
    project: Path, username: str = "admin", database_url: str | None = None
) -> None:
    result = manage(
        "createsuperuser",
        "--noinput",
        "--username",
        username,
        "--email",
        f"{username}@example.com",
        cwd=project,
        database_url=database_url,
        env={"DJANGO_SUPERUSER_PASSWORD": PASSWORD},
    )
    assert result.code == 0, result.output
    assert "Superuser created successfully." in result.out


@contextmanager
def runserver(project: Path, env: dict[str, str]) -> Iterator[str]:
    """Serve ``project`` with DEBUG on (the README's local set-up); yields the base URL.

    Waits at most 30 s for the first answer; the server is stopped on the way out."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=project,
        env={
            **{
                k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "DB_PATH"))
            },
            **env,
            "DJANGO_DEBUG": "1",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/portfolios/", timeout=2).close()
                break
            except urllib.error.HTTPError:
                break  # it answers
            except OSError:
                if server.poll() is not None:
                    raise AssertionError(f"runserver exited: {server.stderr.read()}") from None  # type: ignore[union-attr]
                if time.monotonic() > deadline:
                    raise AssertionError("runserver did not answer within 30 s") from None
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
