"""A real ``manage.py runserver`` process on a free loopback port, for tests that need one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


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
        env={**os.environ, **env, "DJANGO_DEBUG": "1"},
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
