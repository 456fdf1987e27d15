"""The run's row tells the truth: a run in which a task or stage failed is recorded failed, saying which."""

from __future__ import annotations

import psycopg2

from conftest import query as q
from crypto_news.warehouse import runs


def _conn(url):
    return psycopg2.connect(url, options="-c search_path=crypto_news")


def test_a_failed_task_fails_the_run_with_its_recorded_error(migrated_db):
    conn = _conn(migrated_db)
    try:
        run_id = runs.start_run(conn, "manual__1", "airflow")
        assert runs.record_stage_error(conn, "manual__1", "extract_articles[3]", "FetchError: timeout")
        assert runs.record_stage_error(conn, "manual__1", "extract_articles[3]",
                                       "RuntimeError: second try")
        assert not runs.record_stage_error(conn, "manual__unknown", "sync_feeds", "never started")
        conn.commit()
        summary = runs.finish_run(conn, run_id, [],
                                  failed_stages=["extract_articles[3]", "classify_articles"])
    finally:
        conn.close()
    assert summary["status"] == "failed"
    assert summary["error"] == ("extract_articles[3] failed: RuntimeError: second try; "
                                "classify_articles failed")
    assert q(migrated_db, "SELECT status, failed_stages, stage_errors FROM crypto_news.pipeline_runs") == [
        ("failed", ["extract_articles[3]", "classify_articles"],
         {"extract_articles[3]": "RuntimeError: second try"})]


def test_a_retried_task_that_succeeded_does_not_fail_the_run(migrated_db):
    conn = _conn(migrated_db)
    try:
        run_id = runs.start_run(conn, "manual__2", "airflow")
        runs.record_stage_error(conn, "manual__2", "plan_fetch",
                                "OperationalError: server closed the connection")
        conn.commit()
        summary = runs.finish_run(conn, run_id, [], failed_stages=[])
    finally:
        conn.close()
    assert (summary["status"], summary["error"]) == ("success", None)


def test_reopening_a_run_forgets_the_last_attempt_but_run_for_key_keeps_it(migrated_db):
    conn = _conn(migrated_db)
    try:
        first = runs.start_run(conn, "manual__3", "airflow")
        runs.record_stage_error(conn, "manual__3", "start_run", "configuration error: bad")
        conn.commit()
        assert runs.run_for_key(conn, "manual__3", "airflow") == first
        assert q(migrated_db, "SELECT stage_errors FROM crypto_news.pipeline_runs") == [
            ({"start_run": "configuration error: bad"},)]
        assert runs.start_run(conn, "manual__3", "airflow") == first  # a cleared run starts afresh
        assert q(migrated_db, "SELECT stage_errors, failed_stages FROM crypto_news.pipeline_runs") == [
            ({}, [])]
        assert runs.run_for_key(conn, "manual__4", "airflow") != first  # a key never seen gets its row
    finally:
        conn.close()


def test_failed_checks_after_the_summary_turn_the_run_failed(migrated_db):
    conn = _conn(migrated_db)
    try:
        run_id = runs.start_run(conn, "manual__5", "airflow")
        assert runs.finish_run(conn, run_id, [])["status"] == "success"
        runs.mark_failed(conn, run_id, "quality_checks", "1 data-quality check(s) failed: extract_rate (0/9)")
        assert runs.load_run_summary(conn, run_id)["status"] == "failed"
    finally:
        conn.close()
    assert q(migrated_db, "SELECT status, failed_stages, error FROM crypto_news.pipeline_runs") == [
        ("failed", ["quality_checks"],
         "quality_checks failed: 1 data-quality check(s) failed: extract_rate (0/9)")]


def test_a_feed_removed_from_the_list_is_disabled(migrated_db, tmp_path):
    from crypto_news import pipeline
    from sitekit import write_feed_list

    both = write_feed_list(tmp_path / "both.yml", {"A": "https://a.example/feed", "B": "https://b.example/feed"})
    one = write_feed_list(tmp_path / "one.yml", {"A": "https://a.example/feed"})
    assert len(pipeline.sync_feeds(migrated_db, both)) == 2
    assert len(pipeline.sync_feeds(migrated_db, one)) == 1
    assert q(migrated_db, "SELECT name, enabled FROM crypto_news.feeds ORDER BY name") == [
        ("A", True), ("B", False)]
    pipeline.sync_feeds(migrated_db, both)  # listed again: enabled again
    assert q(migrated_db, "SELECT count(*) FROM crypto_news.feeds WHERE enabled") == [(2,)]
