"""Django's migrate, whose --check also fails while SQL migrations are pending when
SQLMIGRATIONS_APPLY_ON_MIGRATE = True says migrate applies them (testdb.py), and whose
--fake fakes them too."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import CommandError
from django.core.management.commands.migrate import Command as DjangoMigrate

from sqlmigrations import conf
from sqlmigrations.errors import ConfigurationError
from sqlmigrations.pending import outlook
from sqlmigrations.testdb import MIGRATE_FAKE


class Command(DjangoMigrate):
    def handle(self, *args: Any, **options: Any) -> None:
        try:
            # Read before anything runs: post_migrate reads it after Django's own.
            apply_on_migrate = conf.apply_on_migrate()
        except ConfigurationError as exc:
            raise CommandError(str(exc), returncode=2) from exc
        fake = MIGRATE_FAKE.set(bool(options["fake"]))
        try:
            super().handle(*args, **options)  # exits 1 itself if Django's own are pending
        finally:
            MIGRATE_FAKE.reset(fake)
        if not options["check_unapplied"] or apply_on_migrate is not True:
            return
        found = outlook(options["database"])
        if found is not None and (found.pending or found.error):
            if options["verbosity"] >= 1:
                self.stderr.write(
                    f"SQL migrations pending on database '{options['database']}': "
                    f"{found.pending_text}"
                    if found.pending
                    else f"cannot read the SQL migration history: {found.error}"
                )
            sys.exit(1)
