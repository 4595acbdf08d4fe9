import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")
application = get_wsgi_application()

from backend.serving import require_safe_to_serve  # noqa: E402  (needs the settings loaded)

require_safe_to_serve()
