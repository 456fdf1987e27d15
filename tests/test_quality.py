"""Data-quality checks (crypto_news.warehouse.quality) and retention
(crypto_news.warehouse.maintenance) on a real PostgreSQL."""

from __future__ import annotations

import psycopg2
import pytest

from crypto_news.warehouse import maintenance, quality


def _seed(url: str, *, fetch_status: str = "ok", text_sources=("page", "page", "feed_summary")) -> int:
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute("SET search_path = crypto_news")
        cur.execute("INSERT INTO pipeline_runs (run_key, trigger, started_at) VALUES ('r1', 'test', now() - "
                    "interval '1 minute') RETURNING run_id")
        run_id = cur.fetchone()[0]
        cur.execute("INSERT INTO feeds (url, name) VALUES ('https://a.example/feed', 'a') RETURNING feed_id")
        feed_id = cur.fetchone()[0]
        cur.execute("INSERT INTO feed_fetches (run_id, feed_id, status, error_kind) VALUES (%s, %s, %s, %s)",
                    (run_id, feed_id, fetch_status, "dns" if fetch_status == "error" else None))
        for i, source in enumerate(text_sources):
            cur.execute(
                """INSERT INTO articles (canonical_url, url, feed_id, first_run_id, published_at, extract_state,
                                         text_source, text, extracted_at)
                   VALUES (%s, %s, %s, %s, now() - interval '2 hours', 'done', %s, 'text', now())
                   RETURNING article_id""",
                (f"https://a.example/{i}", f"https://a.example/{i}", feed_id, run_id, source),
            )
            cur.execute("INSERT INTO article_labels (article_id, label, score, classifier_version) "
                        "VALUES (%s, 'mining', 0.9, 'v1')", (cur.fetchone()[0],))
    conn.close()
    return run_id


def _by_name(results):
    return {r.name: r for r in results}


def test_clean_run_passes_every_check(migrated_db):
    run_id = _seed(migrated_db)
    results = quality.run_checks(migrated_db, run_id)
    assert [r.name for r in results] == ["canonical_url", "label_set", "published_future", "extract_rate",
                                         "feed_succeeded", "feeds_dead", "page_share_7d", "new_articles_7d"]
    assert all(r.passed for r in results), results
    assert _by_name(results)["extract_rate"].value == pytest.approx(2 / 3, abs=1e-3)
    assert quality.assert_checks(results) == results
    assert quality.main(["--db-url", migrated_db, "--run-id", str(run_id)]) == 0


def test_failures_are_all_named(migrated_db, capsys):
    run_id = _seed(migrated_db, fetch_status="error", text_sources=("feed_summary", "none"))
    conn = psycopg2.connect(migrated_db)
    with conn, conn.cursor() as cur:
        cur.execute("SET search_path = crypto_news")
        # the schema's CHECK constraint already refuses unknown labels: drop it to prove the check sees them
        cur.execute("ALTER TABLE article_labels DROP CONSTRAINT article_labels_label_check")
        cur.execute("UPDATE articles SET canonical_url = '' WHERE canonical_url = 'https://a.example/0'")
        cur.execute("UPDATE articles SET published_at = now() + interval '3 days' WHERE canonical_url = "
                    "'https://a.example/1'")
        cur.execute("INSERT INTO article_labels (article_id, label, score, classifier_version) "
                    "SELECT article_id, 'memes', 0.5, 'v1' FROM articles LIMIT 1")
    conn.close()

    results = quality.run_checks(migrated_db, run_id, min_rate=0.5)
    failed = {r.name for r in results if not r.passed}
    assert failed == {"canonical_url", "label_set", "published_future", "extract_rate", "feed_succeeded"}
    with pytest.raises(quality.QualityError) as err:
        quality.assert_checks(results)
    for name in failed:
        assert name in str(err.value)
    assert "'memes'" in str(err.value)
    assert quality.main(["--db-url", migrated_db, "--run-id", str(run_id)]) == 1
    assert "FAIL feed_succeeded" in capsys.readouterr().out


