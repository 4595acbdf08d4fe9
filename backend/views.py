"""A small read-mostly JSON API over the portfolio tables, and a health check."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.core.paginator import Paginator
from django.db import transaction
from django.forms import Form
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from backend.api_errors import allow, error, too_big
from backend.forms import NotificationPreferenceForm, PageForm, SnapshotRangeForm
from backend.health import report
from backend.models import AnalyticsSnapshot, NotificationPreference, Portfolio, RebalanceEvent
from backend.write_access import refuse_write

DEFAULT_PAGE_SIZE = 20


def form_message(form: Form) -> str:
    parts: list[str] = []
    for field, errors in form.errors.items():
        label = "" if field == "__all__" else f"{field}: "
        parts.extend(f"{label}{message}" for message in errors)
    return "; ".join(parts)


def form_error(form: Form) -> JsonResponse:
    return error(400, form_message(form))


def with_portfolio(view: Callable[..., JsonResponse]) -> Callable[..., JsonResponse]:
    """Resolve the URL's portfolio id, answering a JSON 404 for an unknown one."""

    @wraps(view)
    def wrapper(request: HttpRequest, portfolio_id: str) -> JsonResponse:
        # No id holds a NUL (PostgreSQL's text cannot, and the driver refuses to send one).
        exists = "\x00" not in portfolio_id
        portfolio = Portfolio.objects.filter(pk=portfolio_id).first() if exists else None
        if portfolio is None:
            return error(404, f"portfolio '{portfolio_id}' does not exist")
        return view(request, portfolio)

    return wrapper


def decimal_text(value: Any) -> str | None:
    """Decimals as strings in JSON, so no precision is lost to floats."""
    return None if value is None else str(value)


def portfolio_json(portfolio: Portfolio) -> dict[str, Any]:
    return {
        "id": portfolio.id,
        "name": portfolio.name,
        "owner_email": portfolio.owner_email,
        "base_currency": portfolio.base_currency,
        "target_allocation": portfolio.target_allocation,
        "drift_threshold_pct": str(portfolio.drift_threshold_pct),
        "rebalance_frequency": portfolio.rebalance_frequency,
        "created_at": portfolio.created_at.isoformat(),
        "updated_at": portfolio.updated_at.isoformat(),
    }


def event_json(event: RebalanceEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "idempotency_key": event.idempotency_key,
        "trigger": event.trigger,
        "status": event.status,
        "trades": event.trades,
        "drift_before_pct": decimal_text(event.drift_before_pct),
        "triggered_at": event.triggered_at.isoformat(),
        "completed_at": event.completed_at.isoformat() if event.completed_at else None,
        "failure_reason": event.failure_reason,
    }


def snapshot_json(snapshot: AnalyticsSnapshot) -> dict[str, Any]:
    return {
        "date": snapshot.snapshot_date.isoformat(),
        "total_value": decimal_text(snapshot.total_value),
        "daily_return_pct": decimal_text(snapshot.daily_return_pct),
        "cumulative_return_pct": decimal_text(snapshot.cumulative_return_pct),
        "allocation": snapshot.allocation,
    }


def preferences_json(portfolio: Portfolio) -> dict[str, Any]:
    return {
        "portfolio": portfolio.id,
        "preferences": [
            {"channel": p.channel, "event_type": p.event_type, "enabled": p.enabled}
            for p in portfolio.notification_preferences.all()
        ],
    }


@allow("GET")
def portfolio_list(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"results": [portfolio_json(p) for p in Portfolio.objects.all()]})


@allow("GET")
@with_portfolio
def portfolio_detail(request: HttpRequest, portfolio: Portfolio) -> JsonResponse:
    return JsonResponse(portfolio_json(portfolio))


@allow("GET")
@with_portfolio
def rebalance_events(request: HttpRequest, portfolio: Portfolio) -> JsonResponse:
    form = PageForm(request.GET)
    if not form.is_valid():
        return form_error(form)
    page_size = form.cleaned_data["page_size"] or DEFAULT_PAGE_SIZE
    paginator = Paginator(portfolio.rebalance_events.order_by("-triggered_at", "-id"), page_size)
    number = form.cleaned_data["page"] or 1
    if number > max(paginator.num_pages, 1):
        return error(400, f"page: {number} is past the last page ({paginator.num_pages})")
    page = paginator.page(number)
    return JsonResponse(
        {
            "count": paginator.count,
            "page": number,
            "page_size": page_size,
            "num_pages": paginator.num_pages,
            "results": [event_json(e) for e in page.object_list],
        }
    )


