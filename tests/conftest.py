"""Shared test fixtures: a real PostgreSQL database per test that needs one, and real HTTP servers on loopback.

Airflow settings are fixed here, before anything imports Airflow, so DAG tests use a throwaway home.
"""

from __future__ import annotations

import os
import tempfile
import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

_AIRFLOW_HOME = tempfile.mkdtemp(prefix="cn-airflow-test-")
os.environ.setdefault("AIRFLOW_HOME", _AIRFLOW_HOME)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(ROOT / "dags"))
os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(ROOT / "plugins"))
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
# Tests serve everything from loopback; individual tests narrow this where they test the guard itself.
os.environ["CRYPTO_NEWS_ALLOW_PRIVATE_HOSTS"] = "1"
os.environ["CRYPTO_NEWS_HOST_DELAY_S"] = "0"
for _var in ("CRYPTO_NEWS_DB_URL", "CRYPTO_NEWS_FEEDS"):
    os.environ.pop(_var, None)

ADMIN_URL = os.environ.get("CRYPTO_NEWS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def shared_path(*parts: str) -> Path:
    """A path under the shared corpora; the calling test skips with a clear reason when it is absent."""
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"shared corpus not present: {p}")
    return p


@contextmanager
def temporary_database():
    """Create a fresh, empty database on the test server and drop it afterwards."""
    import psycopg2

    from crypto_news.warehouse import scratch

    try:
        url = scratch.create_scratch_database(ADMIN_URL, "cn_test")
    except psycopg2.OperationalError as exc:  # pragma: no cover - environment problem
        pytest.fail(f"test PostgreSQL not reachable at {ADMIN_URL}: {exc}")
    try:
        yield url
    finally:
        scratch.drop_database(ADMIN_URL, url)


def query(url: str, sql: str, *args):
    """Run one statement in the crypto_news schema and commit; rows for a query, the row count otherwise."""
    import psycopg2

    conn = psycopg2.connect(url, options="-c search_path=crypto_news", connect_timeout=5)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall() if cur.description else cur.rowcount
    finally:
        conn.close()


@contextmanager
def group_login(url: str, group: str):
    """A throwaway login role in ``group`` (roles are server-wide: the name is unique, the role is dropped on exit)
    and the URL of the same database that connects as it."""
    import uuid

    import psycopg2
    from psycopg2 import sql

    name = f"cn_test_{group.split('_')[-1]}_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(url)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE {}").format(sql.Identifier(name), sql.Identifier(group)))
        parts = urlsplit(url)
        yield urlunsplit(parts._replace(netloc=f"{name}@{parts.hostname}:{parts.port or 5432}"))
    finally:
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (name,))
            cur.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
            cur.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
        admin.close()


@pytest.fixture
def db_url():
    """URL of a fresh, empty database (dropped after the test)."""
    with temporary_database() as url:
        yield url


@pytest.fixture
def migrated_db(db_url):
    """URL of a fresh database with every migration applied."""
    from crypto_news.warehouse import migrations

    migrations.migrate(db_url)
    return db_url


class Route:
    """What a loopback server answers for one path: a status, headers and a body, or a handler function."""

    def __init__(self, body=b"", status=200, headers=None, handler=None):
        self.body = body if isinstance(body, bytes) else str(body).encode("utf-8")
        self.status = status
        self.headers = dict(headers or {})
        self.handler = handler  # callable(request_handler) that writes the whole response itself
        self.hits = 0


class LoopbackServer:
    """A threaded HTTP server on a loopback address serving a route table; records the requests it got."""

    def __init__(self, host="127.0.0.1"):
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, str, dict]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output quiet
                pass

            def do_GET(self):
                server.requests.append(("GET", self.path, dict(self.headers.items())))
                route = server.routes.get(self.path) or server.routes.get(urlsplit(self.path).path)
                if route is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                route.hits += 1
                if route.handler is not None:
                    route.handler(self)
                    return
                self.send_response(route.status)
                headers = {"Content-Length": str(len(route.body)), **route.headers}
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                if route.status not in (204, 304):
                    self.wfile.write(route.body)

        self.httpd = ThreadingHTTPServer((host, 0), Handler)
        self.httpd.daemon_threads = True
        self.host, self.port = host, self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def add(self, path: str, body=b"", status=200, headers=None, handler=None) -> str:
        self.routes[path] = Route(body, status, headers, handler)
        return self.url(path)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def http_server():
    srv = LoopbackServer()
    yield srv
    srv.close()


@pytest.fixture
def make_server():
    """Factory for extra servers, e.g. on 127.0.0.2 … to act as distinct hosts."""
    servers = []

    def make(host="127.0.0.1"):
        s = LoopbackServer(host)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.close()

