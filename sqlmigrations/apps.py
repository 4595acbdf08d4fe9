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
