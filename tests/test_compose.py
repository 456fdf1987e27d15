"""docker-compose.yml for ops: valid against the Compose specification, and carrying what the stack needs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
AIRFLOW_SERVICES = ("airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                    "airflow-triggerer", "airflow-worker")
LONG_RUNNING = ("postgres", "redis", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
                "airflow-triggerer", "airflow-worker")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_valid_against_the_compose_spec():
    tool = Path(sys.executable).parent / "check-jsonschema"
    proc = subprocess.run([str(tool), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_services(compose):
    assert set(compose["services"]) == {"postgres", "redis", "statsd-exporter", *AIRFLOW_SERVICES}
    for name in AIRFLOW_SERVICES:
        svc = compose["services"][name]
        assert svc["image"] == "crypto-news-airflow:0.1.0"
        assert svc["build"]["dockerfile"] == "Dockerfile"
        env = svc["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://redis:6379/")
        assert "@postgres:5432/airflow" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        assert "@postgres:5432/crypto_news" in env["AIRFLOW_CONN_CRYPTO_NEWS_DB"]
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
        assert "CRYPTO_NEWS_HTTP_POOL_SLOTS" in env and "CRYPTO_NEWS_RUN_DEADLINE_MIN" in env
        # Airflow's metrics and the pipeline's (which follow Airflow's [metrics]) go to statsd-exporter
        assert env["AIRFLOW__METRICS__STATSD_ON"] == "true"
        assert (env["AIRFLOW__METRICS__STATSD_HOST"], env["AIRFLOW__METRICS__STATSD_PORT"]) == ("statsd-exporter",
                                                                                                "9125")
    commands = {n: compose["services"][n].get("command") for n in AIRFLOW_SERVICES}
    assert commands["airflow-apiserver"] == "api-server"
    assert commands["airflow-scheduler"] == "scheduler"
    assert commands["airflow-dag-processor"] == "dag-processor"
    assert commands["airflow-triggerer"] == "triggerer"
    assert commands["airflow-worker"].startswith("celery worker")
    # scalable: no fixed container name or host port on the worker
    worker = compose["services"]["airflow-worker"]
    assert "container_name" not in worker and "ports" not in worker
    for name in AIRFLOW_SERVICES[1:]:
        deps = compose["services"][name]["depends_on"]
        assert deps["airflow-init"]["condition"] == "service_completed_successfully"
        assert deps["postgres"]["condition"] == deps["redis"]["condition"] == "service_healthy"


def test_healthchecks_on_every_long_running_service(compose):
    for name in LONG_RUNNING:
        hc = compose["services"][name].get("healthcheck")
        assert hc and hc.get("test"), name
        assert hc.get("interval") and hc.get("retries"), name


def test_images_are_pinned(compose):
    assert compose["services"]["postgres"]["image"].startswith("postgres:16.")
    for name, svc in compose["services"].items():
        image = svc["image"]
        assert ":" in image and not image.endswith(":latest"), (name, image)
        assert re.search(r":v?\d+\.\d+", image), (name, image)  # major.minor[.patch], never a bare major
    dockerfile = (ROOT / "Dockerfile").read_text()
    froms = re.findall(r"^FROM\s+(\S+)", dockerfile, re.MULTILINE)
    assert froms == ["apache/airflow:3.3.2-python3.11"]
    assert "-c /tmp/crypto-news/constraints.txt" in dockerfile
    assert "_PIP_ADDITIONAL_REQUIREMENTS" not in COMPOSE.read_text()


def test_mounts(compose):
    for name in AIRFLOW_SERVICES:
        targets = {v.split(":")[1] for v in compose["services"][name]["volumes"]}
        assert {"/opt/airflow/dags", "/opt/airflow/plugins", "/opt/airflow/config", "/opt/airflow/sql"} <= targets
    for src in ("./dags", "./plugins", "./config", "./sql", "./docker/airflow-init.sh",
                "./docker/postgres/01-databases.sh"):
        assert (ROOT / src).exists(), src
    pg = compose["services"]["postgres"]
    assert any(v.endswith("/docker-entrypoint-initdb.d/01-databases.sh:ro") for v in pg["volumes"])
    assert pg["ports"] and pg["ports"][0].endswith(":5432")  # BI tools


def test_setup_creates_databases_pool_and_reader_access():
    init_sql = (ROOT / "docker" / "postgres" / "01-databases.sh").read_text()
    assert "CREATE DATABASE airflow" in init_sql and "CREATE DATABASE crypto_news" in init_sql
    assert "crypto_news_bi" in init_sql
    init = (ROOT / "docker" / "airflow-init.sh").read_text()
    assert "airflow db migrate" in init
    assert 'airflow pools set crypto_news_http "${CRYPTO_NEWS_HTTP_POOL_SLOTS:-4}" "crypto-news HTTP tasks"' in init
    # the warehouse step runs the package from the mounted plugins folder (the image does not install it)
    assert 'PYTHONPATH="/opt/airflow/plugins' in init and "python -m crypto_news.warehouse.deploy" in init
    from crypto_news.warehouse import deploy

    assert "GRANT crypto_news_reader TO crypto_news_bi" in Path(deploy.__file__).read_text()


def test_tasks_log_in_as_the_writer_and_only_airflow_init_migrates(compose):
    for name in AIRFLOW_SERVICES:
        env = compose["services"][name]["environment"]
        assert env["AIRFLOW_CONN_CRYPTO_NEWS_DB"].startswith("postgresql://crypto_news_writer:${CRYPTO_NEWS_WRITER_")
        assert env["CRYPTO_NEWS_AUTO_MIGRATE"] == "0"
        owner_known = any("CRYPTO_NEWS_DB_PASSWORD" in str(v) for v in env.values())
        assert owner_known == (name == "airflow-init"), name  # the owner's password: the init service only
    init_env = compose["services"]["airflow-init"]["environment"]
    assert init_env["CRYPTO_NEWS_OWNER_DB_URL"].startswith("postgresql://crypto_news:")
    assert "CRYPTO_NEWS_WRITER_PASSWORD" in init_env


def test_env_example_has_every_variable_and_no_secret(compose):
    text = COMPOSE.read_text()
    used = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)", text))  # $${X} is for the container shell
    example = dict(line.split("=", 1) for line in (ROOT / ".env.example").read_text().splitlines()
                   if line and not line.startswith("#"))
    assert used <= set(example), used - set(example)
    for key, value in example.items():
        if any(word in key for word in ("PASSWORD", "SECRET", "FERNET")):
            assert value == "change-me", key


def test_statsd_exporter_and_redis_as_airflow_runs_them(compose):
    exporter = compose["services"]["statsd-exporter"]
    assert exporter["image"].startswith("prom/statsd-exporter:v0.")
    assert "--statsd.listen-udp=:9125" in exporter["command"]
    assert any(p.endswith(":9102") for p in exporter["ports"])
    assert compose["services"]["redis"]["image"].startswith("redis:7.2.")


AIRFLOW_UID = 50000  # the official image's airflow user (gid 0)


def _append_as_airflow_user(path: Path) -> subprocess.CompletedProcess:
    """What the api-server does first with the simple auth manager (open its passwords file for append and lock
    it, ``SimpleAuthManager.init``), done as the image's user (uid 50000, gid 0) by the system Python (the project's
    interpreter lives under /root, out of that user's reach)."""
    import os

    code = ("import fcntl, sys\n"
            "with open(sys.argv[1], 'a+') as f:\n"
            "    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
            "    f.write('{}')\n")

    def as_airflow_user():
        os.setgid(0)
        os.setuid(AIRFLOW_UID)

    return subprocess.run(["/usr/bin/python3", "-c", code, str(path)], capture_output=True, text=True, timeout=60,
                          preexec_fn=as_airflow_user, cwd="/", check=False)


