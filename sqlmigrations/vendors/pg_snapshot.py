"""PostgreSQL's schema read from the catalog (no pg_dump), as names and definitions
without OIDs, for sqlmigrate_verify.

Deparsing definitions (pg_get_indexdef, pg_get_functiondef...) is the costly part
and most objects do not change between two snapshots, so a snapshot is two
queries: one lists every object group (a relation with its columns, indexes,
constraints, triggers, rules and policies; a function; a type; a schema; an
extension) with a version made of its catalog rows' count and the sum of their
``xmin``, which any change to them moves, plus each table's row count; the second deparses only
the groups whose version is new. A definition that names another object (a foreign
key's referenced table) is re-read when its own group changes: the other object's
change shows on that object itself.

Objects that belong to an extension are named by the extension alone.
"""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper

from sqlmigrations.snapshot import Snapshot

COMMON = r"""
WITH ns AS (
    SELECT oid, quote_ident(nspname) AS schema FROM pg_catalog.pg_namespace
    WHERE nspname NOT IN ('pg_catalog', 'information_schema')
      AND nspname !~ '^pg_(toast|temp_|toast_temp_)'
), rel AS (
    SELECT c.*, c.xmin::text AS row_xmin, ns.schema || '.' || quote_ident(c.relname) AS name,
           pg_catalog.pg_stat_get_tuples_inserted(c.oid) || ':'
           || pg_catalog.pg_stat_get_tuples_deleted(c.oid) || ':' || c.relfilenode AS writes
    FROM pg_catalog.pg_class c JOIN ns ON ns.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S', 'c')
      AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d WHERE d.deptype = 'e'
                  AND d.classid = 'pg_catalog.pg_class'::regclass AND d.objid = c.oid)
), types AS (
    SELECT t.*, t.xmin::text AS row_xmin, ns.schema || '.' || quote_ident(t.typname) AS name
    FROM pg_catalog.pg_type t JOIN ns ON ns.oid = t.typnamespace
    WHERE t.typrelid = 0 AND t.typtype IN ('b', 'd', 'e', 'r')
      AND NOT EXISTS (SELECT FROM pg_catalog.pg_depend d WHERE d.deptype = 'e'
                  AND d.classid = 'pg_catalog.pg_type'::regclass AND d.objid = t.oid)
      -- An array type is made with its element type, and goes with it.
      AND t.oid NOT IN (SELECT typarray FROM pg_catalog.pg_type)
)
"""

