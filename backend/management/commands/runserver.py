"""runserver, refusing to start where backend.wsgi would refuse (backend/serving.py)."""

from typing import Any

from django.contrib.staticfiles.management.commands.runserver import Command as StaticRunserver
from django.core.exceptions import ImproperlyConfigured

from backend.serving import require_safe_to_serve


class Command(StaticRunserver):
    def handle(self, *args: Any, **options: Any) -> None:
        try:
            require_safe_to_serve()
        except ImproperlyConfigured as exc:
            # Bad input, one line, exit 2, before the autoreloader starts.
            self.stderr.write(f"ImproperlyConfigured: {exc}")
            raise SystemExit(2) from None
        super().handle(*args, **options)
