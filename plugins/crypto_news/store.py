"""SQL for the pipeline's state: every write is batched and idempotent (unique keys + ON CONFLICT).

Functions take an open psycopg2 connection and leave transaction control to the caller unless they say otherwise.
"""

from __future__ import annotations

import io
import json
from datetime import datetime

from psycopg2.extras import Json, execute_values

from .db import staging_table
from .feeds import FeedSpec
from .text import LIMITS, one_line


# --- runs -----------------------------------------------------------------------------------------------------------

def start_run(conn, run_key: str, trigger: str) -> int:
    """Create the run row, or reopen it when the same run key starts again (a retried or cleared Airflow run); the
    stage counters restart, the rest is recomputed by finish_run."""
    with conn.cursor() as cur:
        cur.execute(
            """INSERT INTO pipeline_runs (run_key, trigger) VALUES (%s, %s)
               ON CONFLICT (run_key) DO UPDATE SET status = 'running', finished_at = NULL, error = NULL,
                   articles_extracted = 0, articles_classified = 0, labels_written = 0
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


def finish_run(conn, run_id: int, feed_ids: list[int] | None = None, error: str | None = None,
               stage_seconds: dict | None = None) -> dict:
    """Compute the run's summary from what the stages recorded, store it, and return it."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT DISTINCT ON (f.feed_id) f.feed_id, f.name, f.url, x.status, x.error_kind, x.error,
                      x.items_seen, x.items_new, x.items_skipped, x.http_status, x.duration_ms, x.parse_warning
               FROM feed_fetches x JOIN feeds f USING (feed_id)
               WHERE x.run_id = %s ORDER BY f.feed_id, x.fetch_id DESC""",
            (run_id,),
        )
        cols = [d[0] for d in cur.description]
        feeds = [dict(zip(cols, row)) for row in cur.fetchall()]
        fetched = {f["feed_id"] for f in feeds}
        for fid in feed_ids or []:
            if fid not in fetched:  # a feed the fetch stage never reached (e.g. it crashed): say so
                cur.execute("SELECT feed_id, name, url FROM feeds WHERE feed_id = %s", (fid,))
                row = cur.fetchone()
                if row:
                    feeds.append({"feed_id": row[0], "name": row[1], "url": row[2], "status": "error",
                                  "error_kind": "not_fetched", "error": "the fetch stage did not reach this feed",
                                  "items_seen": 0, "items_new": 0, "items_skipped": 0, "http_status": None,
                                  "duration_ms": 0, "parse_warning": None})
        feeds.sort(key=lambda f: f["name"].lower())
        ok = sum(f["status"] in ("ok", "unchanged") for f in feeds)
        not_modified = sum(f["status"] == "not_modified" for f in feeds)
        failed = sum(f["status"] == "error" for f in feeds)
        if error or (feeds and ok + not_modified == 0):
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
                      feeds_total = %(total)s, feeds_ok = %(ok)s, feeds_not_modified = %(nm)s,
                      feeds_failed = %(failed)s, items_seen = %(seen)s, articles_new = %(new)s
               WHERE run_id = %(run_id)s
               RETURNING run_id, run_key, trigger, started_at, finished_at, status, feeds_total, feeds_ok,
                         feeds_not_modified, feeds_failed, items_seen, articles_new, articles_extracted,
                         articles_classified, labels_written, error""",
            {"status": status, "error": one_line(error, LIMITS["error"]), "total": len(feeds), "ok": ok,
             "nm": not_modified, "failed": failed, "seen": sum(f["items_seen"] for f in feeds),
             "new": articles_new, "run_id": run_id},
        )
        cols = [d[0] for d in cur.description]
        summary = dict(zip(cols, cur.fetchone()))
        summary["feeds"] = [
            {k: f[k] for k in ("name", "url", "status", "error_kind", "error", "items_seen", "items_new",
                               "items_skipped", "http_status", "duration_ms", "parse_warning")}
            for f in feeds
        ]
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


# --- labels ---------------------------------------------------------------------------------------------------------

def store_classifications(cur, pairs: list[tuple[int, object]]) -> tuple[int, int]:
    """Replace the labels, entities and classification rows of these articles; return (labels, entities) written."""
    if not pairs:
        return 0, 0
    ids = [article_id for article_id, _ in pairs]
    labels, entities, classes = [], [], []
    for article_id, c in pairs:
        classes.append((article_id, c.version, Json(c.scores)))
        labels += [(article_id, lab, round(c.scores[lab], 4), c.evidence.get(lab, [])[:10], c.version)
                   for lab in c.labels]
        entities += [(article_id, e.kind, e.id, e.name, e.mentions) for e in c.entities]
    cur.execute("DELETE FROM article_labels WHERE article_id = ANY(%s)", (ids,))
    cur.execute("DELETE FROM article_entities WHERE article_id = ANY(%s)", (ids,))
    if labels:
        execute_values(cur, "INSERT INTO article_labels (article_id, label, score, evidence, classifier_version) "
                            "VALUES %s", labels, template="(%s, %s, %s, %s::text[], %s)", page_size=5000)
    if entities:
        execute_values(cur, "INSERT INTO article_entities (article_id, kind, entity_id, name, mentions) VALUES %s",
                       entities, page_size=5000)
    execute_values(
        cur,
        """INSERT INTO article_classifications (article_id, classifier_version, scores) VALUES %s
           ON CONFLICT (article_id) DO UPDATE SET classifier_version = EXCLUDED.classifier_version,
               scores = EXCLUDED.scores, classified_at = now()""",
        classes, page_size=5000,
    )
    return len(labels), len(entities)


