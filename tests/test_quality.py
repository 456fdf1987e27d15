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
                                         "feed_succeeded"]
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
