from django.apps import AppConfig


class BackendConfig(AppConfig):
    name = "backend"
    verbose_name = "Portfolios"
    default_auto_field = "django.db.models.BigAutoField"
