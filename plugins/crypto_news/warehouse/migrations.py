"""The migration runner.

Migrations are the numbered files ``sql/migrations/NNNN_name.sql``, applied in order, each in its own transaction,
with ``search_path`` set to the ``crypto_news`` schema. Applied versions and their sha256 checksums are recorded in
``crypto_news.schema_migrations``; re-applying is a no-op and an applied file that was edited is refused.

Views are repeatable definitions (as Flyway's repeatable migrations): the files ``sql/views/NN_name.sql``
(``CREATE OR REPLACE VIEW`` and its comments) are applied after the migrations, all of them in name order in one
transaction, whenever any of them differs from what ``crypto_news.schema_repeatables`` recorded. A view changes by
editing its file, not by restating it in a new migration; a change that ``CREATE OR REPLACE`` cannot make (a column
removed or retyped) goes into a numbered migration that drops the view, and the file recreates it.
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
_REPEATABLE_RE = re.compile(r"^(\d{2})_([a-z0-9_]+)\.sql$")


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


def list_repeatables(directory: Path) -> list[Migration]:
    """The repeatable definitions in ``directory`` (none when it does not exist), in name order."""
    found = []
    for path in sorted(directory.glob("*.sql")) if directory.is_dir() else []:
        m = _REPEATABLE_RE.match(path.name)
        if not m:
            raise MigrationError(f"view file name not of the form NN_name.sql: {path.name}")
        found.append(Migration(int(m.group(1)), m.group(2), path))
    return found


def migrate(url: str, directory: Path = MIGRATIONS_DIR, views: Path | None = None) -> list[str]:
    """Apply pending migrations, then the view definitions when they changed (``views``: by default the ``views``
    folder next to ``directory``); return the file names applied (empty when up to date)."""
    migrations = list_migrations(directory)
    repeatables = list_repeatables(directory.parent / "views" if views is None else views)
    conn = connect(url, application_name="crypto-news migrate")
    applied_now: list[str] = []
    lock = None
    try:
        if _up_to_date(conn, migrations, repeatables):  # the common case: no lock, no DDL (a DML-only role too)
            return applied_now
        lock = _lock(url, conn)
        with conn.cursor() as cur:
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
            applied_now += _apply_repeatables(conn, cur, repeatables)
            conn.commit()
    finally:
        if lock is not None:
            lock.close()  # ends the transaction that holds the migrate row lock
        conn.close()
    return applied_now


def _lock(url: str, conn):
    """Take the migration lock and return the connection that holds it (close it to release).

    The lock is a row lock on the ``migrate`` row of ``locks``, held by an open transaction on a connection of its
    own (the migrations commit one by one on ``conn``); a read-only login cannot take it (row locks need UPDATE).
    A database without that table yet gets it first, under a transaction-level advisory lock. Either wait ends
    after LOCK_WAIT_S seconds with a message, never hangs."""
    timeout = f"{LOCK_WAIT_S}s"
    holder = None
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT set_config('lock_timeout', %s, true)", (timeout,))
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
        holder = connect(url, application_name="crypto-news migrate lock")
        with holder.cursor() as cur:
            cur.execute("SELECT set_config('lock_timeout', %s, true)", (timeout,))
            cur.execute(f"SELECT name FROM {SCHEMA}.locks WHERE name = 'migrate' FOR UPDATE")
        return holder
    except psycopg2.errors.LockNotAvailable:
        conn.rollback()
        if holder is not None:
            holder.close()
        raise MigrationError(f"another migration has held the migration lock for more than {LOCK_WAIT_S} s; "
                             "not migrating (see pg_stat_activity for the session holding it)") from None
    except BaseException:
        if holder is not None:
            holder.close()
        raise


_REPEATABLES_COMMENTS = (
    f"COMMENT ON TABLE {SCHEMA}.schema_repeatables IS 'View definitions (sql/views/NN_name.sql) as last applied, "
    "written by the migration runner.'",
    f"COMMENT ON COLUMN {SCHEMA}.schema_repeatables.name IS 'File name of the definition.'",
    f"COMMENT ON COLUMN {SCHEMA}.schema_repeatables.checksum IS 'sha256 of the file as applied.'",
    f"COMMENT ON COLUMN {SCHEMA}.schema_repeatables.applied_at IS 'When the definitions were last applied.'",
)


def _apply_repeatables(conn, cur, repeatables: list[Migration]) -> list[str]:
    """Apply every view definition, in order, in one transaction, when any differs from what was recorded."""
    cur.execute(
        f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.schema_repeatables (
            name text PRIMARY KEY,
            checksum text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now())"""
    )
    for statement in _REPEATABLES_COMMENTS:
        cur.execute(statement)
    conn.commit()
    cur.execute(f"SELECT name, checksum FROM {SCHEMA}.schema_repeatables")
    if dict(cur.fetchall()) == {r.path.name: r.checksum for r in repeatables}:
        conn.rollback()
        return []
    current = None
    try:
        cur.execute(f"SET LOCAL search_path TO {SCHEMA}, public")
        for current in repeatables:
            cur.execute(current.sql)
        cur.execute(f"DELETE FROM {SCHEMA}.schema_repeatables")
        for r in repeatables:
            cur.execute(f"INSERT INTO {SCHEMA}.schema_repeatables (name, checksum) VALUES (%s, %s)",
                        (r.path.name, r.checksum))
        conn.commit()
    except psycopg2.Error as exc:
        conn.rollback()
        where = current.path.name if current is not None else "the view definitions"
        raise MigrationError(f"view definition {where} failed: {' '.join(str(exc).split())}") from None
    return [f"{r.path.parent.name}/{r.path.name}" for r in repeatables]


