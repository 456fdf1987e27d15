"""The warehouse layer (0002_warehouse.sql) on a real database: comments everywhere, full-text search, views on
pipeline data, and the reader/writer roles."""

from __future__ import annotations

import uuid

import psycopg2
import pytest
from psycopg2 import errors, sql

from conftest import query as q
from crypto_news import pipeline
from crypto_news.config import Settings
from sitekit import serve_site, write_feed_list

SETTINGS = Settings(allow_private_hosts="1", host_delay_s=0, retries=0, timeout_s=10, extract_workers=1)
VIEWS = {"v_articles", "v_label_daily", "v_entity_label_daily", "v_feed_health", "v_pipeline_runs"}




@pytest.fixture
def loaded_db(migrated_db, http_server, tmp_path):
    feeds = write_feed_list(tmp_path / "feeds.yml", serve_site(http_server))
    assert pipeline.run(migrated_db, feeds, SETTINGS)["status"] == "success"
    return migrated_db


# --- documentation in the database --------------------------------------------------------------------------------

def test_every_table_view_and_column_has_a_comment(migrated_db):
    relations = q(migrated_db, """SELECT c.relname, c.relkind FROM pg_class c
                                  WHERE c.relnamespace = 'crypto_news'::regnamespace AND c.relkind IN ('r','p','v','m')
                                    AND obj_description(c.oid, 'pg_class') IS NULL""")
    assert relations == [], f"tables/views without COMMENT: {relations}"
    columns = q(migrated_db, """SELECT c.relname || '.' || a.attname FROM pg_class c
                                JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                                WHERE c.relnamespace = 'crypto_news'::regnamespace AND c.relkind IN ('r','p','v','m')
                                  AND col_description(c.oid, a.attnum) IS NULL ORDER BY 1""")
    assert columns == [], f"columns without COMMENT: {[c[0] for c in columns]}"
    assert q(migrated_db, "SELECT obj_description('crypto_news'::regnamespace, 'pg_namespace') IS NOT NULL") == [(True,)]


def test_views_are_bi_friendly(migrated_db):
    cols = q(migrated_db, """SELECT table_name, column_name, data_type FROM information_schema.columns
                             WHERE table_schema = 'crypto_news' AND table_name LIKE 'v\\_%%'""")
    assert {c[0] for c in cols} == VIEWS
    assert [c for c in cols if c[2] in ("json", "jsonb", "tsvector")] == []
    types = {(t, c): d for t, c, d in cols}
    for view in ("v_label_daily", "v_entity_label_daily"):
        assert types[(view, "day")] == "date"
        assert types[(view, "article_count")] == "bigint"
    assert types[("v_articles", "article_day")] == "date"
    assert types[("v_articles", "labels")] == "ARRAY"
    assert {types[("v_articles", f"is_{lab}")] for lab in ("regulation", "adoption", "mining")} == {"boolean"}
    assert {types[("v_articles", f"score_{lab}")] for lab in ("regulation", "adoption", "mining")} == {"real"}
    assert types[("v_pipeline_runs", "duration_s")] == "double precision"


def test_indexes_for_common_filters_exist(migrated_db):
    names = {r[0] for r in q(migrated_db, "SELECT indexname FROM pg_indexes WHERE schemaname = 'crypto_news'")}
    assert {"articles_search_idx", "articles_time_idx", "articles_day_idx", "articles_feed_time_idx",
            "article_sources_feed_seen_idx", "article_labels_label_idx", "article_entities_entity_idx"} <= names
    # pg_trgm is in contrib and installed on the test server
    assert "articles_title_trgm_idx" in names


# --- full-text search ----------------------------------------------------------------------------------------------

def test_search_vector_is_weighted_and_capped(migrated_db):
    huge = " ".join(f"w{i}" for i in range(400_000))  # ~3 MB: far past the tsvector limit without the cap
    (article_id,) = q(migrated_db, """INSERT INTO articles (canonical_url, url, title, summary, feed_content)
                                     VALUES ('https://x.example/a', 'https://x.example/a', 'Miners flee the ban',
                                             'Parliament debates stablecoins', 'custody rules')
                                     RETURNING article_id""")[0]

    def matches(tsq):
        return q(migrated_db, "SELECT search_tsv @@ to_tsquery('english', %s) FROM articles WHERE article_id = %s",
                 tsq, article_id)[0][0]

    assert matches("miner:A & ban:A") and matches("stablecoin:B") and not matches("custodi")  # body: text only
    assert not matches("miner:B") and not matches("stablecoin:A")
    # extraction stores the text: the vector follows, capped at 200,000 characters of text
    q(migrated_db, """UPDATE articles SET text = %s, extract_state = 'done', text_source = 'page'
                      WHERE article_id = %s""", huge, article_id)
    assert matches("w10:C") and matches("miner:A")
    assert not matches("w399999")


