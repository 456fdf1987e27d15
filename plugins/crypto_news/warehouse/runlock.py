"""The run lock: one pipeline run at a time on a database.

The lock is a row lock on the ``run`` row of ``crypto_news.locks``, held by an open transaction on a dedicated
connection. Taking a row lock needs UPDATE on the table, which only the writer and the owner have: a read-only login
cannot block runs (any login could take an advisory lock, and one holding the old advisory key stopped every run).
The lock dies with its session, so a killed run never leaves it behind.

A command-line run holds the lock exclusively (``FOR UPDATE``) for its whole life. The tasks of a DAG run run in
several processes (mapped tasks at the same time), so each task holds it shared (``FOR SHARE``) while it works: the
tasks of one DAG run never block each other (``max_active_runs=1`` keeps DAG runs apart), a command-line run is
refused while a DAG task works, and a DAG task waits for its retry while a command-line run holds the lock.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

import psycopg2

from .db import DatabaseError, connect

RUN_LOCK = "run"  # the row of crypto_news.locks
LOCK_NOT_AVAILABLE = "55P03"
_TRY_EXCLUSIVE = "SELECT name FROM crypto_news.locks WHERE name = %s FOR UPDATE NOWAIT"
_TRY_SHARED = "SELECT name FROM crypto_news.locks WHERE name = %s FOR SHARE NOWAIT"


class RunInProgress(DatabaseError):
    pass


class RunLock:
    """The run lock: a row lock held by an open transaction on a dedicated connection; ``shared`` for the tasks of
    a DAG run."""

    def __init__(self, url: str, shared: bool = False):
        self.url = url
        self.shared = shared
        self.conn: Any = None

    def acquire(self) -> None:
        self.conn = connect(self.url, application_name="crypto-news run lock")
        with self.conn.cursor() as cur:
            try:
                cur.execute(_TRY_SHARED if self.shared else _TRY_EXCLUSIVE, (RUN_LOCK,))
                if cur.fetchone() is not None:
                    return  # the transaction stays open: the row lock is held until release()
                self.release()
                raise DatabaseError("the run lock row is missing from crypto_news.locks; run `crypto-news migrate`")
            except psycopg2.Error as exc:
                if getattr(exc, "pgcode", None) != LOCK_NOT_AVAILABLE:
                    self.release()
                    raise
            self.conn.rollback()
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
                self.conn.close()  # closing the session ends its transaction and the row lock
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