# (group, oid, version, and for a table its writes: the rows inserted and deleted in
# it as the server counts them, and its file). A table whose writes are as when its
# rows were last counted holds as many rows as then.
VERSIONS_SQL = (
    COMMON
    + r"""
, part AS (
    -- Per object and catalog, its rows' count and the sum of their xmin: a row added
    -- or changed since has a newer xmin than every row it can replace, so one of the
    -- two moves whatever changed (no per-object sort, unlike a list of the xmins).
    SELECT 1 AS n, attrelid AS rel, count(*) || ':' || sum(xmin::text::int8) AS v
    FROM pg_catalog.pg_attribute WHERE attnum > 0 AND attrelid IN (SELECT oid FROM rel)
    GROUP BY attrelid
    UNION ALL
    SELECT 2, adrelid, count(*) || ':' || sum(xmin::text::int8)
    FROM pg_catalog.pg_attrdef WHERE adrelid IN (SELECT oid FROM rel) GROUP BY adrelid
    UNION ALL
    SELECT 3, i.indrelid, count(*) || ':' || sum(i.xmin::text::int8 + ic.xmin::text::int8)
    FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class ic ON ic.oid = i.indexrelid
    WHERE i.indrelid IN (SELECT oid FROM rel) GROUP BY i.indrelid
    UNION ALL
    SELECT 4, conrelid, count(*) || ':' || sum(xmin::text::int8)
    FROM pg_catalog.pg_constraint WHERE conrelid IN (SELECT oid FROM rel) GROUP BY conrelid
    UNION ALL
    SELECT 5, tgrelid, count(*) || ':' || sum(xmin::text::int8)
    FROM pg_catalog.pg_trigger WHERE tgrelid IN (SELECT oid FROM rel) GROUP BY tgrelid
    UNION ALL
    SELECT 6, ev_class, count(*) || ':' || sum(xmin::text::int8)
    FROM pg_catalog.pg_rewrite WHERE ev_class IN (SELECT oid FROM rel) GROUP BY ev_class
    UNION ALL
    SELECT 7, polrelid, count(*) || ':' || sum(xmin::text::int8)
    FROM pg_catalog.pg_policy WHERE polrelid IN (SELECT oid FROM rel) GROUP BY polrelid
    UNION ALL
    SELECT 8, seqrelid, xmin::text
    FROM pg_catalog.pg_sequence WHERE seqrelid IN (SELECT oid FROM rel)
    UNION ALL
    SELECT 9, enumtypid, count(*) || ':' || sum(xmin::text::int8)
    FROM pg_catalog.pg_enum WHERE enumtypid IN (SELECT oid FROM types) GROUP BY enumtypid
    UNION ALL
    SELECT 10, contypid, count(*) || ':' || sum(xmin::text::int8)
    FROM pg_catalog.pg_constraint WHERE contypid IN (SELECT oid FROM types) GROUP BY contypid
    UNION ALL
    SELECT 11, rngtypid, xmin::text
    FROM pg_catalog.pg_range WHERE rngtypid IN (SELECT oid FROM types)
), relpart AS (
    SELECT rel, string_agg(n || '=' || v, '/') AS v FROM part WHERE n <= 8 GROUP BY rel
), typepart AS (
    SELECT rel, string_agg(n || '=' || v, '/') AS v FROM part WHERE n > 8 GROUP BY rel
)
SELECT 'relation', rel.oid, concat_ws('/', rel.row_xmin, relpart.v),
       CASE WHEN rel.relkind = 'r' THEN rel.writes END
FROM rel LEFT JOIN relpart ON relpart.rel = rel.oid
UNION ALL
SELECT 'type', types.oid, concat_ws('/', types.row_xmin, typepart.v), NULL
FROM types LEFT JOIN typepart ON typepart.rel = types.oid
UNION ALL
SELECT 'function', p.oid, p.xmin::text, NULL
FROM pg_catalog.pg_proc p JOIN ns ON ns.oid = p.pronamespace
WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_depend d WHERE d.deptype = 'e'
                  AND d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid)
UNION ALL
SELECT 'schema', ns.oid, n.xmin::text, NULL
FROM ns JOIN pg_catalog.pg_namespace n ON n.oid = ns.oid
WHERE NOT EXISTS (SELECT FROM pg_catalog.pg_depend d WHERE d.deptype = 'e'
                  AND d.classid = 'pg_catalog.pg_namespace'::regclass AND d.objid = ns.oid)
UNION ALL
SELECT 'extension', e.oid, e.xmin::text, NULL FROM pg_catalog.pg_extension e
"""
)

