"""PostgreSQL access: connections, the migration runner and the run lock.

Migrations are the numbered files ``sql/migrations/NNNN_name.sql``, applied in order, each in its own transaction,
with ``search_path`` set to the ``crypto_news`` schema. Applied versions and their sha256 checksums are recorded in
``crypto_news.schema_migrations``; re-applying is a no-op and an applied file that was edited is refused.
"""

from __future__ import annotations

import hashlib
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2

from .config import PROJECT_ROOT

SCHEMA = "crypto_news"
MIGRATIONS_DIR = Path(os.environ.get("CRYPTO_NEWS_SQL_DIR") or PROJECT_ROOT / "sql") / "migrations"
_MIGRATION_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Advisory lock keys (arbitrary constants, one per purpose).
MIGRATE_LOCK = 0x43_4E_4D_49  # "CNMI"
RUN_LOCK = 0x43_4E_52_55  # "CNRU"


class DatabaseError(RuntimeError):
    """A database problem worth a one-line message to the operator."""


class MigrationError(DatabaseError):
    pass


class DatabaseUnavailable(DatabaseError):
    """The server could not be reached (down, restarting, refusing connections)."""


def is_transient(exc: BaseException) -> bool:
    """True for failures that a new connection may not meet: the server restarted, the connection dropped,
    a serialization conflict or deadlock. Stages are idempotent, so they can simply run again."""
    if isinstance(exc, DatabaseUnavailable):
        return True
    if isinstance(exc, (psycopg2.OperationalError, psycopg2.InterfaceError)):
        return True
    return isinstance(exc, psycopg2.Error) and getattr(exc, "pgcode", None) in ("40001", "40P01", "57P01", "57P02",
                                                                                "57P03")


def mask_url(url: str | None) -> str:
    """The URL with any password replaced by ***, for logs and error messages."""
    if not url:
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable database URL>"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def mask_secrets(text: str, url: str | None) -> str:
    """Remove the password of ``url`` from any message (libpq errors may quote connection details)."""
    if url:
        try:
            password = urlsplit(url).password
        except ValueError:
            password = None
        if password:
            text = text.replace(password, "***")
        text = text.replace(url, mask_url(url))
    return text


