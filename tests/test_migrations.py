"""The migration runner on a real database: ordered, recorded with checksums, idempotent, edit-proof."""

from __future__ import annotations

import shutil

import psycopg2
import pytest

from crypto_news.warehouse import db, migrations

EXPECTED_TABLES = {"feeds", "feed_fetches", "articles", "article_sources", "article_labels", "article_entities",
                   "article_classifications", "pipeline_runs", "schema_migrations"}


def tables(url):
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'crypto_news' "
                    "AND table_type = 'BASE TABLE'")
        names = {r[0] for r in cur.fetchall()}
    conn.close()
    return names


def test_migrate_creates_schema_and_is_idempotent(db_url):
    applied = migrations.migrate(db_url)
    assert applied and applied[0] == "0001_core.sql"
    assert EXPECTED_TABLES <= tables(db_url)
    assert migrations.migrate(db_url) == []
    conn = psycopg2.connect(db_url)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT version, checksum FROM crypto_news.schema_migrations ORDER BY version")
        rows = cur.fetchall()
    conn.close()
    assert [r[0] for r in rows] == [m.version for m in migrations.list_migrations()]
    assert all(len(r[1]) == 64 for r in rows)


def test_edited_migration_is_refused(db_url, tmp_path):
    sql = tmp_path / "sql" / "migrations"
    shutil.copytree(migrations.MIGRATIONS_DIR, sql)
    migrations.migrate(db_url, sql)
    first = sorted(sql.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- an innocent-looking edit\n")
    with pytest.raises(migrations.MigrationError, match="was edited after it was applied"):
        migrations.migrate(db_url, sql)


def test_new_migration_applies_once_and_failed_one_leaves_nothing(db_url, tmp_path):
    sql = tmp_path / "migrations"
    shutil.copytree(migrations.MIGRATIONS_DIR, sql)
    migrations.migrate(db_url, sql)
    (sql / "9001_extra.sql").write_text("CREATE TABLE extra_thing (id int);")
    assert migrations.migrate(db_url, sql) == ["9001_extra.sql"]
    assert "extra_thing" in tables(db_url)
    (sql / "9002_broken.sql").write_text("CREATE TABLE half_done (id int);\nSELECT no_such_function();")
    with pytest.raises(migrations.MigrationError, match="9002_broken.sql failed"):
        migrations.migrate(db_url, sql)
    assert "half_done" not in tables(db_url)
    (sql / "9002_broken.sql").unlink()
    assert migrations.migrate(db_url, sql) == []


def test_bad_file_name_is_refused(tmp_path):
    (tmp_path / "1_init.sql").write_text("SELECT 1;")
    with pytest.raises(migrations.MigrationError, match="NNNN_name.sql"):
        migrations.list_migrations(tmp_path)


def test_mask_url_hides_password():
    assert db.mask_url("postgresql://bob:pa%40ss@db:5432/x") == "postgresql://bob:***@db:5432/x"
    assert db.mask_url("postgresql://bob@db/x") == "postgresql://bob@db/x"
    assert "pa@ss" not in db.mask_secrets("failed for pa@ss", "postgresql://bob:pa@ss@db/x")


def test_view_definitions_are_repeatable(db_url, tmp_path):
    """A view changes by editing its file: the next migrate re-applies the definitions, once."""
    sql = tmp_path / "sql"
    shutil.copytree(migrations.MIGRATIONS_DIR, sql / "migrations")
    shutil.copytree(migrations.MIGRATIONS_DIR.parent / "views", sql / "views")
    applied = migrations.migrate(db_url, sql / "migrations")
    assert [a for a in applied if a.startswith("views/")] == [f"views/{p.name}"
                                                              for p in sorted((sql / "views").glob("*.sql"))]
    assert migrations.migrate(db_url, sql / "migrations") == []
    runs = sql / "views" / "50_v_pipeline_runs.sql"
    runs.write_text(runs.read_text().replace("    r.failed_stages\nFROM pipeline_runs r;",
                                             "    r.failed_stages,\n    r.summary IS NOT NULL AS has_summary\n"
                                             "FROM pipeline_runs r;"))
    assert "views/50_v_pipeline_runs.sql" in migrations.migrate(db_url, sql / "migrations")
    assert migrations.migrate(db_url, sql / "migrations") == []
    conn = psycopg2.connect(db_url)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT has_summary FROM crypto_news.v_pipeline_runs")
        cur.execute("SELECT count(*) FROM crypto_news.schema_repeatables")
        assert cur.fetchone()[0] == len(list((sql / "views").glob("*.sql")))
    conn.close()


# Views whose file has grown past what the migrations built (columns appended by editing the file), by schema;
# and columns whose comment a view file restated since (the meaning widened: published_source can be sitemap).
EXTENDED_VIEWS = {("crypto_news", "v_feed_health"), ("crypto_news_marts", "dim_feeds"),
                  ("crypto_news_marts", "fct_feed_fetches")}
RECOMMENTED = {("crypto_news_marts", "dim_articles", "published_source"): "sitemap"}


def test_view_definitions_match_the_migrated_views(db_url, tmp_path):
    """The view files restate what the migrations built: applying them over a database migrated without them
    changes no view, except those a file has since extended (``EXTENDED_VIEWS``), which keep every column the
    migrations gave them (name, position, type, comment) and only gain columns at the end, and the comments a file
    restated (``RECOMMENTED``)."""
    bare = tmp_path / "migrations"
    shutil.copytree(migrations.MIGRATIONS_DIR, bare)
    migrations.migrate(db_url, bare)

    def definitions():
        conn = psycopg2.connect(db_url)
        with conn, conn.cursor() as cur:
            cur.execute("""SELECT c.relnamespace::regnamespace::text, c.relname, pg_get_viewdef(c.oid),
                                  obj_description(c.oid),
                                  array_agg(ARRAY[a.attname::text, format_type(a.atttypid, a.atttypmod),
                                                  coalesce(col_description(c.oid, a.attnum), '')]
                                            ORDER BY a.attnum)
                           FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
                           WHERE c.relnamespace IN ('crypto_news'::regnamespace, 'crypto_news_marts'::regnamespace)
                             AND c.relkind = 'v'
                           GROUP BY c.oid, c.relname ORDER BY 1, 2""")
            rows = {(r[0], r[1]): r[2:] for r in cur.fetchall()}
        conn.close()
        return rows

    before = definitions()
    applied = migrations.migrate(db_url)
    assert applied and all(a.startswith("views/") for a in applied)
    after = definitions()
    assert after.keys() == before.keys()
    for (schema, view, column), says in RECOMMENTED.items():
        for rows, check in ((before, False), (after, True)):
            for col in rows[(schema, view)][2]:
                if col[0] == column:
                    assert not check or says in col[2], (view, column, col[2])
                    col[2] = ""
    assert {k: v for k, v in after.items() if k not in EXTENDED_VIEWS} == \
        {k: v for k, v in before.items() if k not in EXTENDED_VIEWS}
    for key in sorted(EXTENDED_VIEWS):
        old_columns, new_columns = before[key][2], after[key][2]
        assert len(new_columns) > len(old_columns), key
        assert new_columns[:len(old_columns)] == old_columns, key
