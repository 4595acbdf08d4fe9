from django.contrib import admin
from django.http import HttpRequest

from backend.models import (
    AnalyticsSnapshot,
    ApiToken,
    NotificationPreference,
    Portfolio,
    RebalanceEvent,
)


@admin.register(Portfolio)
class PortfolioAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "owner_email", "base_currency", "rebalance_frequency"]
    list_filter = ["base_currency", "rebalance_frequency"]
    search_fields = ["id", "name", "owner_email"]


@admin.register(RebalanceEvent)
class RebalanceEventAdmin(admin.ModelAdmin):
    list_display = ["portfolio", "trigger", "status", "triggered_at", "completed_at"]
    list_filter = ["status", "trigger"]
    search_fields = ["portfolio__id", "idempotency_key"]
    date_hierarchy = "triggered_at"


@admin.register(AnalyticsSnapshot)
class AnalyticsSnapshotAdmin(admin.ModelAdmin):
    list_display = ["portfolio", "snapshot_date", "total_value", "daily_return_pct"]
    list_filter = ["portfolio"]
    date_hierarchy = "snapshot_date"


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(admin.ModelAdmin):
    list_display = ["portfolio", "channel", "event_type", "enabled"]
    list_filter = ["channel", "event_type", "enabled"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Listed to be revoked (deleted); made only by create_api_token, which shows the key."""

    list_display = ["user", "name", "created_at"]
    readonly_fields = ["user", "name", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