def connect(url: str, *, autocommit: bool = False, application_name: str = "crypto-news"):
    """Open a psycopg2 connection; failures become a DatabaseError with the password masked."""
    try:
        conn = psycopg2.connect(url, connect_timeout=10, application_name=application_name)
    except psycopg2.Error as exc:
        msg = " ".join(str(exc).split())
        raise DatabaseUnavailable(f"cannot connect to {mask_url(url)}: {mask_secrets(msg, url)}") from None
    conn.autocommit = autocommit
    with conn.cursor() as cur:
        cur.execute("SET search_path TO crypto_news, public")
    if not autocommit:
        conn.commit()
    return conn


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def list_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    found = []
    for path in sorted(directory.glob("*.sql")):
        m = _MIGRATION_RE.match(path.name)
        if not m:
            raise MigrationError(f"migration file name not of the form NNNN_name.sql: {path.name}")
        found.append(Migration(int(m.group(1)), m.group(2), path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migration files share a version number in {directory}")
    return found


def migrate(url: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply pending migrations; return the file names applied (empty when up to date)."""
    migrations = list_migrations(directory)
    conn = connect(url, application_name="crypto-news migrate")
    applied_now = []
    try:
        if _up_to_date(conn, migrations):  # the common case: no lock, no DDL (works for a DML-only role too)
            return applied_now
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_lock(%s)", (MIGRATE_LOCK,))
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
            cur.execute(
                f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.schema_migrations (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            conn.commit()
            cur.execute(f"SELECT version, name, checksum FROM {SCHEMA}.schema_migrations")
            recorded = {v: (n, c) for v, n, c in cur.fetchall()}
            on_disk = {m.version for m in migrations}
            missing = sorted(set(recorded) - on_disk)
            if missing:
                raise MigrationError(
                    f"the database has migration(s) {missing} that are not in {directory}; "
                    "this code is older than the database"
                )
            for m in migrations:
                if m.version in recorded:
                    name, checksum = recorded[m.version]
                    if checksum != m.checksum:
                        raise MigrationError(
                            f"migration {m.path.name} was edited after it was applied "
                            f"(recorded sha256 {checksum[:12]}…, file has {m.checksum[:12]}…); "
                            "migrations are forward-only: restore the file and add a new numbered migration"
                        )
                    continue
                try:
                    cur.execute(f"SET LOCAL search_path TO {SCHEMA}, public")
                    cur.execute(m.sql)
                    cur.execute(
                        f"INSERT INTO {SCHEMA}.schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                        (m.version, m.name, m.checksum),
                    )
                    conn.commit()
                except psycopg2.Error as exc:
                    conn.rollback()
                    raise MigrationError(f"migration {m.path.name} failed: {' '.join(str(exc).split())}") from None
                applied_now.append(m.path.name)
            cur.execute("SELECT pg_advisory_unlock(%s)", (MIGRATE_LOCK,))
            conn.commit()
    finally:
        conn.close()
    return applied_now


def _up_to_date(conn, migrations: list[Migration]) -> bool:
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.schema_migrations",))
        if cur.fetchone()[0] is None:
            conn.rollback()
            return False
        cur.execute(f"SELECT version, checksum FROM {SCHEMA}.schema_migrations")
        recorded = dict(cur.fetchall())
    conn.rollback()
    return recorded == {m.version: m.checksum for m in migrations}


class RunInProgress(DatabaseError):
    pass


class RunLock:
    """The cluster-wide run lock: a session-level advisory lock held on a dedicated connection."""

    def __init__(self, url: str):
        self.url = url
        self.conn = None

    def acquire(self) -> None:
        self.conn = connect(self.url, autocommit=True, application_name="crypto-news run lock")
        with self.conn.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(%s)", (RUN_LOCK,))
            if cur.fetchone()[0]:
                return
            cur.execute(
                """SELECT run_id, started_at FROM crypto_news.pipeline_runs
                   WHERE status = 'running' ORDER BY run_id DESC LIMIT 1"""
            )
            row = cur.fetchone()
        self.release()
        since = f" (run {row[0]}, started {row[1]:%Y-%m-%d %H:%M:%S %Z})" if row else ""
        raise RunInProgress(f"another crypto-news run is in progress on this database{since}; not starting")

    def ensure(self) -> None:
        """Check the lock's session is alive; after a server restart, take the lock again (or fail if another run
        took it meanwhile)."""
        try:
            with self.conn.cursor() as cur:
                cur.execute("SELECT 1")
            return
        except psycopg2.Error:
            self.release()
        self.acquire()

    def release(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()  # closing the session releases the advisory lock
            except psycopg2.Error:
                pass
            self.conn = None


@contextmanager
def run_lock(url: str):
    """Hold the run lock for the duration of a whole run; refuse a second concurrent run."""
    lock = RunLock(url)
    lock.acquire()
    try:
        yield lock
    finally:
        lock.release()


# --- scratch databases (tests and benchmarks) ------------------------------------------------------------------------

def with_dbname(url: str, name: str) -> str:
    """The same server URL, pointing at database ``name``."""
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def staging_table(cur, name: str, columns: str, uncompressed: tuple[str, ...] = ()) -> None:
    """Create the temporary table ``name`` (``columns``: its column list, from code) once per connection; its rows
    go at each commit. Bulk loads COPY into it, then move the rows on with one INSERT ... SELECT. The
    ``uncompressed`` columns are stored as they are: staged values are read once, compressing them is wasted work."""
    from psycopg2 import sql

    cur.execute("SELECT to_regclass(%s)", (f"pg_temp.{name}",))
    if cur.fetchone()[0] is not None:
        return
    cur.execute(sql.SQL("CREATE TEMP TABLE {} ({}) ON COMMIT DELETE ROWS").format(sql.Identifier(name),
                                                                             sql.SQL(columns)))
    for column in uncompressed:
        cur.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET STORAGE EXTERNAL").format(sql.Identifier(name),
                                                                                      sql.Identifier(column)))


def create_scratch_database(admin_url: str, prefix: str) -> str:
    """Create an empty, uniquely named database on the server of ``admin_url``; return its URL."""
    import uuid

    from psycopg2 import sql

    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(admin_url, connect_timeout=10)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        admin.close()
    return with_dbname(admin_url, name)


def drop_database(admin_url: str, url: str) -> None:
    """Drop the database ``url`` names (its sessions are ended first)."""
    from psycopg2 import sql

    admin = psycopg2.connect(admin_url, connect_timeout=10)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(urlsplit(url).path.lstrip("/"))))
    finally:
        admin.close()
