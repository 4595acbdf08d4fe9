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
            if settings.configured or wants_traceback(sys.argv):
                raise
            message = " ".join(str(exc).split())
            sys.stderr.write(f"ImproperlyConfigured: {message}\n")
            sys.exit(2)
    except KeyboardInterrupt as exc:
        # A command of sqlmigrations reports its own interruptions; one that gets here
        # came before any command started, unless it came from another command.
        if command_started(exc) or wants_traceback(sys.argv):
            raise
        sys.stderr.write("Interrupted during start-up; nothing was changed.\n")
        sys.exit(INTERRUPTED)


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