# (group, oid, kind, name, definition) of the groups whose oids are given; names are
# schema-qualified and quoted as SQL would need them, a column's or constraint's
# under its table's name.
DEFINITIONS_SQL = r"""
WITH ns AS (
    SELECT oid, quote_ident(nspname) AS schema FROM pg_catalog.pg_namespace
), rel AS (
    SELECT c.*, ns.schema || '.' || quote_ident(c.relname) AS name
    FROM pg_catalog.pg_class c JOIN ns ON ns.oid = c.relnamespace
    WHERE c.oid = ANY(%(relation)s::oid[])
), types AS (
    SELECT t.*, ns.schema || '.' || quote_ident(t.typname) AS name
    FROM pg_catalog.pg_type t JOIN ns ON ns.oid = t.typnamespace
    WHERE t.oid = ANY(%(type)s::oid[])
)
SELECT 'schema', ns.oid, 'schema', schema, '' FROM ns WHERE ns.oid = ANY(%(schema)s::oid[])
UNION ALL
SELECT 'extension', e.oid, 'extension', quote_ident(extname),
       'version ' || extversion || ' in schema ' || extnamespace::regnamespace
FROM pg_catalog.pg_extension e WHERE e.oid = ANY(%(extension)s::oid[])
UNION ALL
SELECT 'relation', oid,
       CASE WHEN relkind IN ('r', 'p') THEN 'table' WHEN relkind = 'f' THEN 'foreign table'
            WHEN relkind = 'v' THEN 'view' WHEN relkind = 'm' THEN 'materialized view'
            WHEN relkind = 'S' THEN 'sequence' ELSE 'type' END,
       name,
       CASE WHEN relkind IN ('v', 'm') THEN pg_catalog.pg_get_viewdef(oid)
            WHEN relkind = 'S' THEN (
                SELECT format('%%s start %%s increment %%s minvalue %%s maxvalue %%s cache %%s%%s',
                              format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement,
                              s.seqmin, s.seqmax, s.seqcache,
                              CASE WHEN s.seqcycle THEN ' cycle' ELSE '' END)
                FROM pg_catalog.pg_sequence s WHERE s.seqrelid = rel.oid)
            WHEN relkind = 'c' THEN 'composite'
            ELSE concat_ws(' ', CASE WHEN relpersistence = 'u' THEN 'unlogged' END,
                           CASE WHEN relkind = 'p' THEN 'partitioned' END,
                           CASE WHEN relispartition
                                THEN pg_catalog.pg_get_expr(relpartbound, oid) END,
                           CASE WHEN relrowsecurity THEN 'row level security' END)
       END
FROM rel WHERE oid = ANY(%(relation)s::oid[])
UNION ALL
SELECT 'relation', rel.oid, 'column', rel.name || '.' || quote_ident(a.attname),
       concat_ws(' ', format_type(a.atttypid, a.atttypmod),
                 CASE WHEN a.attcollation <> t.typcollation
                      THEN 'COLLATE ' || a.attcollation::regcollation END,
                 CASE WHEN a.attnotnull THEN 'NOT NULL' ELSE 'NULL' END,
                 CASE a.attidentity WHEN 'a' THEN 'GENERATED ALWAYS AS IDENTITY'
                                    WHEN 'd' THEN 'GENERATED BY DEFAULT AS IDENTITY' END,
                 CASE WHEN a.attgenerated = 's'
                      THEN 'GENERATED ALWAYS AS (' || pg_catalog.pg_get_expr(d.adbin, d.adrelid)
                           || ') STORED'
                      WHEN d.adbin IS NOT NULL
                      THEN 'DEFAULT ' || pg_catalog.pg_get_expr(d.adbin, d.adrelid) END,
                 -- The place among the live columns (attnum counts dropped ones too).
                 'position ' || row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum))
FROM rel JOIN pg_catalog.pg_attribute a ON a.attrelid = rel.oid
JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE rel.oid = ANY(%(relation)s::oid[]) AND rel.relkind IN ('r', 'p', 'f', 'c')
  AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'relation', i.indrelid, 'index', ns.schema || '.' || quote_ident(c.relname),
       pg_catalog.pg_get_indexdef(c.oid)
FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
JOIN ns ON ns.oid = c.relnamespace
WHERE i.indrelid = ANY(%(relation)s::oid[])
UNION ALL
SELECT CASE WHEN rel.oid IS NULL THEN 'type' ELSE 'relation' END,
       coalesce(rel.oid, types.oid), 'constraint',
       coalesce(rel.name, types.name) || '.' || quote_ident(con.conname),
       pg_catalog.pg_get_constraintdef(con.oid)
FROM pg_catalog.pg_constraint con
LEFT JOIN rel ON rel.oid = con.conrelid AND con.conrelid = ANY(%(relation)s::oid[])
LEFT JOIN types ON types.oid = con.contypid AND con.contypid = ANY(%(type)s::oid[])
WHERE rel.oid IS NOT NULL OR types.oid IS NOT NULL
UNION ALL
SELECT 'function', p.oid,
       CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END,
       ns.schema || '.' || quote_ident(p.proname)
       || '(' || pg_catalog.pg_get_function_identity_arguments(p.oid) || ')',
       CASE WHEN p.prokind = 'a'
            THEN 'aggregate returning ' || pg_catalog.pg_get_function_result(p.oid)
            ELSE pg_catalog.pg_get_functiondef(p.oid) END
FROM pg_catalog.pg_proc p JOIN ns ON ns.oid = p.pronamespace
WHERE p.oid = ANY(%(function)s::oid[])
UNION ALL
SELECT 'relation', rel.oid, 'trigger', rel.name || '.' || quote_ident(tg.tgname),
       pg_catalog.pg_get_triggerdef(tg.oid)
FROM pg_catalog.pg_trigger tg JOIN rel ON rel.oid = tg.tgrelid
WHERE rel.oid = ANY(%(relation)s::oid[]) AND NOT tg.tgisinternal
UNION ALL
SELECT 'relation', rel.oid, 'rule', rel.name || '.' || quote_ident(r.rulename),
       pg_catalog.pg_get_ruledef(r.oid)
FROM pg_catalog.pg_rewrite r JOIN rel ON rel.oid = r.ev_class
WHERE rel.oid = ANY(%(relation)s::oid[]) AND r.rulename <> '_RETURN'
UNION ALL
SELECT 'relation', rel.oid, 'policy', rel.name || '.' || quote_ident(pol.polname),
       concat_ws(' ', CASE WHEN pol.polpermissive THEN 'permissive' ELSE 'restrictive' END,
                 'for ' || pol.polcmd::text,
                 'using (' || pg_catalog.pg_get_expr(pol.polqual, pol.polrelid) || ')',
                 'with check (' || pg_catalog.pg_get_expr(pol.polwithcheck, pol.polrelid) || ')')
FROM pg_catalog.pg_policy pol JOIN rel ON rel.oid = pol.polrelid
WHERE rel.oid = ANY(%(relation)s::oid[])
UNION ALL
SELECT 'type', types.oid, 'type', types.name,
       CASE types.typtype
           WHEN 'e' THEN 'enum (' || (
               SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY e.enumsortorder)
               FROM pg_catalog.pg_enum e WHERE e.enumtypid = types.oid) || ')'
           WHEN 'd' THEN concat_ws(
               ' ', 'domain over ' || format_type(types.typbasetype, types.typtypmod),
               CASE WHEN types.typnotnull THEN 'NOT NULL' END, 'DEFAULT ' || types.typdefault)
           WHEN 'r' THEN 'range of ' || (
               SELECT format_type(r.rngsubtype, NULL) FROM pg_catalog.pg_range r
               WHERE r.rngtypid = types.oid)
           ELSE 'base type' END
FROM types WHERE types.oid = ANY(%(type)s::oid[])
UNION ALL
-- Row counts of the tables asked for; an empty file (size 0) holds no rows.
SELECT 'relation', c.oid, 'rows', NULL,
       CASE WHEN pg_catalog.pg_relation_size(c.oid) = 0 THEN '0'
            ELSE substring(query_to_xml('SELECT count(*) AS n FROM ONLY ' || c.oid::regclass,
                                        false, true, '')::text FROM '<n>(\d+)</n>') END
FROM pg_catalog.pg_class c WHERE c.oid = ANY(%(count)s::oid[])
"""

