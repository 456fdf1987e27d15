"""The cluster-wide run lock: one pipeline run at a time on a database.

A command-line run holds the lock exclusively for its whole life. The tasks of a DAG run run in several processes
(mapped tasks at the same time), so each task holds it shared while it works: the tasks of one DAG run never block
each other (``max_active_runs=1`` keeps DAG runs apart), a command-line run is refused while a DAG task works, and a
DAG task waits for its retry while a command-line run holds the lock.
"""

from __future__ import annotations

from contextlib import contextmanager

import psycopg2

from .db import DatabaseError, connect

RUN_LOCK = 0x43_4E_52_55  # advisory lock key ("CNRU"), one per purpose
_TRY_EXCLUSIVE = "SELECT pg_try_advisory_lock(%s)"
_TRY_SHARED = "SELECT pg_try_advisory_lock_shared(%s)"


class RunInProgress(DatabaseError):
    pass


class RunLock:
    """The cluster-wide run lock: a session-level advisory lock held on a dedicated connection; ``shared`` for
    the tasks of a DAG run."""

    def __init__(self, url: str, shared: bool = False):
        self.url = url
        self.shared = shared
        self.conn = None

    def acquire(self) -> None:
        self.conn = connect(self.url, autocommit=True, application_name="crypto-news run lock")
        with self.conn.cursor() as cur:
            cur.execute(_TRY_SHARED if self.shared else _TRY_EXCLUSIVE, (RUN_LOCK,))
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
def run_lock(url: str, shared: bool = False):
    """Hold the run lock for the duration of a whole run (or, ``shared``, of one DAG task); refuse a second
    concurrent run."""
    lock = RunLock(url, shared)
    lock.acquire()
    try:
        yield lock
    finally:
        lock.release()
