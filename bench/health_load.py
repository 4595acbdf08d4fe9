"""Load /health/ over loopback for a bounded time against N migration files.

Generates N migration pairs, applies them to a fresh SQLite file, serves the backend
with `manage.py runserver` (DEBUG off, one process, a thread per request) and drives it
with wrk (Debian's `wrk` package) for --seconds, or with a small Python client (threads
on http.client) when wrk is not installed. Prints requests/s and latency percentiles as
a Markdown table row.

    python bench/health_load.py --files 1000 --seconds 30
    python bench/health_load.py --files 1000 --seconds 30 --project /path/to/old/checkout

--project serves another checkout of this repository (e.g. one from before the health
check cached its files) against the same generated files, for a before/after.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def generate(directory: Path, n: int) -> None:
    directory.mkdir(parents=True)
    for i in range(1, n + 1):
        (directory / f"{i:04d}_create_t{i}.up.sql").write_text(
            f"CREATE TABLE t{i} (id integer PRIMARY KEY, name text NOT NULL);\n"
            f"CREATE INDEX t{i}_name_idx ON t{i} (name);\n"
        )
        (directory / f"{i:04d}_create_t{i}.down.sql").write_text(f"DROP TABLE t{i};\n")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_up(url_host: str, port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection(url_host, port, timeout=2)
            conn.request("GET", "/health/")
            status = conn.getresponse().status
            conn.close()
            if status != 200:
                raise SystemExit(f"/health/ answered {status}, expected 200")
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not answer within 60 s")


def with_wrk(port: int, seconds: int, connections: int) -> dict[str, float]:
    out = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "--timeout",
            "10s",
            f"http://127.0.0.1:{port}/health/",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    units = {"us": 0.001, "ms": 1.0, "s": 1000.0}

    def ms(label: str) -> float:
        match = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not match:
            raise SystemExit(f"no {label} latency in wrk's output:\n{out}")
        return float(match[1]) * units[match[2]]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {
        "requests/s": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),  # type: ignore[index]
        "p50 ms": ms("50%"),
        "p99 ms": ms("99%"),
        "errors": float(errors[1]) if errors else 0.0,
        "socket errors": 1.0 if socket_errors else 0.0,
    }


def with_python(port: int, seconds: int, connections: int) -> dict[str, float]:
    """Closed loop: each thread sends the next request when the last is answered."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker() -> None:
        mine: list[float] = []
        while time.monotonic() < stop:
            start = time.perf_counter()
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("GET", "/health/")
                ok = conn.getresponse().status == 200
                conn.close()
            except OSError:
                ok = False
            mine.append((time.perf_counter() - start) * 1000)
            if not ok:
                with lock:
                    errors[0] += 1
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "requests/s": len(latencies) / seconds,
        "p50 ms": cuts[49],
        "p99 ms": cuts[98],
        "errors": float(errors[0]),
        "socket errors": 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=1000, help="migration pairs to generate")
    parser.add_argument("--seconds", type=int, default=30, help="how long to load the server")
    parser.add_argument("--connections", type=int, default=8, help="concurrent connections")
    parser.add_argument("--project", type=Path, default=REPO, help="checkout to serve")
    parser.add_argument(
        "--client",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="load generator (auto: wrk if installed)",
    )
    args = parser.parse_args()
    client = args.client if args.client != "auto" else ("wrk" if shutil.which("wrk") else "python")

    with tempfile.TemporaryDirectory() as tmp:
        sql = Path(tmp) / "sql"
        generate(sql, args.files)
        env = {
            **{
                k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "DJANGO_"))
            },
            "PYTHONPATH": f"{args.project}{os.pathsep}{REPO}",
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "BENCH_SQL_DIR": str(sql),
            "DB_PATH": str(Path(tmp) / "bench.sqlite3"),
            "DJANGO_SECRET_KEY": "bench-" + os.urandom(16).hex(),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        }
        manage = [sys.executable, str(args.project / "manage.py")]
        subprocess.run(
            [*manage, "sqlmigrate_up", "-v", "0"],
            env=env,
            check=True,
            cwd=args.project,
            timeout=600,
        )
        port = free_port()
        server = subprocess.Popen(
            [*manage, "runserver", "--noreload", f"127.0.0.1:{port}"],
            env=env,
            cwd=args.project,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_until_up("127.0.0.1", port, time.monotonic() + 60)
            run = with_wrk if client == "wrk" else with_python
            result = run(port, args.seconds, args.connections)
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(
        f"| {args.files} | {client}, {args.connections} connections, {args.seconds} s "
        f"| {result['requests/s']:.1f} | {result['p50 ms']:.1f} | {result['p99 ms']:.1f} "
        f"| {int(result['errors'])} |"
    )


if __name__ == "__main__":
    main()
