"""The history in Django's admin, read-only: it changes only by running migrations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.http import HttpRequest

from sqlmigrations.models import SchemaMigration

if TYPE_CHECKING:
    ModelAdmin = admin.ModelAdmin[SchemaMigration]
else:
    ModelAdmin = admin.ModelAdmin


@admin.register(SchemaMigration)
class SchemaMigrationAdmin(ModelAdmin):
    list_display = ["version", "name", "applied_at", "duration", "state"]
    list_display_links = ["version", "name"]
    list_filter = ["dirty"]
    search_fields = ["name"]
    fields = ("version", "name", "checksum", "applied_at", "duration", "state")
    readonly_fields = ("version", "name", "checksum", "applied_at", "duration", "state")
    date_hierarchy = "applied_at"

    @admin.display(description="duration", ordering="execution_ms")
    def duration(self, obj: SchemaMigration) -> str:
        return f"{obj.execution_ms} ms"

    @admin.display(description="state", ordering="dirty")
    def state(self, obj: SchemaMigration) -> str:
        # A no-transaction migration's row stays dirty if it stopped midway.
        return "failed, may be partly applied" if obj.dirty else "applied"

    # A row written or removed by hand would make the history lie about the schema:
    # sqlmigrate_up / _down / _repair are the only ways to change it.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
