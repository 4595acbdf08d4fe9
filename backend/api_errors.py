"""JSON answers for every failed API request: the API never answers an HTML page.

Paths under /api/ and /health/ are the API. An exception in one of its views becomes
JSON here even with DEBUG on (the traceback goes to the django.request log instead).
Errors raised before a view (a refused Host header) reach the handlers at the end, which
answer JSON for the API and Django's own pages elsewhere (the admin); in DEBUG Django
answers them with its technical page, which the middleware, first in MIDDLEWARE,
replaces by JSON on the way out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from http import HTTPStatus
from typing import Any

from django.core.exceptions import (
    BadRequest,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
)
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.urls import Resolver404, resolve
from django.views import defaults

logger = logging.getLogger("django.request")
API_PREFIXES = ("/api/", "/health/")


def error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIXES) or request.path_info == "/api"


def is_json(response: HttpResponse) -> bool:
    return response.get("Content-Type", "").startswith("application/json")


def too_big(request: HttpRequest) -> JsonResponse:
    from django.conf import settings

    return error(
        413,
        f"the request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes",
    )


def for_exception(request: HttpRequest, exc: BaseException) -> JsonResponse:
    """The JSON answer for an exception; a 500 says nothing of its cause."""
    if isinstance(exc, Http404):
        return error(404, "not found")
    if isinstance(exc, PermissionDenied):
        return error(403, "permission denied")
    if isinstance(exc, RequestDataTooBig):
        return too_big(request)
    if isinstance(exc, TooManyFieldsSent):
        return error(400, "too many query or form fields")
    if isinstance(exc, (BadRequest, SuspiciousOperation)):
        return error(400, "bad request")
    return error(500, "internal server error")


class JsonErrorsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if is_api(request) and response.status_code >= 400 and not is_json(response):
            # An error from before any view (a refused Host, a CSRF failure): in DEBUG,
            # Django answers it with its technical page. Same status, JSON, no details.
            phrase = HTTPStatus(response.status_code).phrase.lower()
            replacement = error(response.status_code, phrase)
            if response.has_header("Allow"):
                replacement["Allow"] = response["Allow"]
            replacement._has_been_logged = True  # type: ignore[attr-defined]
            return replacement
        return response

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        if not is_api(request):
            return None  # Django's own handling: its pages, cleansed by backend.reporting
        response = for_exception(request, exc)
        if response.status_code >= 500:
            logger.error(
                "Internal Server Error: %s",
                request.path,
                exc_info=exc,
                extra={"status_code": response.status_code, "request": request},
            )
            # Logged once, with the traceback; Django would log it again without one.
            response._has_been_logged = True  # type: ignore[attr-defined]
        return response


def allow(*methods: str) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Like require_http_methods, but the 405 is JSON (with the Allow header)."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                response = error(
                    405, f"{request.method} is not allowed here; use {', '.join(methods)}"
                )
                response["Allow"] = ", ".join(methods)
                return response
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Any URL under /api/ that no route matches, whatever the method or DEBUG."""
    message = f"no such API endpoint: {request.path}"
    if not request.path_info.endswith("/"):
        try:
            match = resolve(request.path_info + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not not_found:
            message += " (the URL needs a trailing slash)"
    return error(404, message)


# handler400/403/404/500 in backend/urls.py.
def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return for_exception(request, exception)
    return defaults.bad_request(request, exception)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return error(403, "permission denied")
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api(request):
        return error(404, "not found")
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if is_api(request):
        return error(500, "internal server error")
    return defaults.server_error(request)
