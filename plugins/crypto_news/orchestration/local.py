"""Airflow on this machine without Docker (``make airflow`` / ``make airflow-stop``): the UI on 127.0.0.1 with
the DAGs scheduled, for trying schedules, clearing tasks and reading task logs locally.

One Airflow home under ``.local/airflow-local`` (SQLite metadata, LocalExecutor), set up once (``airflow db
migrate``, the pool ``crypto_news_http``) and then started as four processes, each in its own process group:
api-server (UI, REST and execution API), scheduler, dag-processor and triggerer (which runs the deadline
alerts). Parallelism follows the machine (the cores, at least 2 and at most 8 task processes), not Airflow's
default of 32, which on two cores starts 32 workers of ~130 MB. The warehouse is the Connection
``crypto_news_db`` (from ``AIRFLOW_CONN_CRYPTO_NEWS_DB``, else CRYPTO_NEWS_DB_URL or the embedded database);
the login is the simple auth manager with every user an admin (local use only: it listens on 127.0.0.1). The
process ids go to ``pids`` in that home, so ``stop`` ends exactly these processes.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from ..config import PROJECT_ROOT

HOME = PROJECT_ROOT / ".local" / "airflow-local"
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
READY_TIMEOUT_S = 120


class LocalAirflowError(Exception):
    pass


def parallelism() -> int:
    return max(2, min(8, os.cpu_count() or 2))


def _secret(name: str) -> str:
    """A secret the components must share (JWT signing, session key), made once and kept in the home."""
    path = HOME / f".{name}"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()


def environment(db_url: str, port: int) -> dict:
    airflow_bin = Path(sys.executable).parent
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": str(parallelism()),
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(parallelism()),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__API__SECRET_KEY": _secret("api_secret_key"),
        "AIRFLOW__API_AUTH__JWT_SECRET": _secret("jwt_secret"),
        "AIRFLOW__LOGGING__NAMESPACE_LEVELS": os.environ.get("AIRFLOW__LOGGING__NAMESPACE_LEVELS",
                                                             "py.warnings=ERROR"),
        "AIRFLOW_CONN_CRYPTO_NEWS_DB": os.environ.get("AIRFLOW_CONN_CRYPTO_NEWS_DB") or db_url,
        "PATH": f"{airflow_bin}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("CRYPTO_NEWS_DB_URL", None)  # the DAGs use the Airflow Connection
    return env


def _pids() -> dict[str, int]:
    path = HOME / "pids"
    if not path.exists():
        return {}
    out = {}
    for line in path.read_text().splitlines():
        name, _, pid = line.partition(" ")
        if pid.isdigit():
            out[name] = int(pid)
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _airflow(env: dict, *args: str) -> None:
    airflow = Path(sys.executable).parent / "airflow"
    proc = subprocess.run([str(airflow), *args], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
        raise LocalAirflowError(f"airflow {' '.join(args[:2])} failed: {tail}")


def start(db_url: str, port: int = 8080, pool_slots: int = 2) -> str:
    """Set up (first time) and start the components; return the UI's URL. Refuses when they already run."""
    running = {n: p for n, p in _pids().items() if _alive(p)}
    if running:
        raise LocalAirflowError(f"local Airflow already running ({', '.join(sorted(running))}); "
                                "stop it first: make airflow-stop")
    HOME.mkdir(parents=True, exist_ok=True)
    (HOME / "logs").mkdir(exist_ok=True)
    env = environment(db_url, port)
    _airflow(env, "db", "migrate")
    _airflow(env, "pools", "set", "crypto_news_http", str(pool_slots), "crypto-news HTTP tasks")
    airflow = Path(sys.executable).parent / "airflow"
    pids = {}
    for name in COMPONENTS:
        log = open(HOME / "logs" / f"{name}.log", "ab")  # noqa: SIM115 - handed to the child process
        proc = subprocess.Popen([str(airflow), name], env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        pids[name] = proc.pid
    (HOME / "pids").write_text("".join(f"{n} {p}\n" for n, p in pids.items()))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        dead = [n for n, p in pids.items() if not _alive(p) or _reaped(p)]
        if dead:
            stop()
            raise LocalAirflowError(f"{', '.join(dead)} exited at start; see {HOME / 'logs'}")
        try:
            with urllib.request.urlopen(f"{url}/api/v2/version", timeout=2) as resp:
                if resp.status == 200:
                    return url
        except OSError:
            time.sleep(1)
    stop()
    raise LocalAirflowError(f"the api-server did not answer on {url} within {READY_TIMEOUT_S} s; "
                            f"see {HOME / 'logs'}")


def _reaped(pid: int) -> bool:
    """True when our own child ``pid`` has exited (a zombie still answers kill(pid, 0))."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return done == pid


def stop(grace_s: float = 20.0) -> list[str]:
    """End the process groups recorded at start (TERM, then KILL after ``grace_s``); return their names."""
    pids = _pids()
    stopped = []
    for name, pid in pids.items():
        try:
            os.killpg(pid, signal.SIGTERM)
            stopped.append(name)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace_s
    for pid in pids.values():
        while _alive(pid) and not _reaped(pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    (HOME / "pids").unlink(missing_ok=True)
    return stopped
