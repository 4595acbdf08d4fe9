"""Run by Django's test runner and by pytest (also in subprocesses, see
test_test_runner.py): the test database must hold what the SQL migrations made."""

from django.test import TestCase, TransactionTestCase

from backend.models import Portfolio
from sqlmigrations.models import SchemaMigration


class SqlSchemaTests(TestCase):
    def test_demo_portfolio_comes_from_the_sql_seed(self) -> None:
        self.assertEqual(list(Portfolio.objects.values_list("id", flat=True)), ["demo-portfolio-1"])

    def test_every_sql_migration_is_recorded(self) -> None:
        versions = list(SchemaMigration.objects.values_list("version", flat=True))
        self.assertEqual(versions[:2], [1, 2])


class FlushKeepsHistoryTests(TransactionTestCase):
    """A TransactionTestCase flushes tables after each test; the history must survive."""

    def test_flush_runs_after_this(self) -> None:
        self.assertTrue(SchemaMigration.objects.filter(version=1).exists())

    def test_history_is_still_there(self) -> None:
        self.assertTrue(SchemaMigration.objects.filter(version=1).exists())
