"""Signals sent after each migration, for notifications and audit logs.

Receivers get ``version``, ``name``, ``database``, ``duration_ms`` and ``fake``;
the sender is the Executor class. They run after the migration has committed.
"""

from django.dispatch import Signal

migration_applied = Signal()
migration_reverted = Signal()