# --- feeds ----------------------------------------------------------------------------------------------------------

def sync_feeds(conn, specs: list[FeedSpec]) -> list[int]:
    """Upsert the feed list; return the ids of the enabled feeds in it (in file order)."""
    if not specs:
        return []
    with conn.cursor() as cur:
        execute_values(
            cur,
            """INSERT INTO feeds (url, name, site_url, enabled, obey_robots, tags) VALUES %s
               ON CONFLICT (url) DO UPDATE SET name = EXCLUDED.name, site_url = EXCLUDED.site_url,
                   enabled = EXCLUDED.enabled, obey_robots = EXCLUDED.obey_robots, tags = EXCLUDED.tags,
                   updated_at = now()
               WHERE (feeds.name, feeds.site_url, feeds.enabled, feeds.obey_robots, feeds.tags)
                     IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.site_url, EXCLUDED.enabled,
                                       EXCLUDED.obey_robots, EXCLUDED.tags)""",
            [(s.url, s.name, s.site, s.enabled, s.robots, list(s.tags)) for s in specs],
            template="(%s, %s, %s, %s, %s, %s::text[])",
        )
        cur.execute("SELECT url, feed_id FROM feeds WHERE url = ANY(%s)", ([s.url for s in specs],))
        ids = dict(cur.fetchall())
    conn.commit()
    return [ids[s.url] for s in specs if s.enabled]


def load_feeds(conn, feed_ids: list[int]) -> list[dict]:
    with conn.cursor() as cur:
        cur.execute(
            """SELECT feed_id, name, url, etag, last_modified, content_hash, obey_robots
               FROM feeds WHERE feed_id = ANY(%s) ORDER BY feed_id""",
            (list(feed_ids),),
        )
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]


_COPY_STAGING = ("COPY feed_items_staging (canonical_url, url, guid, title, summary, feed_content, author, "
                 "feed_categories, published_at, published_flag) FROM STDIN")


def _copy_text(value) -> str:
    """One value in COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, (list, tuple)):  # a text[] literal: every element quoted
        value = "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in value) + "}"
    elif isinstance(value, datetime):
        value = value.isoformat()
    else:
        value = str(value)
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _load_items(cur, feed_id: int, run_id: int | None, items) -> int:
    """Bulk-load a feed's items: COPY into a temporary staging table, then one INSERT ... ON CONFLICT into
    ``articles`` and one into ``article_sources``. Returns the number of new articles."""
    staging_table(cur, "feed_items_staging",
                  "canonical_url text, url text, guid text, title text, summary text, feed_content text, author text, "
                  "feed_categories text[], published_at timestamptz, published_flag text",
                  uncompressed=("summary", "feed_content"))
    buf = io.StringIO()
    for i in items:
        buf.write("\t".join(_copy_text(v) for v in (i.canonical_url, i.url, i.guid, i.title, i.summary, i.content,
                                                     i.author, i.categories, i.published_at, i.published_flag)))
        buf.write("\n")
    buf.seek(0)
    cur.copy_expert(_COPY_STAGING, buf)
    cur.execute(
        """INSERT INTO articles (canonical_url, url, guid, feed_id, first_run_id, title, summary, feed_content, author,
                                feed_categories, published_at, published_source, published_flag)
           SELECT canonical_url, url, guid, %(feed)s, %(run)s, title, summary, feed_content, author, feed_categories,
                  published_at, CASE WHEN published_at IS NOT NULL THEN 'feed' END, published_flag
           FROM feed_items_staging
           ON CONFLICT (canonical_url) DO NOTHING""",
        {"feed": feed_id, "run": run_id},
    )
    items_new = cur.rowcount
    cur.execute(
        """INSERT INTO article_sources (article_id, feed_id, guid, item_url, first_run_id)
           SELECT a.article_id, %(feed)s, s.guid, s.url, %(run)s
           FROM feed_items_staging s JOIN articles a ON a.canonical_url = s.canonical_url
           ON CONFLICT (article_id, feed_id) DO NOTHING""",
        {"feed": feed_id, "run": run_id},
    )
    return items_new


def record_fetch(conn, run_id: int | None, feed: dict, outcome) -> None:
    """Store one feed's fetch: its new items and sources, the fetch log row and the feed's cache validators, in one
    transaction, so that a crash never leaves validators that would skip items not yet stored."""
    items_new = 0
    with conn.cursor() as cur:
        if outcome.items:
            items_new = _load_items(cur, feed["feed_id"], run_id, outcome.items)
        cur.execute(
            """INSERT INTO feed_fetches (run_id, feed_id, duration_ms, status, http_status, error_kind, error, bytes,
                                         items_seen, items_new, items_skipped, parse_warning, final_url)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            (run_id, feed["feed_id"], outcome.duration_ms, outcome.status, outcome.http_status, outcome.error_kind,
             one_line(outcome.error, LIMITS["error"]), outcome.bytes, len(outcome.items) + len(outcome.skipped),
             items_new, len(outcome.skipped), outcome.warning, outcome.final_url),
        )
        if outcome.status == "ok":
            cur.execute(
                """UPDATE feeds SET etag = %s, last_modified = %s, content_hash = %s,
                          title = COALESCE(%s, title), updated_at = now() WHERE feed_id = %s""",
                (outcome.etag, outcome.last_modified, outcome.content_hash, outcome.title, feed["feed_id"]),
            )
    outcome.items_new = items_new
    conn.commit()
