"""The run's own stages: ``start_run`` opens the run's row, ``finish_run`` computes and stores its summary."""

from __future__ import annotations

import uuid
from datetime import datetime

from .. import metrics
from ..warehouse import db, runs


def start_run(db_url: str, run_key: str | None = None, trigger: str = "cli") -> int:
    conn = db.connect(db_url)
    try:
        return runs.start_run(conn, run_key or f"{trigger}-{uuid.uuid4()}", trigger)
    finally:
        conn.close()


def finish_run(db_url: str, run_id: int, feed_ids: list[int] | None = None, error: str | None = None,
               stage_seconds: dict | None = None, failed_stages: list[str] | None = None) -> dict:
    conn = db.connect(db_url)
    try:
        summary = runs.finish_run(conn, run_id, feed_ids, error, stage_seconds, failed_stages)
    finally:
        conn.close()
    metrics.run_finished(summary, _duration_s(summary))
    return summary


def _duration_s(summary: dict) -> float | None:
    try:
        return (datetime.fromisoformat(summary["finished_at"])
                - datetime.fromisoformat(summary["started_at"])).total_seconds()
    except (KeyError, TypeError, ValueError):
        return None
