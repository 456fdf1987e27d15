"""DAG integrity (imports, schedule, retries, tags, parse cost) and a full run of the daily DAG with dag.test()."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg2
import pytest

from sitekit import serve_site, write_feed_list

DAGS = Path(__file__).resolve().parents[1] / "dags"


@pytest.fixture(scope="module")
def bag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS), safe_mode=False)


ARTICLES_URI = "x-crypto-news://crypto_news/articles"
DAG_IDS = {"crypto_news_daily", "crypto_news_reclassify", "crypto_news_maintenance", "crypto_news_poll"}


def test_dags_import_without_errors(bag):
    assert bag.import_errors == {}
    assert DAG_IDS <= set(bag.dags)


def test_airflow_lint_passes():
    ruff = Path(sys.executable).parent / "ruff"
    proc = subprocess.run([str(ruff), "check", "--select", "AIR", str(DAGS)], capture_output=True, text=True, check=False,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_daily_dag_contract(bag):
    dag = bag.dags["crypto_news_daily"]
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert {"crypto-news", "ingest"} <= set(dag.tags)
    assert dag.timetable.expression == "0 0 * * *"  # @daily
    assert dag.timetable.interval == timedelta(days=1)  # each run's data interval: the day before it
    for t in dag.tasks:
        assert t.retries >= 1, t.task_id
        assert t.execution_timeout is not None and t.execution_timeout <= timedelta(hours=2), t.task_id
    ids = {t.task_id for t in dag.tasks}
    assert {"start_run", "sync_feeds", "fetch_feeds", "extract_articles", "classify_articles", "finish_run",
            "quality_checks"} <= ids


def test_daily_dag_fan_out_pool_alerts_assets(bag):
    from crypto_news.orchestration.alerts import on_failure_callback

    dag = bag.dags["crypto_news_daily"]
    tasks = {t.task_id: t for t in dag.tasks}
    for tid in ("fetch_feeds", "extract_articles"):
        assert tasks[tid].pool == "crypto_news_http", tid
        assert type(tasks[tid]).__name__.endswith("MappedOperator"), tid
    assert tasks["backfill_interval"].pool == "crypto_news_http"
    http = ("fetch_feeds", "extract_articles", "backfill_interval")
    assert {t.pool for tid, t in tasks.items() if tid not in http} == {"default_pool"}
    for t in dag.tasks:
        assert on_failure_callback in _callbacks(t), t.task_id
        assert t.retry_exponential_backoff, t.task_id
    # the one named Asset, updated when the run is recorded (not by a run that failed)
    assert [(a.name, a.uri) for a in tasks["finish_run"].outlets] == [("crypto_news_articles", ARTICLES_URI)]
    assert [tid for tid, t in tasks.items() if t.outlets] == ["finish_run"]
    # mapped batches are named in the UI; the run's parameter is typed
    for tid in ("fetch_feeds", "extract_articles"):
        assert tasks[tid].map_index_template == "{{ crypto_news_batch }}", tid
    param = dag.params.get_param("feeds_file")
    assert param.schema["type"] == ["null", "string"] and param.value is None
    param.resolve("config/feeds.yml")
    with pytest.raises(Exception, match="is not valid under any of the given schemas|is not of type"):
        param.resolve(42)
    # the data-quality checks come last, after the run is recorded
    assert tasks["quality_checks"].upstream_task_ids == {"finish_run", "start_run"}
    assert not tasks["quality_checks"].downstream_task_ids


def test_poll_dag_fetches_due_feeds_every_quarter_hour(bag):
    from crypto_news.orchestration.alerts import on_failure_callback

    dag = bag.dags["crypto_news_poll"]
    assert dag.schedule == "*/15 * * * *" and dag.catchup is False and dag.max_active_runs == 1
    tasks = {t.task_id: t for t in dag.tasks}
    assert set(tasks) == {"start_run", "sync_feeds", "due_feeds", "plan_fetch", "fetch_feeds", "finish_run"}
    assert tasks["fetch_feeds"].pool == "crypto_news_http"
    assert "extract_articles" not in tasks  # pages are the daily DAG's
    for t in dag.tasks:
        assert t.retries >= 1 and t.execution_timeout <= timedelta(minutes=15), t.task_id
        assert on_failure_callback in _callbacks(t), t.task_id


def _callbacks(task) -> list:
    cb = task.on_failure_callback
    return list(cb) if isinstance(cb, (list, tuple)) else [cb]


def test_reclassify_and_maintenance_dags(bag):
    from crypto_news.orchestration.alerts import on_failure_callback

    re_dag, mt_dag = bag.dags["crypto_news_reclassify"], bag.dags["crypto_news_maintenance"]
    assert re_dag.schedule is None and mt_dag.schedule == "@weekly"
    assert [(a.name, a.uri) for t in re_dag.tasks for a in t.outlets] == [("crypto_news_articles", ARTICLES_URI)]
    for dag in (re_dag, mt_dag):
        assert dag.catchup is False and dag.max_active_runs == 1
        for t in dag.tasks:
            assert t.retries >= 1 and t.execution_timeout is not None, t.task_id
            assert on_failure_callback in _callbacks(t), t.task_id


def test_dag_files_parse_cheaply(bag):
    # DAG files do no I/O and no heavy import at module level: parsing one costs a small fraction of a second
    # once Airflow itself is loaded (the budget here is loose on purpose; it catches top-level work, not jitter).
    for stat in bag.dagbag_stats:
        assert stat.duration < timedelta(seconds=2), stat


def test_schedule_comes_from_the_environment(monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("CRYPTO_NEWS_SCHEDULE", "0 6 * * *")
    other = DagBag(dag_folder=str(DAGS / "crypto_news_daily.py"), safe_mode=False)
    assert other.dags["crypto_news_daily"].timetable.expression == "0 6 * * *"


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
        cur.execute("SELECT run_id, feed_id FROM crypto_news.pipeline_runs, crypto_news.feeds ORDER BY feed_id")
        (run_id, _), *_ = feed_rows = cur.fetchall()
    # the Airflow metadata database: mapped batches named by what they hold, one Asset event with the counts
    names = _rendered_map_indexes(run.run_id)
    assert names["fetch_feeds"] and all(n.startswith("feeds ") for n in names["fetch_feeds"]), names
    assert sorted(int(i) for n in names["fetch_feeds"] for i in n.removeprefix("feeds ").split(", ")) == \
        [feed_id for _, feed_id in feed_rows]
    assert names["extract_articles"] and all(n.startswith("articles ") for n in names["extract_articles"]), names
    events = _asset_events("crypto_news_articles")
    assert [e for e in events if e["run_id"] == run_id] == [
        {"run_id": run_id, "status": "success", "feeds_ok": 2, "feeds_failed": 0, "articles_new": 6,
         "articles_extracted": 6, "articles_classified": 6, "labels_written": labels}]

    run2 = dag.test()
    assert run2.state == "success"
    with conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM crypto_news.articles")
        assert cur.fetchone() == (6,)
        cur.execute("SELECT count(*) FROM crypto_news.article_labels")
        assert cur.fetchone() == (labels,)
        cur.execute("SELECT status FROM crypto_news.feed_fetches ORDER BY fetch_id DESC LIMIT 2")
        assert cur.fetchall() == [("not_modified",), ("not_modified",)]

    # a taxonomy change is simulated by an older stored version: the reclassify DAG re-labels those articles
    with conn, conn.cursor() as cur:
        cur.execute("UPDATE crypto_news.article_classifications SET classifier_version = 'old' "
                    "WHERE article_id IN (SELECT article_id FROM crypto_news.articles ORDER BY article_id LIMIT 2)")
    assert bag.dags["crypto_news_reclassify"].test().state == "success"
    last = _asset_events("crypto_news_articles")[-1]
    assert last["articles"] == 2 and last["classifier_version"] not in (None, "old"), last
    with conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM crypto_news.article_classifications WHERE classifier_version = 'old'")
        assert cur.fetchone() == (0,)
        cur.execute("SELECT count(*) FROM crypto_news.article_labels")
        assert cur.fetchone() == (labels,)

    assert bag.dags["crypto_news_maintenance"].test().state == "success"
    with conn, conn.cursor() as cur:  # nothing is old enough to go
        cur.execute("SELECT count(*) FROM crypto_news.feed_fetches")
        assert cur.fetchone() == (4,)
    conn.close()


def _rendered_map_indexes(dag_run_id: str) -> dict[str, list[str]]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    out: dict[str, list[str]] = {}
    with create_session() as session:
        for ti in session.query(TaskInstance).filter(TaskInstance.run_id == dag_run_id,
                                                     TaskInstance.map_index >= 0):
            out.setdefault(ti.task_id, []).append(ti.rendered_map_index)
    return out


def _asset_events(name: str) -> list[dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (session.query(AssetEvent).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
                .filter(AssetModel.name == name).order_by(AssetEvent.id).all())
        return [dict(e.extra or {}) for e in rows]


class _Webhook:
    """A loopback HTTP endpoint recording the JSON bodies POSTed to it."""

    def __init__(self, status=200):
        self.bodies: list[dict] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                hook.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook/s3cr3t-token"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class _TI:
    dag_id, task_id, run_id, map_index, try_number = "crypto_news_daily", "extract_articles", "manual__1", 3, 2
    log_url = "http://airflow.example/dags/crypto_news_daily/runs/manual__1/tasks/extract_articles/mapped/3"


def _context(exc):
    return {"ti": _TI(), "exception": exc}


def test_failure_callback_logs_one_line_and_sends_nothing(monkeypatch, caplog):
    from crypto_news.orchestration.alerts import on_failure_callback

    hook = _Webhook()
    monkeypatch.setenv("AIRFLOW_CONN_CRYPTO_NEWS_ALERTS", hook.url)
    try:
        exc = RuntimeError("cannot connect to postgresql://cn:hunter2@db:5432/crypto_news\nsecond line")
        with caplog.at_level(logging.INFO, logger="crypto_news.orchestration.alerts"):
            on_failure_callback(_context(exc))
    finally:
        hook.close()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    line = errors[0]
    assert "\n" not in line and "hunter2" not in line
    for part in ("dag=crypto_news_daily", "task=extract_articles[3]", "run=manual__1", "try=2",
                 "error=RuntimeError: cannot connect to postgresql://cn:***@db"):
        assert part in line, part
    assert hook.bodies == []  # one alert per DAG run comes from the DAG's callback, not one per task


def test_failure_callback_never_raises(caplog):
    from crypto_news.orchestration.alerts import on_failure_callback

    on_failure_callback({})  # an empty context still gives one line
    on_failure_callback(None)  # not even a context
    assert caplog.text.count("crypto-news task failed") == 2


def test_run_notifier_posts_one_alert_naming_failed_tasks_and_feeds(bag, migrated_db, monkeypatch, caplog):
    from crypto_news.orchestration.alerts import RunAlertNotifier, connection_target
    from crypto_news.warehouse import runs

    conn = psycopg2.connect(migrated_db, options="-c search_path=crypto_news")
    with conn.cursor() as cur:
        run_id = runs.start_run(conn, "manual__7", "airflow")
        cur.execute("INSERT INTO feeds (url, name) VALUES ('https://dead.example/feed', 'Dead Wire') "
                    "RETURNING feed_id")
        feed_id = cur.fetchone()[0]
        cur.execute("INSERT INTO feed_fetches (run_id, feed_id, status, error_kind, error, http_status) "
                    "VALUES (%s, %s, 'error', 'http_error', 'HTTP 404 from https://u:pw@dead.example/feed', 404)",
                    (run_id, feed_id))
    conn.commit()
    runs.record_stage_error(conn, "manual__7", "extract_articles[2]", "TimeoutError: page took too long")
    conn.commit()
    runs.finish_run(conn, run_id, [feed_id], failed_stages=["extract_articles[2]"])
    conn.close()

    hook = _Webhook()
    monkeypatch.setenv("AIRFLOW_CONN_CRYPTO_NEWS_DB", migrated_db)
    monkeypatch.setenv("AIRFLOW_CONN_CRYPTO_NEWS_ALERTS", hook.url)
    try:
        with caplog.at_level(logging.INFO, logger="crypto_news.orchestration.alerts"):
            RunAlertNotifier()({"dag": bag.dags["crypto_news_daily"], "run_id": "manual__7",
                                "reason": "task_failure"})
    finally:
        hook.close()
    assert hook.bodies == [{
        "event": "dag_run_failed", "dag_id": "crypto_news_daily", "run_id": "manual__7", "reason": "task_failure",
        "deadline": None, "failed_tasks": ["extract_articles[2]"],
        "failed_feeds": [{"name": "Dead Wire", "error_kind": "http_error",
                          "error": "HTTP 404 from https://u:***@dead.example/feed"}],
        "run_status": "failed",
        "error": "extract_articles[2] failed: TimeoutError: page took too long",
    }]
    assert "s3cr3t-token" not in caplog.text
    assert "alert sent to the Connection 'crypto_news_alerts'" in caplog.text

    class Conn:  # the JSON form of a Connection: the whole URL in host
        conn_type, host, schema, port = "http", "https://hooks.example/T0/B1", None, None
    assert connection_target(Conn) == "https://hooks.example/T0/B1"


def test_run_notifier_without_a_connection_logs_only_and_a_dead_target_never_raises(monkeypatch, caplog):
    from crypto_news.orchestration.alerts import RunAlertNotifier

    monkeypatch.delenv("AIRFLOW_CONN_CRYPTO_NEWS_ALERTS", raising=False)
    with caplog.at_level(logging.INFO, logger="crypto_news.orchestration.alerts"):
        RunAlertNotifier()({"run_id": "manual__8"})
    assert "the alert is logged only" in caplog.text
    hook = _Webhook()
    url = hook.url
    hook.close()  # nothing listens there any more
    monkeypatch.setenv("AIRFLOW_CONN_CRYPTO_NEWS_ALERTS", url)
    monkeypatch.setenv("CRYPTO_NEWS_ALERT_TIMEOUT_S", "1")
    RunAlertNotifier(event="deadline_missed")({"dag_run": {"dag_id": "crypto_news_daily", "run_id": "manual__8"}})
    assert "crypto-news alert to the Connection 'crypto_news_alerts' failed" in caplog.text


def test_daily_dag_alerts_once_per_run_and_has_a_deadline(monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    from crypto_news.orchestration.alerts import RunAlertNotifier

    monkeypatch.delenv("CRYPTO_NEWS_RUN_DEADLINE_MIN")  # the default: 3 hours after the run was queued
    dag = DagBag(dag_folder=str(DAGS / "crypto_news_daily.py"), safe_mode=False).dags["crypto_news_daily"]
    assert [type(cb) for cb in dag.on_failure_callback] == [RunAlertNotifier]
    [deadline] = dag.deadline
    assert deadline.interval == timedelta(hours=3)
    assert deadline.callback.path == "crypto_news.orchestration.alerts.RunAlertNotifier"
    assert deadline.callback.kwargs == {"event": "deadline_missed"}


def test_config_error_fails_the_run_at_once_and_records_why(bag, migrated_db, tmp_path, monkeypatch):
    """A broken feed list is not transient: start_run fails without a retry, every later task is skipped or fails,
    and the run's row says failed with the reason (it used to say success)."""
    from airflow.utils import db as airflow_db

    airflow_db.initdb()
    bad = tmp_path / "feeds.yml"
    bad.write_text("feeds:\n  - name: Local file\n    url: file:///etc/passwd\n", encoding="utf-8")
    monkeypatch.setenv("AIRFLOW_CONN_CRYPTO_NEWS_DB", migrated_db)
    monkeypatch.setenv("CRYPTO_NEWS_FEEDS", str(bad))
    hook = _Webhook()
    monkeypatch.setenv("AIRFLOW_CONN_CRYPTO_NEWS_ALERTS", hook.url)
    try:
        run = bag.dags["crypto_news_daily"].test()
    finally:
        hook.close()
    assert run.state == "failed"
    [alert] = hook.bodies  # one alert for the run, although two tasks failed
    assert alert["event"] == "dag_run_failed" and alert["run_status"] == "failed"
    assert "start_run" in alert["failed_tasks"]
    assert alert["error"].startswith("start_run failed: configuration error: ")
    tries = {ti.task_id: ti.try_number for ti in run.get_task_instances() if ti.task_id == "start_run"}
    assert tries == {"start_run": 1}  # no retry
    conn = psycopg2.connect(migrated_db)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT trigger, status, failed_stages, error FROM crypto_news.pipeline_runs")
        rows = cur.fetchall()
        cur.execute("SELECT status, failed_stages FROM crypto_news.v_pipeline_runs")
        view = cur.fetchall()
    conn.close()
    assert len(rows) == 1
    trigger, status, failed, error = rows[0]
    assert (trigger, status) == ("airflow", "failed")
    assert failed == ["start_run"]
    assert error.startswith("start_run failed: configuration error: ") and "'url' must be an http(s) URL" in error
    assert view == [("failed", failed)]



