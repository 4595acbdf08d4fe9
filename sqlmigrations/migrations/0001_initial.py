from django.db import migrations, models


def create_table(apps, schema_editor):  # type: ignore[no-untyped-def]
    from django.core.management.base import CommandError

    from sqlmigrations.foreign_history import TABLE, ForeignHistory, refuse_foreign

    connection = schema_editor.connection
    if TABLE in connection.introspection.table_names():
        # Another runner's table of this name: manage.py migrate says whose and how to
        # adopt it (one line, exit 2), as the sqlmigrate commands do.
        try:
            refuse_foreign(connection)
        except ForeignHistory as exc:
            raise CommandError(str(exc), returncode=2) from None
    schema_editor.create_model(apps.get_model("sqlmigrations", "SchemaMigration"))


def drop_table(apps, schema_editor):  # type: ignore[no-untyped-def]
    schema_editor.delete_model(apps.get_model("sqlmigrations", "SchemaMigration"))


class Migration(migrations.Migration):
    initial = True

    dependencies: list[tuple[str, str]] = []

    operations = [
        migrations.CreateModel(
            name="SchemaMigration",
            fields=[
                ("version", models.BigIntegerField(primary_key=True, serialize=False)),
                (
                    "name",
                    models.CharField(help_text="File stem, e.g. 001_initial_schema", max_length=255),
                ),
                (
                    "checksum",
                    models.CharField(help_text="SHA-256 of the up file as applied", max_length=64),
                ),
                ("applied_at", models.DateTimeField()),
                (
                    "execution_ms",
                    models.PositiveIntegerField(help_text="Time the up file took to run"),
                ),
                (
                    "dirty",
                    models.BooleanField(
                        default=False,
                        help_text="Set while a no-transaction migration runs; "
                        "still set if it stopped midway",
                    ),
                ),
            ],
            options={
                "verbose_name": "schema migration",
                "db_table": "schema_migrations",
                "ordering": ["version"],
                "managed": False,
            },
        ),
        # The model is unmanaged (see models.py), so its table is created here explicitly.
        migrations.RunPython(create_table, drop_table),
    ]
