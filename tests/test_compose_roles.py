"""The compose stack's warehouse side, on a real PostgreSQL cluster of its own (roles are cluster-wide, so the
shared test server is not touched): the postgres container's init script, then airflow-init's warehouse step
as the schema owner, then a pipeline run logged in as crypto_news_writer with CRYPTO_NEWS_AUTO_MIGRATE=0, as
the compose tasks run it."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg2
import pytest

from sitekit import serve_site, write_feed_list

ROOT = Path(__file__).resolve().parents[1]
PASSWORDS = {"POSTGRES_PASSWORD": "pg-pw", "AIRFLOW_DB_PASSWORD": "airflow-pw",
             "CRYPTO_NEWS_DB_PASSWORD": "owner-pw", "CRYPTO_NEWS_BI_PASSWORD": "bi-pw"}
WRITER_PW = "writer-pw-1"


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture
def cluster():
    """A throwaway cluster: trust on its socket (for the init script, as in the container), SCRAM over TCP."""
    from crypto_news.warehouse import embedded

    try:
        bindir = embedded.find_bindir()
    except embedded.EmbeddedDbError as exc:
        pytest.skip(str(exc))
    root = Path(tempfile.mkdtemp(prefix="cn-compose-roles-", dir="/var/tmp"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    data = root / "data"
    subprocess.run(_as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
                                 "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8",
                                 "--locale=C.UTF-8"]),
                   check=True, capture_output=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-o",
                                 f"-p {port} -k {root} -c listen_addresses=127.0.0.1", "start"]),
                   check=True, capture_output=True)
    try:
        yield {"socket": str(root), "port": port}
    finally:
        subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _url(role: str, password: str, port: int) -> str:
    netloc = f"{role}:{password}@127.0.0.1:{port}"  # the test cluster's throwaway passwords
    return f"postgresql://{netloc}/crypto_news"


def test_tasks_run_as_the_writer_after_airflow_init_migrated(cluster, http_server, tmp_path):
    env = {**os.environ, **PASSWORDS, "POSTGRES_USER": "postgres", "PGHOST": cluster["socket"],
           "PGPORT": str(cluster["port"])}
    proc = subprocess.run(["bash", str(ROOT / "docker" / "postgres" / "01-databases.sh")], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr

    owner = _url("crypto_news", PASSWORDS["CRYPTO_NEWS_DB_PASSWORD"], cluster["port"])
    writer = _url("crypto_news_writer", WRITER_PW, cluster["port"])
    init_env = {**os.environ, "PYTHONPATH": str(ROOT / "plugins"), "CRYPTO_NEWS_OWNER_DB_URL": owner,
                "CRYPTO_NEWS_WRITER_PASSWORD": WRITER_PW}
    for _ in range(2):  # every `docker compose up` runs it again
        proc = subprocess.run([sys.executable, "-m", "crypto_news.warehouse.deploy"], env=init_env,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert "crypto_news_writer may log in to crypto_news" in proc.stdout
        assert "crypto_news_bi is a member of crypto_news_reader" in proc.stdout
        assert WRITER_PW not in proc.stdout + proc.stderr
    with pytest.raises(psycopg2.OperationalError):  # a password login: a wrong one is refused
        psycopg2.connect(_url("crypto_news_writer", "wrong", cluster["port"]), connect_timeout=5).close()

    site = serve_site(http_server, ("ledgerwire.rss",))
    feeds = write_feed_list(tmp_path / "feeds.yml", {"Ledger Wire": site["ledgerwire.rss"]})
    run_env = {"CRYPTO_NEWS_DB_URL": writer, "CRYPTO_NEWS_AUTO_MIGRATE": "0",
               "CRYPTO_NEWS_EXTRACT_WORKERS": "1"}
    proc = _cli(["run", "--feeds", str(feeds)], run_env)
    assert proc.returncode == 0, proc.stderr
    assert "(cli): SUCCESS" in proc.stdout
    conn = psycopg2.connect(owner)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FILTER (WHERE text IS NOT NULL), count(*) FROM crypto_news.articles")
            with_text, total = cur.fetchone()
            assert total > 0 and with_text > 0
            # the writer cannot change the schema, which is why it must not be asked to migrate
            cur.execute("SELECT has_database_privilege('crypto_news_writer', 'crypto_news', 'CREATE'), "
                        "has_schema_privilege('crypto_news_writer', 'crypto_news', 'CREATE')")
            assert cur.fetchone() == (False, False)
            # the schema falls behind the code (a migration not applied): the run stops, it does not migrate
            cur.execute("DELETE FROM crypto_news.schema_migrations WHERE version = "
                        "(SELECT max(version) FROM crypto_news.schema_migrations) RETURNING version")
            (version,) = cur.fetchone()
        conn.commit()
    finally:
        conn.close()
    proc = _cli(["run", "--feeds", str(feeds)], run_env)
    assert proc.returncode == 2, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert f"{version:04d}_" in last and "CRYPTO_NEWS_AUTO_MIGRATE=0" in last
    assert "crypto-news migrate" in last


def _cli(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "crypto_news.cli", *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **env})