def test_poll_dag_reads_only_the_feeds_that_are_due(bag, migrated_db, http_server, tmp_path, monkeypatch):
    from airflow.utils import db as airflow_db

    airflow_db.initdb()
    feeds = write_feed_list(tmp_path / "feeds.yml", serve_site(http_server))
    monkeypatch.setenv("AIRFLOW_CONN_CRYPTO_NEWS_DB", migrated_db)
    monkeypatch.setenv("CRYPTO_NEWS_FEEDS", str(feeds))
    dag = bag.dags["crypto_news_poll"]

    assert dag.test().state == "success"
    conn = psycopg2.connect(migrated_db)
    with conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM crypto_news.feed_fetches")
        assert cur.fetchone() == (2,)
        cur.execute("SELECT count(*), count(*) FILTER (WHERE extract_state = 'pending') FROM crypto_news.articles")
        assert cur.fetchone() == (6, 6)  # stored; pages are left to the daily DAG
        cur.execute("SELECT bool_and(next_check_at > now() + interval '14 minutes') FROM crypto_news.feeds")
        assert cur.fetchone() == (True,)
        # one feed's time comes
        cur.execute("UPDATE crypto_news.feeds SET next_check_at = now() - interval '1 minute' "
                    "WHERE url LIKE '%%chainpost%%'")
    assert dag.test().state == "success"
    with conn, conn.cursor() as cur:
        cur.execute("SELECT f.url FROM crypto_news.feed_fetches x JOIN crypto_news.feeds f USING (feed_id) "
                    "ORDER BY x.fetch_id")
        urls = [r[0] for r in cur.fetchall()]
        assert len(urls) == 3 and urls[-1].endswith("chainpost.atom")
        cur.execute("SELECT run_key FROM crypto_news.pipeline_runs ORDER BY run_id")
        assert all(r[0].startswith("poll:") for r in cur.fetchall())
    conn.close()