def test_classification_does_not_rewrite_articles(loaded_db):
    before = q(loaded_db, "SELECT article_id, xmin::text FROM articles ORDER BY 1")
    q(loaded_db, "DELETE FROM article_classifications")
    counts = pipeline.classify_articles(loaded_db)
    assert counts["articles"] == len(before)
    assert q(loaded_db, "SELECT article_id, xmin::text FROM articles ORDER BY 1") == before


def test_a_backlog_labelled_by_worker_processes_matches_labelling_inline(loaded_db):
    labels = "SELECT article_id, label, score, classifier_version FROM article_labels ORDER BY 1, 2"
    inline = q(loaded_db, labels)
    assert inline
    q(loaded_db, "DELETE FROM article_classifications")
    q(loaded_db, "DELETE FROM article_labels")
    counts = pipeline.classify_articles(loaded_db, batch_size=2, workers=2)  # full first batch: the worker pool
    assert counts["articles"] == 6
    assert q(loaded_db, labels) == inline
    assert pipeline.classify_articles(loaded_db, batch_size=2, workers=2)["articles"] == 0  # idempotent


# --- views on pipeline data ----------------------------------------------------------------------------------------

def test_v_articles_matches_the_tables(loaded_db):
    rows = q(loaded_db, """SELECT split_part(canonical_url, '/news/', 2), feed_name, is_regulation, is_adoption,
                                  is_mining, labels, score_regulation, jurisdictions, regulators, assets, source_count,
                                  same_content_count, first_same_content_article_id = article_id, text_source,
                                  extract_state, word_count > 80, article_day = (published_at AT TIME ZONE 'UTC')::date
                           FROM v_articles""")
    by_slug = {r[0]: r[1:] for r in rows}
    assert len(by_slug) == 6
    china = by_slug["china-blockchain-mining-ban"]
    assert china[:5] == ("ledgerwire.rss", True, True, True, ["adoption", "mining", "regulation"])
    assert china[6] == ["CN"] and "CN-PBOC" in china[7] and "BTC" in china[8]
    assert by_slug["sec-sues-exchange"][9] == 2  # carried by both feeds
    assert by_slug["price-falls"][1:5] == (False, False, False, [])
    assert all(r[10:] == (1, True, "page", "done", True, True) for r in by_slug.values())
    # scores come from article_classifications.scores
    assert q(loaded_db, """SELECT count(*) FROM v_articles v JOIN article_classifications c USING (article_id)
                           WHERE v.score_regulation = (c.scores ->> 'regulation')::real
                             AND v.score_mining = (c.scores ->> 'mining')::real""") == [(6,)]
    # label flags agree with article_labels for every article and label
    assert q(loaded_db, """SELECT count(*) FROM v_articles v
                           WHERE v.is_regulation <> ('regulation' = ANY(v.labels))
                              OR v.is_mining <> EXISTS (SELECT 1 FROM article_labels l
                                                        WHERE l.article_id = v.article_id AND l.label = 'mining')""") \
        == [(0,)]


def test_daily_views_and_runs(loaded_db):
    assert q(loaded_db, "SELECT sum(article_count) FROM v_label_daily") == \
        q(loaded_db, "SELECT count(*)::numeric FROM article_labels")
    assert q(loaded_db, """SELECT day, feed_name, article_count FROM v_label_daily WHERE label = 'regulation'
                           ORDER BY day""")[0][1:] in (("ledgerwire.rss", 1), ("chainpost.atom", 1))
    cn = q(loaded_db, """SELECT entity_name, label, article_count FROM v_entity_label_daily
                         WHERE entity_kind = 'jurisdiction' AND entity_id = 'CN' ORDER BY label""")
    assert cn == [("China", "adoption", 1), ("China", "mining", 1), ("China", "regulation", 1)]
    run = q(loaded_db, "SELECT status, duration_s > 0, articles_new, feeds_ok FROM v_pipeline_runs")
    assert run == [("success", True, 6, 2)]


def test_v_feed_health_counts_failures_since_last_success(loaded_db):
    (feed_id,) = q(loaded_db, "SELECT feed_id FROM feeds WHERE name = 'ledgerwire.rss'")[0]
    for minutes, status, kind in ((10, "not_modified", None), (20, "error", "timeout"), (30, "error", "http_error")):
        q(loaded_db, """INSERT INTO feed_fetches (feed_id, started_at, duration_ms, status, http_status, error_kind,
                                                  error)
                        VALUES (%s, now() + make_interval(mins => %s), 40, %s, %s, %s, %s)""",
          feed_id, minutes, status, 304 if status == "not_modified" else 503, kind, kind)
    health = {r[0]: r[1:] for r in q(loaded_db, """SELECT feed_name, last_status, last_error_kind,
                                                          consecutive_failures, fetches_30d, errors_30d,
                                                          not_modified_ratio_30d, articles_total
                                                   FROM v_feed_health""")}
    assert health["ledgerwire.rss"] == ("error", "http_error", 2, 4, 2, 0.25, 4)
    assert health["chainpost.atom"] == ("ok", None, 0, 1, 0, 0.0, 3)


