"""DAG integrity (imports, schedule, retries, tags, parse cost) and a full run of the daily DAG with dag.test()."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import psycopg2
import pytest
from sitekit import serve_site, write_feed_list

DAGS = Path(__file__).resolve().parents[1] / "dags"


@pytest.fixture(scope="module")
def bag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS), safe_mode=False)


def test_dags_import_without_errors(bag):
    assert bag.import_errors == {}
    assert "crypto_news_daily" in bag.dags


def test_daily_dag_contract(bag):
    dag = bag.dags["crypto_news_daily"]
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert {"crypto-news", "ingest"} <= set(dag.tags)
    assert dag.schedule == "@daily"
    for t in dag.tasks:
        assert t.retries >= 1, t.task_id
        assert t.execution_timeout is not None and t.execution_timeout <= timedelta(hours=2), t.task_id
    ids = {t.task_id for t in dag.tasks}
    assert {"start_run", "sync_feeds", "fetch_feeds", "extract_articles", "classify_articles", "finish_run"} <= ids


def test_dag_files_parse_cheaply(bag):
    # DAG files do no I/O and no heavy import at module level: parsing one costs a small fraction of a second
    # once Airflow itself is loaded (the budget here is loose on purpose; it catches top-level work, not jitter).
    for stat in bag.dagbag_stats:
        assert stat.duration < timedelta(seconds=2), stat


def test_schedule_comes_from_the_environment(monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("CRYPTO_NEWS_SCHEDULE", "0 6 * * *")
    other = DagBag(dag_folder=str(DAGS / "crypto_news_daily.py"), safe_mode=False)
    assert other.dags["crypto_news_daily"].schedule == "0 6 * * *"


def test_daily_dag_runs_end_to_end(bag, migrated_db, http_server, tmp_path, monkeypatch):
    from airflow.utils import db as airflow_db

    airflow_db.initdb()
    feeds = write_feed_list(tmp_path / "feeds.yml", serve_site(http_server))
    monkeypatch.setenv("AIRFLOW_CONN_CRYPTO_NEWS_DB", migrated_db)
    monkeypatch.setenv("CRYPTO_NEWS_FEEDS", str(feeds))
    monkeypatch.setenv("CRYPTO_NEWS_EXTRACT_WORKERS", "1")
    dag = bag.dags["crypto_news_daily"]

    run = dag.test()
    assert run.state == "success"

    conn = psycopg2.connect(migrated_db)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT trigger, status, articles_new, articles_extracted, articles_classified "
                    "FROM crypto_news.pipeline_runs")
        assert cur.fetchall() == [("airflow", "success", 6, 6, 6)]
        cur.execute("SELECT count(*), count(*) FILTER (WHERE text_source = 'page') FROM crypto_news.articles")
        assert cur.fetchone() == (6, 6)
        cur.execute("SELECT count(*) FROM crypto_news.feed_fetches WHERE status = 'ok'")
        assert cur.fetchone() == (2,)
        cur.execute("SELECT count(DISTINCT article_id) FROM crypto_news.article_labels")
        labelled = cur.fetchone()[0]
        assert labelled >= 4
        cur.execute("SELECT count(*) FROM crypto_news.article_labels")
        labels = cur.fetchone()[0]

    run2 = dag.test()
    assert run2.state == "success"
    with conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM crypto_news.articles")
        assert cur.fetchone() == (6,)
        cur.execute("SELECT count(*) FROM crypto_news.article_labels")
        assert cur.fetchone() == (labels,)
        cur.execute("SELECT status FROM crypto_news.feed_fetches ORDER BY fetch_id DESC LIMIT 2")
        assert cur.fetchall() == [("not_modified",), ("not_modified",)]
    conn.close()
