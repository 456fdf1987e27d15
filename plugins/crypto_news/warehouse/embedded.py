"""The embedded default database: a project-local PostgreSQL cluster under ``.local/``.

Used when ``CRYPTO_NEWS_DB_URL`` is not set. It is created from the machine's PostgreSQL server binaries on first use,
listens on 127.0.0.1 only (plus a private socket directory) on a private port, requires a password generated at
creation (kept in ``.local/pg/password``, mode 600), and is reused by later runs. ``crypto-news db stop`` (``make
db-stop``) stops it.

PostgreSQL refuses to run as root. When started by root, the server runs as the ``postgres`` system user (or
``CRYPTO_NEWS_PG_OS_USER``); if that user cannot reach the project folder (a checkout under /root, say), the data
directory is placed in ``/var/tmp/crypto-news-pg-<hash of the project path>`` and ``.local/pg/datadir`` points to it.
"""

from __future__ import annotations

import glob
import hashlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
from pathlib import Path
from urllib.parse import quote

from ..config import PROJECT_ROOT

STATE_DIR = PROJECT_ROOT / ".local" / "pg"
DB_NAME = "crypto_news"
SUPERUSER = "postgres"
FIRST_PORT = 54330


class EmbeddedDbError(RuntimeError):
    pass


def find_bindir() -> Path:
    """The directory with initdb and pg_ctl."""
    candidates = []
    if os.environ.get("CRYPTO_NEWS_PG_BINDIR"):
        candidates.append(Path(os.environ["CRYPTO_NEWS_PG_BINDIR"]))
    if shutil.which("pg_config"):
        try:
            out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, timeout=10).stdout
            if out.strip():
                candidates.append(Path(out.strip()))
        except (OSError, subprocess.SubprocessError):
            pass
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]), reverse=True)
    candidates += [Path(p) for p in versions]
    candidates += [Path(p) for p in sorted(glob.glob("/usr/local/opt/postgresql*/bin"))]
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).parent)
    for c in candidates:
        if (c / "initdb").exists() and (c / "pg_ctl").exists():
            return c
    raise EmbeddedDbError(
        "no PostgreSQL server binaries (initdb, pg_ctl) found for the embedded database. Either install them "
        "(Debian/Ubuntu: apt-get install postgresql; Fedora: dnf install postgresql-server; macOS: brew install "
        "postgresql@16), or point CRYPTO_NEWS_PG_BINDIR at their folder, or set CRYPTO_NEWS_DB_URL to an existing "
        "database, e.g. postgresql://user:password@host:5432/crypto_news"
    )


