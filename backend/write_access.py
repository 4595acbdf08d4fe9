"""Who may write through the API: a user with the model's change permission.

Reading is public. A write names its user in one of two ways:
- a script sends ``Authorization: Bearer <key>`` (backend/tokens.py); a browser never
  adds that header by itself, so no CSRF check is needed, and the session is ignored;
- a browser sends its admin session cookie, which it would send on a forged request
  from another site too, so Django's CSRF check runs (the ``X-CSRFToken`` header).
Anonymous or unknown callers get 401, known ones without the permission 403; the view
has not touched anything by then.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser, AnonymousUser
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware

from backend.api_errors import error
from backend.tokens import user_for_key

HOW_TO_AUTHENTICATE = (
    "send 'Authorization: Bearer <token>' (python manage.py create_api_token USER), "
    "or log in at /admin/ and send the csrftoken cookie's value as X-CSRFToken"
)


def unauthorized(message: str) -> JsonResponse:
    response = error(401, message)
    response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def _no_view(request: HttpRequest) -> HttpResponse:
    raise AssertionError("CsrfViewMiddleware.process_view never calls the view")


def csrf_refused(request: HttpRequest) -> bool:
    """Django's own CSRF check (origin, referer over HTTPS, token), as on any form."""
    return CsrfViewMiddleware(_no_view).process_view(request, _no_view, (), {}) is not None


def refuse_write(request: HttpRequest, permission: str) -> JsonResponse | None:
    """The 401/403 answer to a write that may not happen, or None to let it proceed."""
    user: AbstractUser | AnonymousUser
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, key = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return unauthorized(
                f"the Authorization header is not 'Bearer <token>': {HOW_TO_AUTHENTICATE}"
            )
        found = user_for_key(key.strip())
        if found is None:
            return unauthorized(
                "the token is not valid (unknown, revoked, or its user is inactive)"
            )
        user = found
    else:
        user = request.user
        if not user.is_authenticated:
            return unauthorized(f"writing needs authentication: {HOW_TO_AUTHENTICATE}")
        if csrf_refused(request):
            return error(
                403,
                "CSRF check failed: a browser session must send the csrftoken cookie's "
                "value in the X-CSRFToken header (scripts: use a token instead)",
            )
    if not user.has_perm(permission):
        return error(403, f"permission denied: this needs the {permission} permission")
    return None
