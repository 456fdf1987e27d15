"""The stages of a run, declared once.

``crypto-news run`` (:func:`crypto_news.pipeline.runner.run`) calls them in this order in one process, under the run
lock; the daily DAG (``dags/crypto_news_daily.py``) makes one task per stage in the same order (a stage with a
``plan`` becomes one mapped task per batch, after a planning task), each task under the run lock too
(:mod:`crypto_news.orchestration.tasks`). Both call the same functions below with a :class:`RunContext`, so the
two paths cannot drift: a new stage is added here, and both pick it up.

This module is imported when the DAG file is parsed: it imports the stages' modules only when a stage runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..config import Settings

log = logging.getLogger(__name__)

Batch = list[int]


@dataclass
class RunContext:
    """What every stage of one run needs: read once per run (the CLI) or once per task (the DAG), passed down."""

    db_url: str
    settings: Settings
    trigger: str = "cli"
    run_key: str | None = None
    feeds_file: Path | None = None
    run_id: int | None = None
    feed_ids: list[int] = field(default_factory=list)
    # The DAG run's data interval and run type (``scheduled``, ``manual``, ``backfill``, ...); None on the command
    # line, whose run covers what the feeds show now.
    interval_start: datetime | None = None
    interval_end: datetime | None = None
    run_type: str | None = None


@dataclass(frozen=True)
class Stage:
    name: str  # the DAG's task id, the key in the summary's ``stage_seconds``
    call: Callable[..., Any]  # (context, batch): all its work (batch None) or one batch
    needs: tuple[str, ...] = ("run_id",)  # the RunContext fields it reads from earlier stages
    provides: str | None = None  # the RunContext field its result fills, for the stages after it
    plan: Callable[[RunContext], list[Batch]] | None = None  # in the DAG: batches, one mapped task each
    plan_name: str | None = None  # the planning task's id
    network: bool = False  # talks to feed and article hosts (the DAG's HTTP pool)
    records_run: bool = False  # records the run's outcome: runs after a failed stage too; later stages check it
    verdict: Callable[[Any], str | None] | None = None  # a failure message when the result says the data is wrong
    report: Callable[[Any], Any] | None = None  # what a DAG task hands on (default: the result)
    label: Callable[[Batch], str] | None = None  # a mapped batch's name in the DAG (its map_index_template)
    asset_counts: Callable[[Any], dict] | None = None  # the DAG task updates the articles Asset, with these counts


def _start_run(ctx: RunContext, batch: Batch | None = None) -> int:
    """Bring the schema up to date, mark runs whose process died as failed, and open this run's row."""
    from ..warehouse import db, migrations, runs
    from .stage_runs import start_run

    migrations.prepare(ctx.db_url, ctx.settings.auto_migrate)  # a no-op when up to date (one query)
    conn = db.connect(ctx.db_url)
    try:
        abandoned = runs.close_abandoned_runs(conn)
        conn.commit()
    finally:
        conn.close()
    if abandoned:
        log.warning(
            "marked %d earlier run(s) as failed: their process ended without finishing", abandoned)
    run_id = start_run(ctx.db_url, ctx.run_key, ctx.trigger)
    from ..config import ConfigError
    from .preflight import check_config
    from .stage_runs import finish_run

    try:  # after the row exists, so that it can say why the run stopped
        check_config(ctx.feeds_file or ctx.settings.feeds_file)
    except ConfigError as exc:
        finish_run(ctx.db_url, run_id, [], error=f"configuration error: {exc}")
        raise
    return run_id


def _sync_feeds(ctx: RunContext, batch: Batch | None = None) -> list[int]:
    from .stage_feeds import sync_feeds

    return sync_feeds(ctx.db_url, ctx.feeds_file or ctx.settings.feeds_file)


def _plan_fetch(ctx: RunContext) -> list[Batch]:
    from .planning import plan_feed_batches

    return plan_feed_batches(ctx.db_url, ctx.feed_ids)


def _fetch_feeds(ctx: RunContext, batch: Batch | None = None) -> dict:
    from .stage_feeds import fetch_feeds

    return fetch_feeds(ctx.db_url, ctx.run_id, ctx.feed_ids if batch is None else batch, ctx.settings,
                       feeds_file=ctx.feeds_file)


