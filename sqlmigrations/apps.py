from django.apps import AppConfig


class SqlMigrationsConfig(AppConfig):
    name = "sqlmigrations"
    verbose_name = "SQL migrations"
    default_auto_field = "django.db.models.BigAutoField"
