"""SQL of the ``pipeline_runs`` table: a run's row, its counters, its summary.

Every write is idempotent; functions take an open psycopg2 connection and leave transaction control to the caller
unless they say otherwise.
"""

from __future__ import annotations

import json
from datetime import datetime

from psycopg2.extras import Json

from ..text import LIMITS, one_line


def start_run(conn, run_key: str, trigger: str) -> int:
    """Create the run row, or reopen it when the same run key starts again (a retried or cleared Airflow run); the
    stage counters restart, the rest is recomputed by finish_run."""
    with conn.cursor() as cur:
        cur.execute(
            """INSERT INTO pipeline_runs (run_key, trigger) VALUES (%s, %s)
               ON CONFLICT (run_key) DO UPDATE SET status = 'running', finished_at = NULL, error = NULL,
                   articles_extracted = 0, articles_classified = 0, labels_written = 0,
                   failed_stages = '{}', stage_errors = '{}'
               RETURNING run_id""",
            (run_key, trigger),
        )
        run_id = cur.fetchone()[0]
    conn.commit()
    return run_id


def run_for_key(conn, run_key: str, trigger: str) -> int:
    """The run row of a key, created when its first step failed before making it; nothing of an existing row is
    reset (unlike :func:`start_run`), so the errors its tasks recorded stay."""
    with conn.cursor() as cur:
        cur.execute(
            """INSERT INTO pipeline_runs (run_key, trigger) VALUES (%s, %s)
               ON CONFLICT (run_key) DO UPDATE SET run_key = EXCLUDED.run_key
               RETURNING run_id""",
            (run_key, trigger),
        )
        run_id = cur.fetchone()[0]
    conn.commit()
    return run_id


RUN_COUNTERS = frozenset({"articles_extracted", "articles_classified", "labels_written"})


def close_abandoned_runs(conn) -> int:
    """Mark as failed the runs left 'running' by a command-line run whose process died (killed, crashed host).
    Called under the run lock, so no such run can still be alive; Airflow runs take no lock and are left alone."""
    with conn.cursor() as cur:
        cur.execute(
            """UPDATE pipeline_runs SET status = 'failed', finished_at = now(),
                      error = 'abandoned: the run process ended without finishing'
               WHERE status = 'running' AND trigger <> 'airflow'"""
        )
        return cur.rowcount


def add_run_counts(conn, run_id: int | None, **counts: int) -> None:
    """Add to a run's counters (safe when several tasks of one run report at once)."""
    if run_id is None or not counts:
        return
    unknown = set(counts) - RUN_COUNTERS
    if unknown:  # the column names go into the SQL text: only known counters
        raise ValueError(f"unknown run counter(s): {sorted(unknown)}")
    sets = ", ".join(f"{k} = {k} + %({k})s" for k in counts)
    with conn.cursor() as cur:
        cur.execute(f"UPDATE pipeline_runs SET {sets} WHERE run_id = %(run_id)s", {**counts, "run_id": run_id})


def record_stage_error(conn, run_key: str, stage: str, error: str) -> bool:
    """Note on the run row (found by its key) that a task or stage failed and why, as it fails: the run's last step
    reads it to say why the run failed. False when the run has no row (it never started)."""
    with conn.cursor() as cur:
        cur.execute(
            """UPDATE pipeline_runs SET stage_errors = stage_errors || jsonb_build_object(%s::text, %s::text)
               WHERE run_key = %s""",
            (stage, one_line(error, LIMITS["error"]), run_key),
        )
        return cur.rowcount > 0


def mark_failed(conn, run_id: int, stage: str, error: str) -> str:
    """Turn a finished run into a failed one when a step after its summary fails (the data-quality checks): the run
    row must not say success for a run whose DAG run failed. A run already failed keeps its first reason, the new one
    added after it. Returns the run's error as now recorded."""
    msg = one_line(f"{stage} failed: {error}", LIMITS["error"])
    with conn.cursor() as cur:
        cur.execute(
            """UPDATE pipeline_runs SET
                      error = CASE WHEN status = 'failed' AND error IS NOT NULL THEN left(error || '; ' || %(msg)s,
                                                                                           %(limit)s)
                                   ELSE %(msg)s END,
                      status = 'failed',
                      failed_stages = array_append(array_remove(failed_stages, %(stage)s), %(stage)s),
                      stage_errors = stage_errors || jsonb_build_object(%(stage)s::text, %(error)s::text)
               WHERE run_id = %(run_id)s
               RETURNING error, failed_stages""",
            {"stage": stage, "error": one_line(error, LIMITS["error"]), "msg": msg, "limit": LIMITS["error"],
             "run_id": run_id},
        )
        new_error, stages = cur.fetchone()
        cur.execute(
            """UPDATE pipeline_runs SET summary = summary || jsonb_build_object('status', 'failed', 'error', %s::text,
                                                                            'failed_stages', to_jsonb(%s::text[]))
               WHERE run_id = %s""",
            (new_error, list(stages), run_id),
        )
    conn.commit()
    return new_error


def _stages_error(failed_stages: list[str], stage_errors: dict) -> str:
    """``sync_feeds failed: FeedListError: ...; extract_articles[3] failed`` (the task's own error when it recorded
    one)."""
    parts = []
    for stage in failed_stages:
        why = stage_errors.get(stage) or stage_errors.get(stage.split("[", 1)[0])
        parts.append(f"{stage} failed: {why}" if why else f"{stage} failed")
    return "; ".join(parts)