@allow("GET")
@with_portfolio
def analytics_snapshots(request: HttpRequest, portfolio: Portfolio) -> JsonResponse:
    form = SnapshotRangeForm(request.GET)
    if not form.is_valid():
        return form_error(form)
    snapshots = portfolio.analytics_snapshots.order_by("snapshot_date")
    if form.cleaned_data["start"]:
        snapshots = snapshots.filter(snapshot_date__gte=form.cleaned_data["start"])
    if form.cleaned_data["end"]:
        snapshots = snapshots.filter(snapshot_date__lte=form.cleaned_data["end"])
    return JsonResponse(
        {"portfolio": portfolio.id, "results": [snapshot_json(s) for s in snapshots]}
    )


# Reading is public. Writes are checked by refuse_write: CSRF for a browser session, none
# for a token (which no browser sends by itself), so the middleware's check is off here.
@csrf_exempt
@allow("GET", "PUT")
@with_portfolio
def notification_preferences(request: HttpRequest, portfolio: Portfolio) -> JsonResponse:
    if request.method == "GET":
        return JsonResponse(preferences_json(portfolio))
    refused = refuse_write(request, "backend.change_notificationpreference")
    if refused is not None:
        return refused
    return replace_preferences(request, portfolio)


def json_body(request: HttpRequest) -> Any:
    """The request's JSON body, or the JSON error response that answers it."""
    media_type = (request.content_type or "").lower()
    charset = (request.content_params or {}).get("charset", "utf-8").lower()
    if media_type != "application/json" or charset not in ("utf-8", "utf8"):
        return error(415, "the request body must be JSON: send Content-Type: application/json")
    try:
        body = request.body
    except RequestDataTooBig:
        return too_big(request)
    try:
        return json.loads(body or b"null")
    except RecursionError:
        return error(400, "the request body nests too deeply")
    except (UnicodeDecodeError, json.JSONDecodeError):
        return error(400, "the request body is not valid JSON")
    except ValueError:  # an integer of more digits than int() converts
        return error(400, "the request body holds a number too long to read")


def replace_preferences(request: HttpRequest, portfolio: Portfolio) -> JsonResponse:
    """PUT replaces the whole set: listed pairs are stored, unlisted ones removed."""
    body = json_body(request)
    if isinstance(body, JsonResponse):
        return body
    items = body.get("preferences") if isinstance(body, dict) else None
    if not isinstance(items, list):
        return error(
            400,
            'expected a JSON object {"preferences": [{"channel", "event_type", "enabled"}, ...]}',
        )
    cleaned = []
    seen = set()
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            return error(400, f"preferences[{index}]: expected an object")
        unknown = set(item) - {"channel", "event_type", "enabled"}
        if unknown:
            return error(400, f"preferences[{index}]: unknown field {sorted(unknown)[0]!r}")
        form = NotificationPreferenceForm(item)
        if not form.is_valid():
            return error(400, f"preferences[{index}]: {form_message(form)}")
        key = (form.cleaned_data["channel"], form.cleaned_data["event_type"])
        if key in seen:
            return error(400, f"preferences[{index}]: {key[0]}/{key[1]} is listed twice")
        seen.add(key)
        cleaned.append(form.cleaned_data)
    with transaction.atomic():
        portfolio.notification_preferences.all().delete()
        NotificationPreference.objects.bulk_create(
            NotificationPreference(portfolio=portfolio, updated_at=timezone.now(), **data)
            for data in cleaned
        )
    return JsonResponse(preferences_json(portfolio))


@allow("GET")
def health(request: HttpRequest) -> JsonResponse:
    """200 when the database holds every migration; 503 otherwise, for load balancers.

    Details (names, paths, messages) for staff only (backend/health.py)."""
    body, status = report("default", details=request.user.is_staff)
    return JsonResponse(body, status=status)