def prepare(url: str, auto: bool = True) -> list[str]:
    """What a run does first: migrate (``auto``, the default: ``crypto-news run``, ``make run``), or, where the
    deployment migrates in a step of its own (``CRYPTO_NEWS_AUTO_MIGRATE=0``: the compose stack's ``airflow-init``,
    whose tasks log in as a role that may not change the schema), only check that the schema is current and stop
    with a configuration error naming what is missing. A run never works on a schema older than its code."""
    if auto:
        return migrate(url)
    from ..config import ConfigError

    migrations = list_migrations()
    repeatables = list_repeatables(MIGRATIONS_DIR.parent / "views")
    conn = connect(url, application_name="crypto-news schema check")
    try:
        if _up_to_date(conn, migrations, repeatables):
            return []
        with conn.cursor() as cur:
            cur.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.schema_migrations",))
            applied = set()
            if cur.fetchone()[0] is not None:
                cur.execute(f"SELECT version FROM {SCHEMA}.schema_migrations")
                applied = {row[0] for row in cur.fetchall()}
        conn.rollback()
    finally:
        conn.close()
    missing = [m.path.name for m in migrations if m.version not in applied]
    what = f"migration(s) {', '.join(missing)} not applied" if missing else "changed view or migration files"
    raise ConfigError(f"the warehouse schema is not current ({what}) and CRYPTO_NEWS_AUTO_MIGRATE=0: run the "
                      "migrations first (`crypto-news migrate`, or the compose service airflow-init)")


def _up_to_date(conn, migrations: list[Migration], repeatables: list[Migration]) -> bool:
    applied = views = None
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s), to_regclass(%s)",
                    (f"{SCHEMA}.schema_migrations", f"{SCHEMA}.schema_repeatables"))
        has_migrations, has_repeatables = cur.fetchone()
        if has_migrations is not None:
            cur.execute(f"SELECT version, checksum FROM {SCHEMA}.schema_migrations")
            applied = dict(cur.fetchall())
        if has_repeatables is not None:
            cur.execute(f"SELECT name, checksum FROM {SCHEMA}.schema_repeatables")
            views = dict(cur.fetchall())
    conn.rollback()
    if not repeatables:
        views = {}
    return (applied == {m.version: m.checksum for m in migrations}
            and views == {r.path.name: r.checksum for r in repeatables})
