from django.db import models


class SchemaMigration(models.Model):
    """One applied SQL migration: the runner's memory of what the database holds."""

    version = models.BigIntegerField(primary_key=True)
    name = models.CharField(max_length=255, help_text="File stem, e.g. 001_initial_schema")
    checksum = models.CharField(max_length=64, help_text="SHA-256 of the up file as applied")
    applied_at = models.DateTimeField()
    execution_ms = models.PositiveIntegerField(help_text="Time the up file took to run")
    dirty = models.BooleanField(
        default=False,
        help_text="Set while a no-transaction migration runs; still set if it stopped midway",
    )

    class Meta:
        # Unmanaged, like Django's own django_migrations: a TransactionTestCase flush
        # empties every managed table, and an emptied history beside tables that
        # still exist would make the next run re-apply everything. The table is
        # created by this app's migration 0001 instead.
        managed = False
        db_table = "schema_migrations"
        ordering = ["version"]
        verbose_name = "schema migration"

    def __str__(self) -> str:
        return self.name