GROUPS = ("relation", "type", "function", "schema", "extension")
Group = tuple[str, int]  # (group, oid)


class Catalog:
    """Snapshots of one database, each group's definitions kept until its version
    changes, and each table's row count until a row is inserted or deleted."""

    def __init__(self) -> None:
        self._known: dict[Group, tuple[str, list[tuple[str, str, str]]]] = {}
        self._counted: dict[int, tuple[str, str]] = {}  # oid -> (writes, row count)
        self._stats: bool | None = None

    def _writes_are_counted(self, connection: BaseDatabaseWrapper) -> bool:
        """Whether the server's per-table counts of inserted and deleted rows can say
        that a table's rows are as last counted: PostgreSQL 15 can flush this
        session's counts on demand (pg_stat_force_next_flush), and track_counts is on."""
        if self._stats is None:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT current_setting('server_version_num')::int >= 150000 "
                    "AND current_setting('track_counts')::bool"
                )
                self._stats = bool(cursor.fetchone()[0])
        return self._stats

    def snapshot(self, connection: BaseDatabaseWrapper) -> Snapshot:
        with connection.cursor() as cursor:
            stats = self._writes_are_counted(connection)
            if stats:
                # The migration's counts are flushed when this statement ends, before
                # the next is read (the server does it while idle).
                cursor.execute("SELECT pg_catalog.pg_stat_force_next_flush()")
            cursor.execute(VERSIONS_SQL)
            versions = {(group, oid): (version, writes) for group, oid, version, writes in cursor}
            stale = [
                key
                for key, (version, _) in versions.items()
                if key not in self._known or self._known[key][0] != version
            ]
            # Only tables that still exist are kept, so both stay as small as the schema.
            self._known = {key: known for key, known in self._known.items() if key in versions}
            counted, to_count = {}, []
            for (_, oid), (_, writes) in versions.items():
                if writes is None:
                    continue
                if stats and oid in self._counted and self._counted[oid][0] == writes:
                    counted[oid] = self._counted[oid]
                else:
                    counted[oid] = (writes, "")
                    to_count.append(oid)
            self._counted = counted
            if stale or to_count:
                wanted: dict[str, list[int]] = {group: [] for group in GROUPS}
                for group, oid in stale:
                    wanted[group].append(oid)
                    self._known[group, oid] = (versions[group, oid][0], [])
                cursor.execute(DEFINITIONS_SQL, {**wanted, "count": to_count})
                for group, oid, kind, name, definition in cursor.fetchall():
                    if kind == "rows":
                        self._counted[oid] = (self._counted[oid][0], definition)
                    else:
                        self._known[group, oid][1].append((kind, name, definition))
        found: Snapshot = {}
        for group, oid in versions:
            for kind, name, definition in self._known[group, oid][1]:
                found[kind, name] = definition
                if kind == "table" and oid in self._counted:
                    found["rows", name] = self._counted[oid][1]
        return found
