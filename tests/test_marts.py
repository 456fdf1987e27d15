"""The BI marts (0012_marts.sql) seen as a BI tool sees them: reflected through SQLAlchemy's inspector (what
Superset does), read by a login in crypto_news_bi, and compared with the base tables after a real pipeline run."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import psycopg2
import pytest
import sqlalchemy as sa
from psycopg2 import errors, sql
from sqlalchemy.dialects import postgresql

from conftest import LoopbackServer, group_login, temporary_database
from conftest import query as q
from crypto_news import pipeline
from crypto_news.config import Settings
from sitekit import serve_site, write_feed_list

SETTINGS = Settings(allow_private_hosts="1", host_delay_s=0, retries=0, timeout_s=10, extract_workers=1)
MARTS = {"dim_articles", "fct_article_labels", "fct_article_entities", "agg_label_daily", "agg_entity_label_daily",
         "dim_feeds", "fct_feed_fetches", "fct_runs"}
LABELS = ("regulation", "adoption", "mining")


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """A database after one real pipeline run over the fixture site (two feeds, six stories)."""
    server = LoopbackServer()
    try:
        with temporary_database() as url:
            feeds = write_feed_list(tmp_path_factory.mktemp("marts") / "feeds.yml", serve_site(server))
            assert pipeline.run(url, feeds, SETTINGS)["status"] == "success"
            yield url
    finally:
        server.close()


def engine_for(url: str) -> sa.Engine:
    return sa.create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1), poolclass=sa.pool.NullPool)


# --- as a BI tool reflects the schema ---------------------------------------------------------------------------

def test_reflection_finds_the_marts_with_scalar_described_columns(loaded):
    with group_login(loaded, "crypto_news_bi") as bi_url:  # reflected as the BI tool's own login would
        engine = engine_for(bi_url)
        inspector = sa.inspect(engine)
        schema = "crypto_news_marts"
        names = (set(inspector.get_table_names(schema)) | set(inspector.get_view_names(schema))
                 | set(inspector.get_materialized_view_names(schema)))
        assert names == MARTS
        problems = []
        for name in sorted(names):
            if not (inspector.get_table_comment(name, schema).get("text") or "").strip():
                problems.append(f"{name}: no comment")
            for col in inspector.get_columns(name, schema):
                where, kind = f"{name}.{col['name']}", col["type"]
                if isinstance(kind, (sa.ARRAY, sa.JSON, sa.LargeBinary, postgresql.TSVECTOR, sa.types.NullType)):
                    problems.append(f"{where}: not a scalar ({kind!r})")
                if not (col.get("comment") or "").strip():
                    problems.append(f"{where}: no comment")
                if col["name"].endswith("_at") and not (isinstance(kind, sa.DateTime) and kind.timezone):
                    problems.append(f"{where}: *_at must be timestamptz ({kind!r})")
                if col["name"].endswith("_date") and not (isinstance(kind, sa.Date) and "UTC" in (col["comment"] or "")):
                    problems.append(f"{where}: *_date must be a date said to be UTC")
                if col["name"].startswith("is_") and not isinstance(kind, sa.Boolean):
                    problems.append(f"{where}: is_* must be boolean")
        assert problems == []
        assert inspector.get_pk_constraint("agg_entity_label_daily", schema)["constrained_columns"] == \
            ["article_date", "entity_kind", "entity_id", "label"]
        key = [i for i in inspector.get_indexes("agg_label_daily", schema) if i["unique"]]
        assert [i["column_names"] for i in key] == [["article_date", "label", "feed_id"]]
        for view, entity_key in (("dim_articles", "article_id"), ("dim_feeds", "feed_id"),
                                 ("fct_feed_fetches", "fetch_id"), ("fct_runs", "run_id")):
            comments = {c["name"]: c["comment"] for c in inspector.get_columns(view, schema)}
            assert comments[entity_key].startswith("Entity key"), view
        engine.dispose()


# --- the same numbers as the base tables ------------------------------------------------------------------------

def test_mart_counts_equal_the_base_tables(loaded):
    pairs = [("fct_article_labels", "article_labels"), ("fct_article_entities", "article_entities"),
             ("dim_articles", "articles"), ("dim_feeds", "feeds"), ("fct_feed_fetches", "feed_fetches"),
             ("fct_runs", "pipeline_runs")]
    for mart, base in pairs:
        (mart_n, base_n), = q(loaded, f"SELECT (SELECT count(*) FROM crypto_news_marts.{mart}), "
                                      f"(SELECT count(*) FROM crypto_news.{base})")
        assert mart_n == base_n > 0, mart
    # the aggregates add up to the base tables (refreshed by the run's classification stage)
    assert q(loaded, "SELECT label, sum(article_count)::int, sum(feed_article_count)::int "
                     "FROM crypto_news_marts.agg_label_daily GROUP BY label ORDER BY label") == \
        q(loaded, """SELECT lb.label, (SELECT count(*)::int FROM article_labels l WHERE l.label = lb.label),
                            (SELECT count(*)::int FROM articles)
                     FROM unnest(ARRAY['adoption', 'mining', 'regulation']) AS lb(label) ORDER BY 1""")
    assert q(loaded, "SELECT entity_kind, entity_id, label, sum(article_count)::int, sum(mention_count)::int "
                     "FROM crypto_news_marts.agg_entity_label_daily GROUP BY 1, 2, 3 ORDER BY 1, 2, 3") == \
        q(loaded, """SELECT e.kind, e.entity_id, l.label, count(*)::int, sum(e.mentions)::int
                     FROM article_entities e JOIN article_labels l USING (article_id) GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""")


def test_article_rows_agree_with_v_articles(loaded):
    mismatches = q(loaded, """
        SELECT d.article_id FROM crypto_news_marts.dim_articles d JOIN v_articles v USING (article_id)
        WHERE (d.is_regulation, d.is_adoption, d.is_mining, d.regulation_score, d.article_at, d.article_date,
               d.feed_name, d.source_count, d.story_id, d.text_source, d.duplicate_of_article_id)
              IS DISTINCT FROM (v.is_regulation, v.is_adoption, v.is_mining, v.score_regulation, v.article_time,
                                v.article_day, v.feed_name, v.source_count, v.story_id, v.text_source,
                                v.duplicate_of)""")
    assert mismatches == []
    # every label flag on the entity facts is the article's
    assert q(loaded, """SELECT count(*) FROM crypto_news_marts.fct_article_entities e
                        JOIN crypto_news_marts.dim_articles d USING (article_id)
                        WHERE (e.is_regulation, e.is_adoption, e.is_mining)
                              IS DISTINCT FROM (d.is_regulation, d.is_adoption, d.is_mining)""") == [(0,)]
    china = q(loaded, """SELECT entity_name, is_regulation, is_adoption, is_mining, outlet
                         FROM crypto_news_marts.fct_article_entities
                         WHERE entity_kind = 'jurisdiction' AND entity_id = 'CN'""")
    assert china == [("China", True, True, True, "127.0.0.1")]


def test_aggregates_are_zero_filled_per_feed_and_label(loaded):
    (first, last, n_feeds), = q(loaded, """SELECT min(article_date), max(article_date),
                                                  (SELECT count(*) FROM feeds)
                                           FROM crypto_news_marts.dim_articles""")
    days = (max(last, datetime.now(timezone.utc).date()) - first).days + 1
    assert q(loaded, "SELECT count(*) FROM crypto_news_marts.agg_label_daily") == [(days * n_feeds * 3,)]
    # every (entity, label) that occurs has one row per date, most of them zero
    assert q(loaded, """SELECT count(*) FILTER (WHERE n <> %s) FROM (
                            SELECT count(*) AS n FROM crypto_news_marts.agg_entity_label_daily
                            GROUP BY entity_kind, entity_id, label) x""", days) == [(0,)]


# --- the BI role ------------------------------------------------------------------------------------------------

def test_bi_role_is_a_nologin_group(loaded):
    assert q(loaded, """SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolinherit FROM pg_roles
                        WHERE rolname = 'crypto_news_bi'""") == [(False, False, False, False, True)]


def test_bi_login_reads_the_marts_and_nothing_else(loaded):
    with group_login(loaded, "crypto_news_bi") as bi_url:
        conn = psycopg2.connect(bi_url)
        try:
            with conn.cursor() as cur:
                for mart in sorted(MARTS):
                    cur.execute(sql.SQL("SELECT * FROM crypto_news_marts.{} LIMIT 3").format(sql.Identifier(mart)))
                    assert cur.fetchall(), mart
                cur.execute("SELECT count(*) FROM crypto_news_marts.fct_article_labels WHERE label = 'regulation'")
                assert cur.fetchone() == (2,)
            conn.rollback()
            refused = ["SELECT count(*) FROM crypto_news.articles",
                       "SELECT count(*) FROM crypto_news.page_archive",
                       "SELECT count(*) FROM crypto_news.schema_migrations",
                       "SELECT count(*) FROM crypto_news.v_articles",
                       "SELECT crypto_news_marts.refresh_aggregates()",
                       "DELETE FROM crypto_news_marts.agg_label_daily",
                       ("INSERT INTO crypto_news_marts.agg_entity_label_daily SELECT * FROM "
                        "crypto_news_marts.agg_entity_label_daily LIMIT 1"),
                       "CREATE VIEW crypto_news_marts.bi_view AS SELECT 1 AS x",
                       "CREATE TABLE public.bi_table (x int)"]
            for statement in refused:
                with conn.cursor() as cur, pytest.raises(errors.InsufficientPrivilege):
                    cur.execute(statement)
                conn.rollback()
        finally:
            conn.close()


def test_reader_sees_the_marts_too(loaded):
    with group_login(loaded, "crypto_news_reader") as reader_url:
        conn = psycopg2.connect(reader_url)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT (SELECT count(*) FROM crypto_news_marts.dim_articles), "
                            "(SELECT count(*) FROM crypto_news.articles)")
                n_marts, n_base = cur.fetchone()
                assert n_marts == n_base == 6
        finally:
            conn.close()


# --- refreshing the aggregates ----------------------------------------------------------------------------------

def test_the_pipeline_role_refreshes_and_dates_are_utc(migrated_db):
    """A writer login may run the refresh (it cannot write the tables itself); an article published at 23:30 UTC
    falls on its UTC date whatever the session's time zone, while article_at stays an instant."""
    (feed_id,) = q(migrated_db, "INSERT INTO feeds (url, name, site_url) VALUES ('https://feeds.ledger.example/rss', "
                                "'Ledger', 'https://www.ledger.example/') RETURNING feed_id")[0]
    published = datetime.now(timezone.utc).replace(hour=23, minute=30, second=0, microsecond=0) - timedelta(days=3)
    (article_id,) = q(migrated_db, """INSERT INTO articles (canonical_url, url, feed_id, title, published_at)
                                     VALUES ('https://ledger.example/a', 'https://ledger.example/a', %s, 'a', %s)
                                     RETURNING article_id""", feed_id, published)[0]
    q(migrated_db, "INSERT INTO article_labels (article_id, label, score, classifier_version) "
                   "VALUES (%s, 'mining', 0.9, 't')", article_id)
    q(migrated_db, "INSERT INTO article_entities (article_id, kind, entity_id, name) "
                   "VALUES (%s, 'jurisdiction', 'US', 'United States')", article_id)
    assert q(migrated_db, "SELECT count(*) FROM crypto_news_marts.agg_label_daily") == [(0,)]  # not refreshed yet
    with group_login(migrated_db, "crypto_news_writer") as writer_url:
        conn = psycopg2.connect(writer_url)
        try:
            with conn.cursor() as cur:
                with pytest.raises(errors.InsufficientPrivilege):
                    cur.execute("DELETE FROM crypto_news_marts.agg_label_daily")
                conn.rollback()
                cur.execute("SELECT crypto_news_marts.refresh_aggregates()")
                assert cur.fetchone()[0] == 4 * 3 + 4  # 4 dates x 3 labels, 4 dates x (US, mining)
            conn.commit()
        finally:
            conn.close()
    rows = q(migrated_db, """SELECT article_date, article_count, feed_article_count, outlet
                             FROM crypto_news_marts.agg_label_daily WHERE label = 'mining' ORDER BY 1""")
    today = datetime.now(timezone.utc).date()
    assert rows == [(today - timedelta(days=3 - i), int(i == 0), int(i == 0), "ledger.example") for i in range(4)]
    assert q(migrated_db, """SELECT article_date, article_count FROM crypto_news_marts.agg_entity_label_daily
                             WHERE entity_id = 'US' ORDER BY 1""") == \
        [(today - timedelta(days=3 - i), int(i == 0)) for i in range(4)]

    conn = psycopg2.connect(migrated_db, options="-c TimeZone=Pacific/Kiritimati")  # UTC+14
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT article_at, article_date, to_char(article_at, 'YYYY-MM-DD') "
                        "FROM crypto_news_marts.dim_articles")
            article_at, article_date, local_day = cur.fetchone()
    finally:
        conn.close()
    assert article_at == published and article_date == published.date()
    assert date.fromisoformat(local_day) == published.date() + timedelta(days=1)