def test_default_floor_accepts_feed_text_only(migrated_db, monkeypatch):
    # pages can legitimately be unreachable: with the default floor (0.0) an all-fallback run is fine
    monkeypatch.delenv("CRYPTO_NEWS_MIN_EXTRACT_RATE", raising=False)
    run_id = _seed(migrated_db, text_sources=("feed_summary", "feed_content"))
    assert _by_name(quality.run_checks(migrated_db, run_id))["extract_rate"].passed
    monkeypatch.setenv("CRYPTO_NEWS_MIN_EXTRACT_RATE", "0.8")
    result = _by_name(quality.run_checks(migrated_db, run_id))["extract_rate"]
    assert not result.passed and "floor 0.80" in result.detail
    monkeypatch.setenv("CRYPTO_NEWS_MIN_EXTRACT_RATE", "2")
    with pytest.raises(ValueError, match="CRYPTO_NEWS_MIN_EXTRACT_RATE"):
        quality.run_checks(migrated_db, run_id)


def test_unknown_run_is_an_error(migrated_db):
    with pytest.raises(quality.QualityError, match="does not exist"):
        quality.run_checks(migrated_db, 999)


def test_prune_feed_fetches_keeps_recent_rows(migrated_db, monkeypatch):
    _seed(migrated_db)
    conn = psycopg2.connect(migrated_db)
    with conn, conn.cursor() as cur:
        cur.execute("SET search_path = crypto_news")
        cur.execute("INSERT INTO feed_fetches (feed_id, status, started_at) "
                    "SELECT feed_id, 'ok', now() - make_interval(days => d) + interval '1 hour' "
                    "FROM feeds, generate_series(1, 30) d")
    monkeypatch.setenv("CRYPTO_NEWS_FETCH_LOG_DAYS", "10")
    assert maintenance.prune_feed_fetches(migrated_db, batch_size=7) == 20  # days 11..30, several batches
    assert maintenance.prune_feed_fetches(migrated_db) == 0  # idempotent
    with conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM crypto_news.feed_fetches")
        assert cur.fetchone()[0] == 1 + 10
    conn.close()
    monkeypatch.setenv("CRYPTO_NEWS_FETCH_LOG_DAYS", "0")
    with pytest.raises(ValueError):
        maintenance.fetch_log_days()


def _history(url: str, feed_failures: int = 0) -> None:
    """Two earlier runs (3 and 2 days ago) of 10 new articles each, all with page text; and a second feed whose
    last ``feed_failures`` fetches failed."""
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute("SET search_path = crypto_news")
        cur.execute("SELECT feed_id FROM feeds WHERE name = 'a'")
        feed_id = cur.fetchone()[0]
        for days in (3, 2):
            cur.execute("INSERT INTO pipeline_runs (run_key, trigger, started_at, finished_at, status, articles_new) "
                        "VALUES (%s, 'test', now() - make_interval(days => %s), "
                        "now() - make_interval(days => %s) + interval '5 minutes', 'success', 10) RETURNING run_id",
                        (f"old-{days}", days, days))
            old = cur.fetchone()[0]
            for i in range(10):
                cur.execute("INSERT INTO articles (canonical_url, url, feed_id, first_run_id, extract_state, "
                            "text_source, text, extracted_at) VALUES (%s, %s, %s, %s, 'done', 'page', 'text', "
                            "now() - make_interval(days => %s) + interval '1 minute')",
                            (f"https://a.example/old-{days}-{i}",) * 2 + (feed_id, old, days))
        cur.execute("INSERT INTO feeds (url, name) VALUES ('https://b.example/feed', 'b') RETURNING feed_id")
        dead = cur.fetchone()[0]
        cur.execute("INSERT INTO feed_fetches (feed_id, status, started_at) VALUES (%s, 'ok', now() - "
                    "interval '1 hour')", (dead,))
        for i in range(feed_failures):
            cur.execute("INSERT INTO feed_fetches (feed_id, status, error_kind, http_status, started_at) "
                        "VALUES (%s, 'error', 'http_error', 404, now() - make_interval(mins => %s))", (dead, 30 - i))
    conn.close()


