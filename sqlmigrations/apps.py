from django.apps import AppConfig
from django.db.models.signals import post_migrate


class SqlMigrationsConfig(AppConfig):
    name = "sqlmigrations"
    verbose_name = "SQL migrations"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from sqlmigrations import checks  # noqa: F401  (registers the system check)
        from sqlmigrations.testdb import apply_on_migrate

        # One call per migrate run: the signal is sent once per app, filter on ours.
        post_migrate.connect(apply_on_migrate, sender=self, dispatch_uid="sqlmigrations.apply")
        warn_about_sql_migrations_on_runserver()


def warn_about_sql_migrations_on_runserver() -> None:
    """runserver warns about unapplied Django migrations through check_migrations();
    the SQL migrations' warning follows it, in every runserver built on Django's
    (staticfiles', a project's own). Django offers no hook there, so the method is
    wrapped, once."""
    from django.core.management.base import BaseCommand
    from django.core.management.commands.runserver import Command

    original = Command.check_migrations
    if getattr(original, "sqlmigrations", False):
        return

    def check_migrations(self: BaseCommand) -> None:
        from sqlmigrations.pending import warn_on_runserver

        original(self)
        warn_on_runserver(self)

    check_migrations.sqlmigrations = True  # type: ignore[attr-defined]
    Command.check_migrations = check_migrations  # type: ignore[method-assign]