def test_error_kinds_must_be_identifiers(migrated_db):
    (feed_id,) = q(migrated_db, "INSERT INTO feeds (url, name) VALUES ('http://f.example/', 'f') RETURNING feed_id")[0]
    with pytest.raises(errors.CheckViolation):
        q(migrated_db, "INSERT INTO feed_fetches (feed_id, status, error_kind) VALUES (%s, 'error', 'Timed Out!')",
          feed_id)
    q(migrated_db, "INSERT INTO feed_fetches (feed_id, status, error_kind) VALUES (%s, 'error', 'a_new_kind')", feed_id)


# --- roles ---------------------------------------------------------------------------------------------------------

def _login(url, group):
    name = f"cn_test_{group.split('_')[-1]}_{uuid.uuid4().hex[:10]}"
    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE {}").format(sql.Identifier(name), sql.Identifier(group)))
    conn.close()
    return name


def _drop_login(url, name):
    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
        cur.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))
    conn.close()


def test_roles_exist_once_as_nologin_groups(migrated_db):
    rows = q(migrated_db, """SELECT rolname, rolcanlogin, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles
                             WHERE rolname IN ('crypto_news_reader', 'crypto_news_writer') ORDER BY 1""")
    assert rows == [("crypto_news_reader", False, False, False, False),
                    ("crypto_news_writer", False, False, False, False)]


def test_reader_can_select_everything_and_change_nothing(loaded_db):
    name = _login(loaded_db, "crypto_news_reader")
    try:
        conn = psycopg2.connect(loaded_db, user=name)
        relations = q(loaded_db, """SELECT relname, relkind FROM pg_class
                                    WHERE relnamespace = 'crypto_news'::regnamespace AND relkind IN ('r', 'v')""")
        assert VIEWS <= {r[0] for r in relations}
        with conn.cursor() as cur:
            for relname, _ in relations:
                cur.execute(sql.SQL("SELECT * FROM crypto_news.{} LIMIT 5").format(sql.Identifier(relname)))
                cur.fetchall()
            cur.execute("SELECT count(*) FROM crypto_news.v_articles WHERE is_regulation")
            assert cur.fetchone() == (2,)
        conn.rollback()
        forbidden = [
            "INSERT INTO crypto_news.feeds (url, name) VALUES ('http://x.example/', 'x')",
            "UPDATE crypto_news.articles SET title = 'x'",
            "DELETE FROM crypto_news.article_labels",
            "TRUNCATE crypto_news.article_entities",
            "INSERT INTO crypto_news.v_pipeline_runs (run_key) VALUES ('x')",
            "UPDATE crypto_news.v_pipeline_runs SET error = 'x'",
            "CREATE TABLE crypto_news.reader_table (x int)",
            "CREATE VIEW crypto_news.reader_view AS SELECT 1 AS x",
            "CREATE TABLE public.reader_table (x int)",
            "CREATE SCHEMA reader_schema",
        ]
        for statement in forbidden:
            with conn.cursor() as cur, pytest.raises(errors.InsufficientPrivilege):
                cur.execute(statement)
            conn.rollback()
        conn.close()
        assert q(loaded_db, "SELECT count(*) FROM articles") == [(6,)]
    finally:
        _drop_login(loaded_db, name)


def test_writer_has_dml_but_no_ddl(migrated_db):
    name = _login(migrated_db, "crypto_news_writer")
    try:
        conn = psycopg2.connect(migrated_db, user=name, options="-c search_path=crypto_news")
        with conn.cursor() as cur:
            cur.execute("INSERT INTO feeds (url, name) VALUES ('http://w.example/', 'w') RETURNING feed_id")
            feed_id = cur.fetchone()[0]
            cur.execute("INSERT INTO articles (canonical_url, url, feed_id) VALUES ('https://w.example/a', "
                        "'https://w.example/a', %s) RETURNING article_id", (feed_id,))
            cur.execute("UPDATE articles SET title = 'w' WHERE article_id = %s", (cur.fetchone()[0],))
            cur.execute("DELETE FROM articles")
            cur.execute("SELECT count(*) FROM v_feed_health")
        conn.commit()
        for statement in ("CREATE TABLE crypto_news.writer_table (x int)", "TRUNCATE crypto_news.feeds",
                          "DROP VIEW crypto_news.v_articles", "ALTER TABLE crypto_news.feeds ADD COLUMN x int"):
            with conn.cursor() as cur, pytest.raises((errors.InsufficientPrivilege,)):
                cur.execute(statement)
            conn.rollback()
        conn.close()
    finally:
        _drop_login(migrated_db, name)