def test_the_simple_auth_manager_appends_to_its_passwords_file(tmp_path, monkeypatch):
    """The operation the next test reproduces as another user is the one Airflow performs."""
    from airflow.api_fastapi.auth.managers.simple.simple_auth_manager import SimpleAuthManager

    path = tmp_path / "simple-auth" / "passwords.json"
    path.parent.mkdir()
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", "admin:admin")
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "False")
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE", str(path))
    SimpleAuthManager().init()
    assert "admin" in path.read_text()


def test_the_auth_volume_is_writable_by_the_airflow_user():
    """Docker creates a named volume's mount point as the image has it, else owned by root: the Dockerfile must
    create /opt/airflow/simple-auth owned by the airflow user, or the api-server cannot write its passwords file.
    Reproduced without Docker: in a root-owned directory (what Docker would make) the image's user cannot create
    the file; in one made as the Dockerfile makes it, it can."""
    import os
    import shutil
    import tempfile

    if os.geteuid() != 0 or not Path("/usr/bin/python3").exists():
        pytest.skip("needs root (to act as the image's user, uid 50000) and /usr/bin/python3")
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "mkdir -p /opt/airflow/simple-auth && chown airflow:root /opt/airflow/simple-auth" in dockerfile
    base = Path(tempfile.mkdtemp(prefix="cn-auth-", dir="/tmp"))
    try:
        base.chmod(0o755)
        root_owned = base / "root-owned"
        root_owned.mkdir(mode=0o755)
        proc = _append_as_airflow_user(root_owned / "passwords.json")
        assert proc.returncode != 0 and "PermissionError" in proc.stderr, proc.stderr
        image_made = base / "image-made"
        image_made.mkdir()
        os.chown(image_made, AIRFLOW_UID, 0)
        image_made.chmod(0o770)
        proc = _append_as_airflow_user(image_made / "passwords.json")
        assert proc.returncode == 0, proc.stderr
        assert (image_made / "passwords.json").stat().st_uid == AIRFLOW_UID
    finally:
        shutil.rmtree(base, ignore_errors=True)