def test_daily_dag_fills_a_past_interval_from_the_sitemaps(bag, migrated_db, make_server, tmp_path, monkeypatch):
    """A run of a past day (as `airflow backfill create` makes them) loads the articles the site's archive
    sitemaps date in its data interval, through the declared stage `backfill_interval`; a run for the day just
    ended leaves that stage idle."""
    from airflow.utils import db as airflow_db

    from clocksite import ClockSite, feed_file, midnight_days_ago

    airflow_db.initdb()
    start = midnight_days_ago(20)
    site = ClockSite(make_server("127.0.0.2"), per_day=24, feed_size=10, start=start, archive=True, slug="dagfill")
    site.now = start + timedelta(days=15)
    monkeypatch.setenv("AIRFLOW_CONN_CRYPTO_NEWS_DB", migrated_db)
    monkeypatch.setenv("CRYPTO_NEWS_FEEDS", str(feed_file(tmp_path / "feeds.yml", {"Archive": site})))
    monkeypatch.setenv("CRYPTO_NEWS_EXTRACT_WORKERS", "1")
    dag = bag.dags["crypto_news_daily"]
    day_end = start + timedelta(days=6)  # the run at day 6's midnight covers day 5

    run = dag.test(logical_date=day_end)
    assert run.state == "success"
    assert (run.data_interval_start, run.data_interval_end) == (day_end - timedelta(days=1), day_end)
    wanted = {site.url(i) for i in site.between(day_end - timedelta(days=1), day_end)}
    assert len(wanted) == 24

    def found_by_backfill():
        conn = psycopg2.connect(migrated_db)
        with conn, conn.cursor() as cur:
            cur.execute("""SELECT a.canonical_url, a.extract_state FROM crypto_news.articles a
                           JOIN crypto_news.article_sources s USING (article_id) WHERE s.found_by = 'backfill'""")
            rows = cur.fetchall()
        conn.close()
        return rows

    rows = found_by_backfill()
    assert {r[0] for r in rows} == wanted and {r[1] for r in rows} == {"done"}  # extracted by the same run

    assert dag.test().state == "success"  # today's run: the feeds and their catch-up, no interval to fill
    assert found_by_backfill() == rows
