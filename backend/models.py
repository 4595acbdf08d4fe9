"""Models over the tables created by backend/db/migrations, and the API's tokens.

The portfolio models are ``managed = False``: the SQL files own the schema, so Django
never creates, alters or flushes these tables. Choices mirror the CHECK constraints.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class Portfolio(models.Model):
    FREQUENCIES = [(f, f) for f in ("manual", "daily", "weekly", "monthly", "quarterly")]

    id = models.TextField(primary_key=True)
    name = models.TextField()
    owner_email = models.TextField()
    base_currency = models.CharField(max_length=3)
    target_allocation = models.JSONField(default=dict)
    drift_threshold_pct = models.DecimalField(max_digits=5, decimal_places=2)
    rebalance_frequency = models.TextField(choices=FREQUENCIES)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        managed = False
        db_table = "portfolios"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"


class RebalanceEvent(models.Model):
    TRIGGERS = [(t, t) for t in ("scheduled", "drift", "manual", "cash_flow")]
    STATUSES = [(s, s) for s in ("pending", "executing", "completed", "failed", "cancelled")]

    portfolio = models.ForeignKey(
        Portfolio, on_delete=models.DO_NOTHING, related_name="rebalance_events"
    )  # the database cascades
    idempotency_key = models.TextField(unique=True)
    trigger = models.TextField(choices=TRIGGERS)
    status = models.TextField(choices=STATUSES)
    trades = models.JSONField(default=list)
    drift_before_pct = models.DecimalField(max_digits=6, decimal_places=3, null=True)
    triggered_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True)
    failure_reason = models.TextField(null=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        managed = False
        db_table = "rebalance_events"
        ordering = ["-triggered_at", "-id"]

    def __str__(self) -> str:
        return f"{self.portfolio_id} {self.trigger} {self.triggered_at:%Y-%m-%d}"


class AnalyticsSnapshot(models.Model):
    portfolio = models.ForeignKey(
        Portfolio, on_delete=models.DO_NOTHING, related_name="analytics_snapshots"
    )
    snapshot_date = models.DateField()
    total_value = models.DecimalField(max_digits=20, decimal_places=2)
    daily_return_pct = models.DecimalField(max_digits=9, decimal_places=4, null=True)
    cumulative_return_pct = models.DecimalField(max_digits=9, decimal_places=4, null=True)
    allocation = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        managed = False
        db_table = "analytics_snapshots"
        ordering = ["snapshot_date"]

    def __str__(self) -> str:
        return f"{self.portfolio_id} {self.snapshot_date}"


class NotificationPreference(models.Model):
    CHANNELS = [(c, c) for c in ("email", "push", "sms", "webhook")]
    EVENT_TYPES = [
        (e, e) for e in ("rebalance_completed", "rebalance_failed", "drift_alert", "daily_summary")
    ]

    portfolio = models.ForeignKey(
        Portfolio, on_delete=models.DO_NOTHING, related_name="notification_preferences"
    )
    channel = models.TextField(choices=CHANNELS)
    event_type = models.TextField(choices=EVENT_TYPES)
    enabled = models.BooleanField(default=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        managed = False
        db_table = "notification_preferences"
        ordering = ["channel", "event_type"]

    def __str__(self) -> str:
        return f"{self.portfolio_id} {self.channel}/{self.event_type}"


class ApiToken(models.Model):
    """A key a script sends as ``Authorization: Bearer <key>`` to write through the API.

    Unlike the tables above, Django owns this one (backend/migrations, with auth_user):
    it belongs with the users, not with the portfolio schema. Only the key's SHA-256 is
    stored, so a leaked database or backup gives no usable key; the key is shown once,
    by ``manage.py create_api_token``.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, blank=True, help_text="what the token is for")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        db_table = "backend_api_tokens"
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.user} {self.name or '(unnamed)'} {self.created_at:%Y-%m-%d}"
