"""Other runners' history tables, created as each runner creates them (its own DDL, per
database), and filled as it would be after applying some migrations."""

from __future__ import annotations

from tests.conftest import TargetDatabase

GOLANG_MIGRATE = {
    "postgresql": [
        'CREATE TABLE IF NOT EXISTS "schema_migrations" '
        "(version bigint not null primary key, dirty boolean not null)"
    ],
    "sqlite": [
        "CREATE TABLE IF NOT EXISTS schema_migrations (version uint64,dirty bool)",
        "CREATE UNIQUE INDEX IF NOT EXISTS version_unique ON schema_migrations (version)",
    ],
}
DBMATE = {
    "postgresql": [
        "create table if not exists public.schema_migrations (version varchar(128) primary key)"
    ],
    "sqlite": ["create table if not exists schema_migrations (version varchar(128) primary key)"],
}
# The runner this project replaces: schema_migrations(version, name, applied_at).
NODE = {
    "postgresql": [
        "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
        "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())"
    ],
    "sqlite": [
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
        "name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)"
    ],
}
FLYWAY = {
    "postgresql": [
        'CREATE TABLE "flyway_schema_history" ("installed_rank" INT NOT NULL, '
        '"version" VARCHAR(50), "description" VARCHAR(200) NOT NULL, '
        '"type" VARCHAR(20) NOT NULL, "script" VARCHAR(1000) NOT NULL, "checksum" INTEGER, '
        '"installed_by" VARCHAR(100) NOT NULL, "installed_on" TIMESTAMP NOT NULL DEFAULT now(), '
        '"execution_time" INTEGER NOT NULL, "success" BOOLEAN NOT NULL)',
        'ALTER TABLE "flyway_schema_history" ADD CONSTRAINT "flyway_schema_history_pk" '
        'PRIMARY KEY ("installed_rank")',
        'CREATE INDEX "flyway_schema_history_s_idx" ON "flyway_schema_history" ("success")',
    ],
    "sqlite": [
        'CREATE TABLE "flyway_schema_history" ("installed_rank" INT NOT NULL PRIMARY KEY, '
        '"version" VARCHAR(50), "description" VARCHAR(200) NOT NULL, '
        '"type" VARCHAR(20) NOT NULL, "script" VARCHAR(1000) NOT NULL, "checksum" INT, '
        '"installed_by" VARCHAR(100) NOT NULL, "installed_on" TEXT NOT NULL DEFAULT '
        "(strftime('%Y-%m-%d %H:%M:%f','now')), "
        '"execution_time" INT NOT NULL, "success" BOOLEAN NOT NULL)',
        'CREATE INDEX "flyway_schema_history_s_idx" ON "flyway_schema_history" ("success")',
    ],
}
TABLES = {"golang-migrate": GOLANG_MIGRATE, "dbmate": DBMATE, "node": NODE, "flyway": FLYWAY}


def create(target: TargetDatabase, runner: str) -> None:
    for statement in TABLES[runner][target.vendor]:
        target.execute(statement)


def record(
    target: TargetDatabase, runner: str, versions: list[int], *, dirty: bool = False
) -> None:
    """The rows ``runner`` leaves after applying ``versions`` (in order)."""
    true = "true" if target.vendor == "postgresql" else "1"
    false = "false" if target.vendor == "postgresql" else "0"
    if runner == "golang-migrate":  # one row: the current version
        target.execute(
            f"INSERT INTO schema_migrations (version, dirty) VALUES "
            f"({versions[-1]}, {true if dirty else false})"
        )
    elif runner == "dbmate":
        for version in versions:
            target.execute(f"INSERT INTO schema_migrations (version) VALUES ('{version}')")
    elif runner == "node":
        for version in versions:
            target.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES "
                f"({version}, 'm{version}', '2024-01-0{version} 10:00:00')"
            )
    else:
        for rank, version in enumerate(versions, start=1):
            target.execute(
                'INSERT INTO flyway_schema_history (installed_rank, version, description, "type", '
                "script, checksum, installed_by, installed_on, execution_time, success) VALUES "
                f"({rank}, '{version}', 'm', 'SQL', 'V{version}__m.sql', 0, 'me', "
                f"'2024-01-0{version} 10:00:00', 12, {false if dirty else true})"
            )