def _backfill_interval(ctx: RunContext, batch: Batch | None = None) -> list[dict]:
    """Fill the run's data interval from the sites' archive sitemaps, for an Airflow backfill or a run of a past
    interval. Anything else returns at once: a command-line run, or a run of the day just ended, whose feeds and
    their sitemap catch-up already cover it."""
    from .stage_backfill import backfill_sitemaps, interval_needs_backfill

    if ctx.interval_start is None or not interval_needs_backfill(ctx.run_type, ctx.interval_end):
        return []
    return backfill_sitemaps(ctx.db_url, ctx.run_id, ctx.feed_ids, ctx.interval_start, ctx.interval_end,
                             ctx.settings)


def _plan_extraction(ctx: RunContext) -> list[Batch]:
    from .planning import plan_extraction_batches

    return plan_extraction_batches(ctx.db_url, ctx.settings.extract_batch)


def _extract_articles(ctx: RunContext, batch: Batch | None = None) -> dict:
    from .stage_extract import extract_articles

    return extract_articles(ctx.db_url, ctx.run_id, ctx.settings, article_ids=batch)


def _classify_articles(ctx: RunContext, batch: Batch | None = None) -> dict:
    from .stage_classify import classify_articles

    return classify_articles(ctx.db_url, ctx.run_id, workers=ctx.settings.extract_workers)


def _finish_run(ctx: RunContext, batch: Batch | None = None, error: str | None = None,
                stage_seconds: dict | None = None, failed_stages: list[str] | None = None) -> dict:
    from .stage_runs import finish_run

    assert ctx.run_id is not None, "finish_run needs the run started by start_run"
    return finish_run(ctx.db_url, ctx.run_id, ctx.feed_ids, error=error, stage_seconds=stage_seconds,
                      failed_stages=failed_stages)


def _run_failed(summary: dict) -> str | None:
    return f"crypto-news run {summary['run_id']} failed: {summary['error']}" if summary["status"] == "failed" else None


def _run_report(summary: dict) -> dict:
    return {k: summary[k] for k in ("run_id", "status", "feeds_failed", "articles_new", "labels_written")}


def _run_counts(summary: dict) -> dict:
    return {k: summary[k] for k in ("run_id", "status", "feeds_ok", "feeds_failed", "articles_new",
                                    "articles_extracted", "articles_classified", "labels_written")}


def _ids_label(noun: str, batch: Batch) -> str:
    """"feeds 3, 7, 9" or "articles 120-319 (200)": short enough for the UI's task list."""
    ids = sorted(batch)
    if len(ids) <= 3:
        return f"{noun} {', '.join(map(str, ids))}"
    return f"{noun} {ids[0]}-{ids[-1]} ({len(ids)})"


def _quality_checks(ctx: RunContext, batch: Batch | None = None) -> list:
    from ..warehouse import quality

    results = quality.run_checks(ctx.db_url, ctx.run_id, min_rate=ctx.settings.min_extract_rate)
    for r in results:
        log.info("%s", r.line())
    return results


def _quality_failed(results: list) -> str | None:
    from ..warehouse import quality

    try:
        quality.assert_checks(results)
    except quality.QualityError as exc:
        return str(exc)
    return None


def _quality_report(results: list) -> dict:
    return {r.name: r.value for r in results}


STAGES: tuple[Stage, ...] = (
    Stage("start_run", _start_run, needs=(), provides="run_id"),
    Stage("sync_feeds", _sync_feeds, provides="feed_ids"),
    Stage("fetch_feeds", _fetch_feeds, needs=("run_id", "feed_ids"), plan=_plan_fetch, plan_name="plan_fetch", network=True,
          label=lambda batch: _ids_label("feeds", batch)),
    Stage("backfill_interval", _backfill_interval, needs=("run_id", "feed_ids"), network=True),
    Stage("extract_articles", _extract_articles, plan=_plan_extraction, plan_name="plan_extraction", network=True,
          label=lambda batch: _ids_label("articles", batch)),
    Stage("classify_articles", _classify_articles),
    Stage("finish_run", _finish_run, needs=("run_id", "feed_ids"), records_run=True, verdict=_run_failed, report=_run_report,
          asset_counts=_run_counts),
    Stage("quality_checks", _quality_checks, verdict=_quality_failed, report=_quality_report),
)
STAGE_NAMES = tuple(s.name for s in STAGES)


def stage(name: str) -> Stage:
    for s in STAGES:
        if s.name == name:
            return s
    raise KeyError(f"no stage {name!r}; the stages are {', '.join(STAGE_NAMES)}")