def finish_run(conn, run_id: int, feed_ids: list[int] | None = None, error: str | None = None,
               stage_seconds: dict | None = None, failed_stages: list[str] | None = None) -> dict:
    """Compute the run's summary from what the stages recorded, store it, and return it.

    ``failed_stages`` names the tasks or stages that ended failed (the DAG's last step asks Airflow): the run is then
    failed whatever its feeds did, and its error says which failed and why (from ``stage_errors``)."""
    failed_stages = list(dict.fromkeys(failed_stages or []))
    with conn.cursor() as cur:
        cur.execute("SELECT stage_errors FROM pipeline_runs WHERE run_id = %s", (run_id,))
        row = cur.fetchone()
        stage_errors = (row[0] if row else None) or {}
        if failed_stages:
            stages_error = _stages_error(failed_stages, stage_errors)
            error = f"{error}; {stages_error}" if error else stages_error
        cur.execute(
            """SELECT DISTINCT ON (f.feed_id) f.feed_id, f.name, f.url, x.status, x.error_kind, x.error,
                      x.items_seen, x.items_new, x.items_skipped, x.http_status, x.duration_ms, x.parse_warning,
                      x.gap, x.items_backfilled, x.sitemaps_read, x.sitemap_error_kind, x.sitemap_error
               FROM feed_fetches x JOIN feeds f USING (feed_id)
               WHERE x.run_id = %s ORDER BY f.feed_id, x.fetch_id DESC""",
            (run_id,),
        )
        cols = [d[0] for d in cur.description]
        feeds = [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]
        fetched = {f["feed_id"] for f in feeds}
        for fid in feed_ids or []:
            if fid not in fetched:  # a feed the fetch stage never reached (e.g. it crashed): say so
                cur.execute("SELECT feed_id, name, url FROM feeds WHERE feed_id = %s", (fid,))
                row = cur.fetchone()
                if row:
                    feeds.append({"feed_id": row[0], "name": row[1], "url": row[2], "status": "error",
                                  "error_kind": "not_fetched", "error": "the fetch stage did not reach this feed",
                                  "items_seen": 0, "items_new": 0, "items_skipped": 0, "http_status": None,
                                  "duration_ms": 0, "parse_warning": None, "gap": None, "items_backfilled": 0,
                                  "sitemaps_read": 0, "sitemap_error_kind": None, "sitemap_error": None})
        feeds.sort(key=lambda f: f["name"].lower())
        ok = sum(f["status"] in ("ok", "unchanged") for f in feeds)
        not_modified = sum(f["status"] == "not_modified" for f in feeds)
        failed = sum(f["status"] == "error" for f in feeds)
        if error or failed_stages or (feeds and ok + not_modified == 0):
            status = "failed"
        elif failed:
            status = "partial"
        else:
            status = "success"
        if not error and status == "failed":
            error = f"all {len(feeds)} feeds failed"
        cur.execute(
            """SELECT count(*) FILTER (WHERE first_run_id = %(r)s) FROM articles""", {"r": run_id},
        )
        articles_new = cur.fetchone()[0]
        cur.execute(
            """UPDATE pipeline_runs SET finished_at = now(), status = %(status)s, error = %(error)s,
                      failed_stages = %(failed_stages)s, feeds_total = %(total)s, feeds_ok = %(ok)s, feeds_not_modified = %(nm)s,
                      feeds_failed = %(failed)s, items_seen = %(seen)s, articles_new = %(new)s
               WHERE run_id = %(run_id)s
               RETURNING run_id, run_key, trigger, started_at, finished_at, status, feeds_total, feeds_ok,
                         feeds_not_modified, feeds_failed, items_seen, articles_new, articles_extracted,
                         articles_classified, labels_written, error, failed_stages""",
            {"failed_stages": failed_stages, "status": status, "error": one_line(error, LIMITS["error"]), "total": len(feeds), "ok": ok,
             "nm": not_modified, "failed": failed, "seen": sum(f["items_seen"] for f in feeds),
             "new": articles_new, "run_id": run_id},
        )
        cols = [d[0] for d in cur.description]
        summary = dict(zip(cols, cur.fetchone(), strict=True))
        summary["feeds"] = [
            {k: f[k] for k in ("name", "url", "status", "error_kind", "error", "items_seen", "items_new",
                               "items_skipped", "http_status", "duration_ms", "parse_warning")}
            for f in feeds
        ]
        for out, f in zip(summary["feeds"], feeds, strict=True):  # coverage between runs: gaps and the sitemap catch-up
            out.update({k: f[k] for k in ("gap", "items_backfilled", "sitemaps_read", "sitemap_error_kind",
                                          "sitemap_error")})
        summary["items_backfilled"] = sum(f["items_backfilled"] or 0 for f in feeds)
        summary["feeds_with_gap"] = sum(f["gap"] is True for f in feeds)
        if stage_seconds:
            summary["stage_seconds"] = dict(stage_seconds)
        summary = json.loads(json.dumps(summary, default=_json_default))
        cur.execute("UPDATE pipeline_runs SET summary = %s WHERE run_id = %s", (Json(summary), run_id))
    conn.commit()
    return summary


def _json_default(value):
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def latest_run_id(conn, trigger: str | None = None) -> int | None:
    with conn.cursor() as cur:
        cur.execute("SELECT max(run_id) FROM pipeline_runs WHERE (%(t)s::text IS NULL OR trigger = %(t)s)",
                    {"t": trigger})
        return cur.fetchone()[0]


def load_run_summary(conn, run_id: int | None = None, trigger: str | None = None) -> dict | None:
    with conn.cursor() as cur:
        if run_id is not None:
            cur.execute("SELECT summary FROM pipeline_runs WHERE run_id = %s", (run_id,))
        else:
            cur.execute(
                """SELECT summary FROM pipeline_runs WHERE (%(t)s::text IS NULL OR trigger = %(t)s)
                   ORDER BY run_id DESC LIMIT 1""",
                {"t": trigger},
            )
        row = cur.fetchone()
    return row[0] if row and row[0] else None
