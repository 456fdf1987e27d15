"""The migration runner.

Migrations are the numbered files ``sql/migrations/NNNN_name.sql``, applied in order, each in its own transaction,
with ``search_path`` set to the ``crypto_news`` schema. Applied versions and their sha256 checksums are recorded in
``crypto_news.schema_migrations``; re-applying is a no-op and an applied file that was edited is refused.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import psycopg2.errors

from ..config import PROJECT_ROOT
from .db import SCHEMA, DatabaseError, connect

MIGRATIONS_DIR = Path(os.environ.get("CRYPTO_NEWS_SQL_DIR") or PROJECT_ROOT / "sql") / "migrations"
_MIGRATION_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
MIGRATE_LOCK = 0x43_4E_4D_49  # advisory lock key ("CNMI"): only while the lock table itself is being created
LOCK_WAIT_S = 60  # how long migrate waits for another migration before giving up with a message
LOCKS_TABLE = f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.locks (
    name text PRIMARY KEY,
    purpose text NOT NULL)"""


class MigrationError(DatabaseError):
    pass


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
            _lock(conn, cur)
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
            conn.commit()  # ends the transaction that held the migrate row lock
    finally:
        conn.close()
    return applied_now


def _lock(conn, cur) -> None:
    """Take the migration lock: a row lock on the ``migrate`` row of ``locks``, which a read-only login cannot take
    (row locks need UPDATE). A database without that table yet is set up under an advisory lock first. Either wait
    ends after LOCK_WAIT_S seconds with a message, never hangs."""
    cur.execute("SELECT set_config('lock_timeout', %s, false)", (f"{LOCK_WAIT_S}s",))
    try:
        cur.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.locks",))
        if cur.fetchone()[0] is None:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
            cur.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
            cur.execute(
                f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.schema_migrations (
                    version integer PRIMARY KEY,
                    name text NOT NULL,
                    checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            cur.execute(LOCKS_TABLE)
            cur.execute(f"""INSERT INTO {SCHEMA}.locks (name, purpose) VALUES
                            ('migrate', 'held while migrations are applied'),
                            ('run', 'held for the whole of a pipeline run')
                            ON CONFLICT (name) DO NOTHING""")
            conn.commit()
        cur.execute(f"SELECT name FROM {SCHEMA}.locks WHERE name = 'migrate' FOR UPDATE")
    except psycopg2.errors.LockNotAvailable:
        conn.rollback()
        raise MigrationError(f"another migration has held the migration lock for more than {LOCK_WAIT_S} s; "
                             "not migrating (see pg_stat_activity for the session holding it)") from None
    cur.execute("SELECT set_config('lock_timeout', '0', false)")


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
