#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys
import traceback

INTERRUPTED = 130


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
    try:
        from django.core.exceptions import ImproperlyConfigured
        from django.core.management import execute_from_command_line

        try:
            execute_from_command_line(sys.argv)
        except ImproperlyConfigured as exc:
            from django.conf import settings

            # Settings that failed to load (a bad DATABASE_URL) are bad input, exit 2,
            # said in one line; any other such error keeps Django's own report.
            if settings.configured:
                raise
            fail(f"ImproperlyConfigured: {' '.join(str(exc).split())}", 2)
    except KeyboardInterrupt as exc:
        # A command of sqlmigrations reports its own interruptions; one that gets here
        # came before any command started, unless it came from another command.
        if command_started(exc):
            raise
        fail("Interrupted during start-up; nothing was changed.", INTERRUPTED)


def fail(line: str, code: int) -> None:
    if wants_traceback(sys.argv):
        traceback.print_exc()
    sys.stderr.write(f"{line}\n")
    sys.exit(code)


def command_started(exc: BaseException) -> bool:
    return any(
        frame.f_code.co_name == "run_from_argv" for frame, _ in traceback.walk_tb(exc.__traceback__)
    )


def wants_traceback(argv: list[str]) -> bool:
    """--traceback or -v 3, which ask for the traceback behind an error."""
    for index, arg in enumerate(argv):
        if arg == "--traceback" or arg in ("-v3", "--verbosity=3"):
            return True
        if arg in ("-v", "--verbosity") and argv[index + 1 : index + 2] == ["3"]:
            return True
    return False


if __name__ == "__main__":
    main()