def _os_user() -> str | None:
    """The system user the server runs as when we are root; None when we are not root."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get("CRYPTO_NEWS_PG_OS_USER", "postgres")
    try:
        pwd.getpwnam(name)
    except KeyError:
        raise EmbeddedDbError(
            f"running as root, and PostgreSQL refuses to run as root; the system user {name!r} to run it as does "
            "not exist. Create it (useradd --system postgres), set CRYPTO_NEWS_PG_OS_USER to another user, run as a "
            "normal user, or set CRYPTO_NEWS_DB_URL"
        ) from None
    return name


def _as_user(cmd: list[str], user: str | None) -> list[str]:
    return ["runuser", "-u", user, "--", *cmd] if user else cmd


def _user_can_use(user: str | None, path: Path) -> bool:
    if user is None:
        return True
    path.mkdir(parents=True, exist_ok=True)
    probe = subprocess.run(_as_user(["test", "-w", str(path), "-a", "-x", str(path)], user), capture_output=True)
    return probe.returncode == 0


def _data_dir(user: str | None) -> Path:
    pointer = STATE_DIR / "datadir"
    if pointer.exists():
        return Path(pointer.read_text().strip())
    local = STATE_DIR / "data"
    if user is not None:
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        uid = pwd.getpwnam(user).pw_uid
        try:
            os.chown(STATE_DIR, uid, -1)
        except OSError:
            pass
        if not _user_can_use(user, STATE_DIR):
            digest = hashlib.sha256(str(PROJECT_ROOT).encode()).hexdigest()[:10]
            outside = Path("/var/tmp") / f"crypto-news-pg-{digest}"
            outside.mkdir(mode=0o700, exist_ok=True)
            os.chown(outside, uid, -1)
            local = outside / "data"
    pointer.parent.mkdir(parents=True, exist_ok=True)
    pointer.write_text(str(local) + "\n")
    return local


def _free_port(start: int = FIRST_PORT) -> int:
    for port in range(start, start + 200):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise EmbeddedDbError(f"no free TCP port on 127.0.0.1 in {start}..{start + 199}")


def _read(path: Path) -> str:
    return path.read_text().strip()


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise EmbeddedDbError(f"{what} failed: {' | '.join(tail)}")


def url() -> str:
    port, password = _read(STATE_DIR / "port"), _read(STATE_DIR / "password")
    return f"postgresql://{SUPERUSER}:{quote(password, safe='')}@127.0.0.1:{port}/{DB_NAME}"


def ensure() -> str:
    """Create (first time) and start (when stopped) the embedded cluster; return its URL."""
    bindir = find_bindir()
    user = _os_user()
    data = _data_dir(user)
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    sockdir = data.parent / "sock"
    if not (data / "PG_VERSION").exists():
        password = secrets.token_urlsafe(24)
        pwfile = data.parent / "initdb.pw"
        data.parent.mkdir(parents=True, exist_ok=True)
        pwfile.write_text(password + "\n")
        if user:
            os.chown(pwfile, pwd.getpwnam(user).pw_uid, -1)
        os.chmod(pwfile, 0o600)
        try:
            _run(
                _as_user(
                    [str(bindir / "initdb"), "-D", str(data), "-U", SUPERUSER, "--pwfile", str(pwfile),
                     "--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"],
                    user,
                ),
                "initdb",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        (STATE_DIR / "password").write_text(password + "\n")
        os.chmod(STATE_DIR / "password", 0o600)
        (STATE_DIR / "port").write_text(f"{_free_port()}\n")
    port = _read(STATE_DIR / "port")
    status = subprocess.run(_as_user([str(bindir / "pg_ctl"), "-D", str(data), "status"], user), capture_output=True)
    if status.returncode != 0:
        sockdir.mkdir(exist_ok=True)
        if user:
            os.chown(sockdir, pwd.getpwnam(user).pw_uid, -1)
        opts = f"-p {port} -k {sockdir} -c listen_addresses=127.0.0.1"
        _run(
            _as_user([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(data.parent / "server.log"), "-o", opts,
                      "-w", "-t", "60", "start"], user),
            f"starting the embedded PostgreSQL (log: {data.parent / 'server.log'})",
        )
    _ensure_database()
    return url()


def _ensure_database() -> None:
    import psycopg2

    port, password = _read(STATE_DIR / "port"), _read(STATE_DIR / "password")
    conn = psycopg2.connect(host="127.0.0.1", port=port, user=SUPERUSER, password=password, dbname="postgres",
                            connect_timeout=10)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,))
            if cur.fetchone() is None:
                cur.execute(f"CREATE DATABASE {DB_NAME}")
    finally:
        conn.close()


def status() -> tuple[str, str]:
    """("running" | "stopped" | "not created", detail), found without starting or creating anything: a status
    query that started the server would hide the state ops asked about."""
    pointer = STATE_DIR / "datadir"
    data = Path(_read(pointer)) if pointer.exists() else None
    if data is None or not (data / "PG_VERSION").exists():
        return "not created", f"{STATE_DIR} holds no cluster; the first command that needs the database creates it"
    bindir = find_bindir()
    user = _os_user()
    proc = subprocess.run(_as_user([str(bindir / "pg_ctl"), "-D", str(data), "status"], user), capture_output=True)
    if proc.returncode != 0:
        return "stopped", str(data)
    return "running", url()


def stop() -> str:
    pointer = STATE_DIR / "datadir"
    if not pointer.exists():
        return "embedded database not created; nothing to stop"
    data = Path(_read(pointer))
    if not (data / "PG_VERSION").exists():
        return "embedded database not created; nothing to stop"
    bindir = find_bindir()
    user = _os_user()
    status = subprocess.run(_as_user([str(bindir / "pg_ctl"), "-D", str(data), "status"], user), capture_output=True)
    if status.returncode != 0:
        return f"embedded database already stopped ({data})"
    _run(_as_user([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"], user), "pg_ctl stop")
    return f"embedded database stopped ({data})"
