"""A real distributed run of ``crypto_news_daily``: CeleryExecutor, two workers, PostgreSQL metadata, Redis broker.

Starts on this machine, with a throwaway AIRFLOW_HOME and a throwaway metadata database on the test PostgreSQL
server: an api-server (free port; also the execution API), a scheduler, a dag-processor and two Celery workers
(``--celery-hostname`` worker1@… / worker2@…, queue ``default``), with the local Redis as broker (a dedicated
database number). Fixture feeds and pages are served on three loopback hosts. It creates the pool
``crypto_news_http``, unpauses and triggers the DAG, waits for the run (bounded), then checks that the mapped tasks
ran on both workers (``task_instance.hostname``) and that the data landed. Every process group is killed at the
end, also on failure; the databases are dropped.

Runs only with CRYPTO_NEWS_DISTRIBUTED=1 (``make test-distributed``). Settings:
  CRYPTO_NEWS_TEST_PG               admin URL of the PostgreSQL server (default postgresql://postgres@127.0.0.1:5432/postgres)
  CRYPTO_NEWS_TEST_REDIS            Redis base URL (default redis://127.0.0.1:6379)
  CRYPTO_NEWS_TEST_REDIS_DB         Redis database number reserved for this test, flushed before and after (default 13)
  CRYPTO_NEWS_DISTRIBUTED_TIMEOUT_S how long to wait for the DAG run (default 360)
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest

from conftest import temporary_database
from sitekit import serve_site, write_feed_list

pytestmark = pytest.mark.skipif(os.environ.get("CRYPTO_NEWS_DISTRIBUTED") != "1",
                                reason="distributed Airflow run: set CRYPTO_NEWS_DISTRIBUTED=1 (make test-distributed)")

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
AIRFLOW = BIN / "airflow"
HERE = Path(__file__).resolve().parent
ADMIN_URL = os.environ.get("CRYPTO_NEWS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("CRYPTO_NEWS_TEST_REDIS", "redis://127.0.0.1:6379").rstrip("/")
REDIS_DB = int(os.environ.get("CRYPTO_NEWS_TEST_REDIS_DB", "13"))
RUN_TIMEOUT_S = float(os.environ.get("CRYPTO_NEWS_DISTRIBUTED_TIMEOUT_S", "360"))
HOSTS = ("127.0.0.1", "127.0.0.2", "127.0.0.3")  # three "sites": three host-grouped fetch batches
POOL_SLOTS = 4
DAG_ID = "crypto_news_daily"
MAPPED = ("fetch_feeds", "extract_articles")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _with_db(url: str, name: str, scheme: str | None = None) -> str:
    parts = urlsplit(url)
    parts = parts._replace(path="/" + name)
    if scheme:
        parts = parts._replace(scheme=scheme)
    return urlunsplit(parts)


class Stack:
    """The Airflow processes of one test: each in its own session (process group), logs in files."""

    def __init__(self, home: Path, env: dict):
        self.home, self.env = home, env
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}

    def cli(self, *args: str, timeout: float = 300) -> str:
        proc = subprocess.run([str(AIRFLOW), *args], env=self.env, capture_output=True, text=True, timeout=timeout,
                              check=False)
        if proc.returncode != 0:
            raise AssertionError(f"airflow {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        return proc.stdout

    def start(self, name: str, args: list[str], extra_env: dict | None = None) -> None:
        log = self.home / f"{name}.log"
        self.logs[name] = log
        with open(log, "wb") as fh:
            self.procs[name] = subprocess.Popen(
                [str(AIRFLOW), *args], env={**self.env, **(extra_env or {})}, stdout=fh, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True, cwd=self.home,
            )

    def check_alive(self) -> None:
        dead = {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}
        if dead:
            raise AssertionError(f"Airflow component(s) exited early: {dead}\n{self.tails()}")

    def tails(self, lines: int = 40) -> str:
        out = []
        for name, log in self.logs.items():
            text = log.read_text(errors="replace").splitlines() if log.exists() else []
            out.append(f"--- {name} (last {lines} lines) ---\n" + "\n".join(text[-lines:]))
        return "\n".join(out)

    def stop(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 30
        for p in self.procs.values():
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        for p in self.procs.values():  # the group, not just the leader: workers fork task processes
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass


def _wait(what: str, predicate, timeout: float, stack: Stack, interval: float = 1.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.check_alive()
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{stack.tails()}")


def _query(url: str, sql: str, args=()):
    conn = psycopg2.connect(url, connect_timeout=5)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()
    finally:
        conn.close()


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


@pytest.fixture
def redis_db():
    import redis

    client = redis.Redis.from_url(f"{REDIS_URL}/{REDIS_DB}", socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis not reachable at {REDIS_URL}: {exc}")
    client.flushdb()  # database REDIS_DB is reserved for this test
    yield f"{REDIS_URL}/{REDIS_DB}"
    client.flushdb()
    client.close()


@pytest.fixture
def metadata_db():
    with temporary_database() as url:
        yield url


@pytest.fixture
def sites(make_server, tmp_path):
    """Two feeds (RSS and Atom, six stories) on each of three loopback hosts: six feeds, eighteen articles."""
    feeds: dict[str, str] = {}
    for i, host in enumerate(HOSTS):
        server = make_server(host)
        for name, url in serve_site(server).items():
            feeds[f"site{i + 1}-{name}"] = url
    return write_feed_list(tmp_path / "feeds.yml", feeds)


def test_daily_dag_on_celery_with_two_workers(metadata_db, redis_db, db_url, sites):
    started = time.monotonic()
    home = Path(tempfile.mkdtemp(prefix="cn-airflow-celery-"))
    os.chmod(home, 0o755)
    api_port = _free_port()
    sql_alchemy = _with_db(metadata_db, urlsplit(metadata_db).path.lstrip("/"), scheme="postgresql+psycopg2")
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "CRYPTO_NEWS_", "PYTEST_")) and k != "PYTHONPATH"
    }
    env.update({
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": str(HERE),  # worker_identity (the hostname callable)
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "8",
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "8",
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "worker_identity.hostname",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
        "AIRFLOW__CORE__FERNET_KEY": "",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sql_alchemy,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_SIZE": "2",
        "AIRFLOW__CELERY__BROKER_URL": redis_db,
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + _with_db(metadata_db, urlsplit(metadata_db).path.lstrip("/")),
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": "2",
        "AIRFLOW__CELERY__SYNC_PARALLELISM": "1",
        "AIRFLOW__API__PORT": str(api_port),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
        "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30",
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",  # manual runs only: no scheduled run on unpause
        "AIRFLOW__SCHEDULER__STANDALONE_DAG_PROCESSOR": "True",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AIRFLOW_CONN_CRYPTO_NEWS_DB": db_url,
        "CRYPTO_NEWS_FEEDS": str(sites),
        "CRYPTO_NEWS_ALLOW_PRIVATE_HOSTS": "1",
        "CRYPTO_NEWS_HOST_DELAY_S": "0",
        "CRYPTO_NEWS_EXTRACT_BATCH": "1",  # one mapped extraction task per article: work for both workers
        "CRYPTO_NEWS_EXTRACT_WORKERS": "1",
        "CRYPTO_NEWS_FETCH_WORKERS": "4",
    })
    stack = Stack(home, env)
    timings: dict[str, float] = {}
    try:
        stack.cli("db", "migrate", timeout=600)
        timings["db_migrate"] = time.monotonic() - started
        stack.cli("pools", "set", "crypto_news_http", str(POOL_SLOTS), "crypto-news HTTP tasks")

        stack.start("api-server", ["api-server", "--host", "127.0.0.1", "--port", str(api_port), "--workers", "1"])
        stack.start("scheduler", ["scheduler"])
        stack.start("dag-processor", ["dag-processor"])
        for n in (1, 2):
            stack.start(f"worker{n}", ["celery", "worker", "--celery-hostname", f"worker{n}@%h", "--queues", "default",
                                       "--concurrency", "2", "--skip-serve-logs", "--without-gossip"],
                        {"CN_WORKER_HOSTNAME": f"worker{n}"})

        _wait("the api-server", lambda: _http_ok(f"http://127.0.0.1:{api_port}/api/v2/monitor/health"), 180, stack)
        for n in (1, 2):
            _wait(f"celery worker{n}", lambda n=n: " ready." in stack.logs[f"worker{n}"].read_text(errors="replace"),
                  180, stack)
        _wait("the DAG to be parsed", lambda: _query(
            metadata_db, "SELECT 1 FROM dag d JOIN serialized_dag s USING (dag_id) WHERE d.dag_id = %s", (DAG_ID,)),
            180, stack)
        timings["components_ready"] = time.monotonic() - started

        stack.cli("dags", "unpause", DAG_ID)
        run_id = f"distributed__{uuid.uuid4().hex[:10]}"
        stack.cli("dags", "trigger", DAG_ID, "--run-id", run_id)
        triggered = time.monotonic()

        def finished():
            rows = _query(metadata_db, "SELECT state FROM dag_run WHERE dag_id = %s AND run_id = %s", (DAG_ID, run_id))
            return rows and rows[0][0] in ("success", "failed") and rows[0][0]

        state = _wait("the DAG run", finished, RUN_TIMEOUT_S, stack, interval=2)
        timings["dag_run"] = time.monotonic() - triggered

        tis = _query(metadata_db,
                     """SELECT task_id, map_index, state, hostname, try_number FROM task_instance
                        WHERE dag_id = %s AND run_id = %s ORDER BY task_id, map_index""", (DAG_ID, run_id))
        report = {"timings_s": {k: round(v, 1) for k, v in timings.items()},
                  "task_instances": [{"task": t, "map_index": m, "state": s, "host": h, "try": n}
                                     for t, m, s, h, n in tis]}
        print(json.dumps(report, indent=1))
        (ROOT / ".local").mkdir(exist_ok=True)
        (ROOT / ".local" / "distributed-run.json").write_text(json.dumps(report, indent=1))
        assert state == "success", f"DAG run {run_id} ended {state}: {tis}\n{stack.tails()}"

        assert all(s == "success" for _, _, s, _, _ in tis), tis
        mapped = [(t, m, h) for t, m, s, h, _ in tis if t in MAPPED]
        assert sum(t == "fetch_feeds" for t, _, _ in mapped) == len(HOSTS), mapped
        assert sum(t == "extract_articles" for t, _, _ in mapped) == 6 * len(HOSTS), mapped
        assert {h for _, _, h in mapped} == {"worker1", "worker2"}, f"mapped tasks did not run on both workers: {mapped}"
        assert {h for _, _, _, h, _ in tis} <= {"worker1", "worker2"}, tis

        rows = _query(db_url, """SELECT
            (SELECT count(*) FROM crypto_news.articles),
            (SELECT count(*) FROM crypto_news.articles WHERE extract_state = 'done' AND text_source = 'page'),
            (SELECT count(DISTINCT article_id) FROM crypto_news.article_labels),
            (SELECT count(*) FROM crypto_news.feed_fetches WHERE status = 'ok'),
            (SELECT status FROM crypto_news.pipeline_runs WHERE run_key = %s)""", (run_id,))
        articles, from_page, labelled, fetches_ok, run_status = rows[0]
        assert (articles, from_page, fetches_ok, run_status) == (6 * len(HOSTS), 6 * len(HOSTS), 2 * len(HOSTS),
                                                                 "success")
        assert labelled >= 4 * len(HOSTS)
        pool = _query(metadata_db, "SELECT slots FROM slot_pool WHERE pool = 'crypto_news_http'")
        assert pool == [(POOL_SLOTS,)]
        used_pool = {p for (p,) in _query(metadata_db, "SELECT DISTINCT pool FROM task_instance WHERE dag_id = %s "
                                                       "AND run_id = %s AND task_id = ANY(%s)",
                                          (DAG_ID, run_id, list(MAPPED)))}
        assert used_pool == {"crypto_news_http"}
        # each mapped batch named by what it holds; one event of the named Asset, carrying the run's counts
        names = _query(metadata_db, "SELECT task_id, rendered_map_index FROM task_instance WHERE dag_id = %s "
                                    "AND run_id = %s AND map_index >= 0", (DAG_ID, run_id))
        assert names and all(n and n.startswith({"fetch_feeds": "feeds ", "extract_articles": "articles "}[t])
                             for t, n in names), names
        events = _query(metadata_db, """SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id
                                        WHERE a.name = 'crypto_news_articles' AND e.source_run_id = %s""",
                        (run_id,))
        assert len(events) == 1, events
        extra = events[0][0] if isinstance(events[0][0], dict) else json.loads(events[0][0])
        assert (extra["status"], extra["articles_new"], extra["articles_extracted"]) == \
            ("success", 6 * len(HOSTS), 6 * len(HOSTS)), extra
    finally:
        stack.stop()
        shutil.rmtree(home, ignore_errors=True)