def test_a_collapse_of_page_text_and_of_new_articles_against_the_last_7_days(migrated_db, monkeypatch):
    run_id = _seed(migrated_db, text_sources=("feed_summary", "feed_summary", "none"))
    _history(migrated_db)
    for name in ("FEEDS_DEAD", "PAGE_SHARE_7D", "NEW_ARTICLES_7D"):
        monkeypatch.delenv(f"CRYPTO_NEWS_CHECK_{name}", raising=False)
    got = _by_name(quality.run_checks(migrated_db, run_id))
    share, new = got["page_share_7d"], got["new_articles_7d"]
    assert (share.passed, share.severity, share.value) == (False, "fail", 0.0)
    assert "0/3 = 0.00 of the run's articles have page text; the 7 days before: 20/20 = 1.00" in share.detail
    assert (new.passed, new.severity, new.verdict) == (False, "warn", "WARN")
    assert "3 new article(s)" in new.detail and "2 run(s) of the 7 days before: 10.0 on average" in new.detail
    with pytest.raises(quality.QualityError) as err:
        quality.assert_checks(list(got.values()))
    assert "page_share_7d" in str(err.value) and "new_articles_7d" not in str(err.value)  # a warning only
    assert [r.name for r in quality.warnings_of(list(got.values()))] == ["new_articles_7d"]

    monkeypatch.setenv("CRYPTO_NEWS_CHECK_PAGE_SHARE_7D", "off")
    monkeypatch.setenv("CRYPTO_NEWS_CHECK_NEW_ARTICLES_7D", "fail")
    got = _by_name(quality.run_checks(migrated_db, run_id))
    assert "page_share_7d" not in got and got["new_articles_7d"].severity == "fail"


def test_the_7_day_checks_pass_within_the_ratio_and_without_history(migrated_db):
    run_id = _seed(migrated_db, text_sources=("page",) * 6)
    got = _by_name(quality.run_checks(migrated_db, run_id))
    assert got["page_share_7d"].passed and "nothing to compare" in got["page_share_7d"].detail
    assert got["new_articles_7d"].passed and "no earlier run" in got["new_articles_7d"].detail
    _history(migrated_db)
    got = _by_name(quality.run_checks(migrated_db, run_id))
    assert got["page_share_7d"].passed and got["new_articles_7d"].passed  # 6 new against 10: within ratio 2


def test_a_dead_feed_is_named(migrated_db, monkeypatch):
    run_id = _seed(migrated_db)
    _history(migrated_db, feed_failures=3)
    monkeypatch.delenv("CRYPTO_NEWS_CHECK_FEEDS_DEAD", raising=False)
    dead = _by_name(quality.run_checks(migrated_db, run_id))["feeds_dead"]
    assert (dead.passed, dead.severity, dead.value) == (False, "warn", 1)
    assert "1 enabled feed(s) failing 3 fetches in a row or without success for 3 day(s): b (3x http_error)" \
        == dead.detail
    monkeypatch.setenv("CRYPTO_NEWS_DEAD_FEED_RUNS", "4")
    assert _by_name(quality.run_checks(migrated_db, run_id))["feeds_dead"].passed
    monkeypatch.setenv("CRYPTO_NEWS_DEAD_FEED_RUNS", "3")
    monkeypatch.setenv("CRYPTO_NEWS_CHECK_FEEDS_DEAD", "fail")
    with pytest.raises(quality.QualityError, match="feeds_dead"):
        quality.assert_checks(quality.run_checks(migrated_db, run_id))
    monkeypatch.setenv("CRYPTO_NEWS_CHECK_FEEDS_DEAD", "sometimes")
    with pytest.raises(ValueError, match="CRYPTO_NEWS_CHECK_FEEDS_DEAD must be fail, warn or off"):
        quality.run_checks(migrated_db, run_id)
