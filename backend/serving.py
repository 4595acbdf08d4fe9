"""The one check that stands between the settings and serving requests.

Commands such as sqlmigrate_up work on a fresh checkout with no environment at all;
serving does not: without DEBUG, a server signing sessions and CSRF tokens with the
development key (public, in this repository) would let anyone forge them.
"""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

INSECURE_PREFIX = "django-insecure-"


def require_safe_to_serve() -> None:
    """Raise ImproperlyConfigured if this process must not serve requests."""
    if settings.DEBUG:
        return
    if settings.SECRET_KEY.startswith(INSECURE_PREFIX):
        raise ImproperlyConfigured(
            "DJANGO_SECRET_KEY is not set (or is a development key): set it to a long random "
            "string to serve requests, or set DJANGO_DEBUG=1 for local development only"
        )
