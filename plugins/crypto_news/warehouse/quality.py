"""Data-quality checks on the warehouse, run as the last task of the daily DAG and from the command line.

Each check is one SQL query and returns a :class:`CheckResult`; :func:`run_checks` runs them all and never stops
at the first failure, so a failing run names every broken rule at once. :func:`assert_checks` raises
:class:`QualityError` naming each failed check (the DAG task calls it).

Scope: given a pipeline run (``run_id``), the row-level checks look at what that run touched (articles discovered
or updated, labels written since the run started) and the run-level checks at that run; without a run they look at
the whole warehouse (``python -m crypto_news.warehouse.quality``).

Checks
  canonical_url     every article has a non-empty canonical URL
  label_set         labels only from the allowed set (crypto_news.classify.LABELS)
  published_future  no published time later than now + 1 day (FUTURE_TOLERANCE)
  extract_rate      share of extracted articles whose text came from the page (text_source = 'page') is at least
                    CRYPTO_NEWS_MIN_EXTRACT_RATE (default 0.0: pages can legitimately be unreachable - paywalls,
                    robots.txt, outages - and the feed's own text is then used; raise the floor per deployment)
  feed_succeeded    at least one feed was fetched successfully (ok, not_modified or unchanged) in the run
  feeds_dead        no enabled feed has failed CRYPTO_NEWS_DEAD_FEED_RUNS fetches in a row (default 3) or gone
                    without a successful fetch for CRYPTO_NEWS_DEAD_FEED_DAYS (default 3)
  page_share_7d     the run's share of articles with page text is not below the share of the 7 days before the
                    run divided by CRYPTO_NEWS_CHECK_DROP_RATIO (default 2)
  new_articles_7d   the run's new articles are not below the mean of the runs of the 7 days before it divided by
                    CRYPTO_NEWS_CHECK_DROP_RATIO

The two 7-day checks work as common-sql's interval check (``SQLIntervalCheckOperator``, ratio of the larger to the
smaller value against a threshold), for a drop only: more articles or more page text than usual is not a fault. Both
pass while there is no history to compare with.

Each check's failure either fails the checks (``fail``) or is reported only (``warn``), or the check is skipped
(``off``), by CRYPTO_NEWS_CHECK_<NAME>; defaults in ``crypto_news.config.CHECK_SEVERITY_DEFAULTS`` (the new
dead-feed and new-article checks warn, all others fail).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, dataclass, replace

from ..config import Settings
from ..model import FUTURE_TOLERANCE
from . import db


class QualityError(Exception):
    """One or more data-quality checks failed; the message names each of them."""


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    detail: str
    value: float | int | None = None
    severity: str = "fail"  # what a failure does: "fail" fails the checks, "warn" reports only

    @property
    def verdict(self) -> str:
        return "PASS" if self.passed else ("FAIL" if self.severity == "fail" else "WARN")

    def line(self) -> str:
        return f"{self.verdict} {self.name}: {self.detail}"


def min_extract_rate() -> float:
    """CRYPTO_NEWS_MIN_EXTRACT_RATE (default 0.0, in [0, 1]): the floor of the extraction-success check."""
    return Settings.from_env().min_extract_rate


def _run_started(cur, run_id: int | None):
    if run_id is None:
        return None
    cur.execute("SELECT started_at FROM pipeline_runs WHERE run_id = %s", (run_id,))
    row = cur.fetchone()
    if row is None:
        raise QualityError(f"pipeline run {run_id} does not exist")
    return row[0]


def check_canonical_url(cur, since) -> CheckResult:
    cur.execute(
        """SELECT count(*) FROM articles
           WHERE (canonical_url IS NULL OR btrim(canonical_url) = '')
             AND (%(since)s::timestamptz IS NULL OR discovered_at >= %(since)s OR updated_at >= %(since)s)""",
        {"since": since},
    )
    bad = cur.fetchone()[0]
    return CheckResult("canonical_url", bad == 0, f"{bad} article(s) without a canonical URL", bad)


def check_label_set(cur, since) -> CheckResult:
    from ..classify import LABELS

    cur.execute(
        """SELECT label, count(*) FROM article_labels
           WHERE label <> ALL(%(allowed)s) AND (%(since)s::timestamptz IS NULL OR labelled_at >= %(since)s)
           GROUP BY label ORDER BY label""",
        {"allowed": list(LABELS), "since": since},
    )
    bad = cur.fetchall()
    n = sum(c for _, c in bad)
    detail = (f"{n} label row(s) outside {sorted(LABELS)}: " + ", ".join(f"{lab!r} x{c}" for lab, c in bad)
              if bad else f"all labels in {sorted(LABELS)}")
    return CheckResult("label_set", not bad, detail, n)


def check_published_future(cur, since) -> CheckResult:
    cur.execute(
        """SELECT count(*), max(published_at) FROM articles
           WHERE published_at > now() + %(tolerance)s
             AND (%(since)s::timestamptz IS NULL OR discovered_at >= %(since)s OR updated_at >= %(since)s)""",
        {"tolerance": FUTURE_TOLERANCE, "since": since},
    )
    bad, latest = cur.fetchone()
    detail = f"{bad} article(s) published more than {FUTURE_TOLERANCE.days} day(s) in the future"
    if latest is not None:
        detail += f" (latest {latest.isoformat()})"
    return CheckResult("published_future", bad == 0, detail, bad)


def check_extract_rate(cur, since, floor: float) -> CheckResult:
    cur.execute(
        """SELECT count(*), count(*) FILTER (WHERE text_source = 'page') FROM articles
           WHERE extract_state <> 'pending' AND (%(since)s::timestamptz IS NULL OR extracted_at >= %(since)s)""",
        {"since": since},
    )
    total, page = cur.fetchone()
    if total == 0:
        return CheckResult("extract_rate", True, f"no articles extracted (floor {floor:.2f})", None)
    rate = page / total
    return CheckResult("extract_rate", rate >= floor,
                       f"{page}/{total} = {rate:.2f} of extracted articles have page text (floor {floor:.2f})",
                       round(rate, 4))


def check_feed_succeeded(cur, run_id: int | None) -> CheckResult:
    if run_id is None:
        cur.execute("SELECT max(run_id) FROM pipeline_runs WHERE finished_at IS NOT NULL")
        run_id = cur.fetchone()[0]
        if run_id is None:
            return CheckResult("feed_succeeded", True, "no finished run yet", None)
    cur.execute(
        """SELECT count(DISTINCT feed_id) FILTER (WHERE status IN ('ok', 'not_modified', 'unchanged')),
                  count(DISTINCT feed_id)
           FROM feed_fetches WHERE run_id = %s""",
        (run_id,),
    )
    ok, total = cur.fetchone()
    return CheckResult("feed_succeeded", ok > 0, f"{ok} of {total} feed(s) fetched successfully in run {run_id}",
                       ok)


def check_feeds_dead(cur, runs_in_a_row: int, days: float) -> CheckResult:
    cur.execute(
        """SELECT h.feed_name, h.consecutive_failures, h.last_success_at, h.last_error_kind
           FROM v_feed_health h
           WHERE h.enabled AND h.last_fetch_at IS NOT NULL
             AND (h.consecutive_failures >= %(runs)s
                  OR coalesce(h.last_success_at,
                              (SELECT min(x.started_at) FROM feed_fetches x WHERE x.feed_id = h.feed_id))
                     < now() - make_interval(secs => %(secs)s) AND h.last_status = 'error')
           ORDER BY h.feed_name""",
        {"runs": runs_in_a_row, "secs": days * 86400},
    )
    dead = cur.fetchall()
    rule = f"failing {runs_in_a_row} fetches in a row or without success for {days:g} day(s)"
    if not dead:
        return CheckResult("feeds_dead", True, f"no enabled feed {rule}", 0)
    names = ", ".join(f"{name} ({failures}x {kind or 'error'})" for name, failures, _, kind in dead[:10])
    more = f" and {len(dead) - 10} more" if len(dead) > 10 else ""
    return CheckResult("feeds_dead", False, f"{len(dead)} enabled feed(s) {rule}: {names}{more}", len(dead))


def _reference_run(cur, run_id: int | None):
    """(run_id, started_at, finished_at) of the given run, or of the latest finished one."""
    cur.execute(
        """SELECT run_id, started_at, coalesce(finished_at, now()) FROM pipeline_runs
           WHERE (%(r)s::bigint IS NULL AND finished_at IS NOT NULL) OR run_id = %(r)s
           ORDER BY run_id DESC LIMIT 1""",
        {"r": run_id},
    )
    return cur.fetchone()


def _dropped(current: float, baseline: float, ratio: float) -> bool:
    """True when current is below baseline by more than the ratio (max over min, as common-sql's interval check)."""
    if baseline <= 0:
        return False
    return current <= 0 or baseline / current > ratio


def check_page_share_7d(cur, run_id: int | None, ratio: float) -> CheckResult:
    ref = _reference_run(cur, run_id)
    if ref is None:
        return CheckResult("page_share_7d", True, "no run to check", None)
    _, started, finished = ref
    cur.execute(
        """SELECT count(*) FILTER (WHERE extracted_at >= %(s)s AND extracted_at <= %(f)s),
                  count(*) FILTER (WHERE extracted_at >= %(s)s AND extracted_at <= %(f)s AND text_source = 'page'),
                  count(*) FILTER (WHERE extracted_at < %(s)s),
                  count(*) FILTER (WHERE extracted_at < %(s)s AND text_source = 'page')
           FROM articles
           WHERE extract_state <> 'pending' AND extracted_at >= %(s)s - interval '7 days' AND extracted_at <= %(f)s""",
        {"s": started, "f": finished},
    )
    total, page, base_total, base_page = cur.fetchone()
    if total == 0 or base_total == 0:
        why = "no articles extracted in the run" if total == 0 else "no articles extracted in the 7 days before"
        return CheckResult("page_share_7d", True, f"{why}: nothing to compare", None)
    share, base = page / total, base_page / base_total
    detail = (f"{page}/{total} = {share:.2f} of the run's articles have page text; the 7 days before: "
              f"{base_page}/{base_total} = {base:.2f} (fails below {base / ratio:.2f}, ratio {ratio:g})")
    return CheckResult("page_share_7d", not _dropped(share, base, ratio), detail, round(share, 4))


def check_new_articles_7d(cur, run_id: int | None, ratio: float) -> CheckResult:
    ref = _reference_run(cur, run_id)
    if ref is None:
        return CheckResult("new_articles_7d", True, "no run to check", None)
    ref_id, started, _ = ref
    cur.execute(
        """SELECT (SELECT count(*) FROM articles WHERE first_run_id = %(r)s),
                  avg(articles_new), count(*)
           FROM pipeline_runs
           WHERE run_id <> %(r)s AND status IN ('success', 'partial') AND finished_at IS NOT NULL
             AND started_at >= %(s)s - interval '7 days' AND started_at < %(s)s""",
        {"r": ref_id, "s": started},
    )
    new, mean, runs = cur.fetchone()
    if not runs:
        return CheckResult("new_articles_7d", True, f"{new} new article(s); no earlier run in the 7 days before to "
                                                   "compare with", new)
    mean = float(mean)
    detail = (f"{new} new article(s) in run {ref_id}; the {runs} run(s) of the 7 days before: {mean:.1f} on average "
              f"(fails below {mean / ratio:.1f}, ratio {ratio:g})")
    return CheckResult("new_articles_7d", not _dropped(new, mean, ratio), detail, new)


def run_checks(db_url: str, run_id: int | None = None, min_rate: float | None = None,
               settings: Settings | None = None) -> list[CheckResult]:
    """Run every check not turned off (read-only); return one result per check, failed ones included, each with
    its severity."""
    settings = settings or Settings.from_env()
    floor = settings.min_extract_rate if min_rate is None else min_rate
    severity = dict(settings.check_severity)
    conn = db.connect(db_url, application_name="crypto-news quality")
    try:
        conn.set_session(readonly=True)
        with conn.cursor() as cur:
            since = _run_started(cur, run_id)
            checks = {
                "canonical_url": lambda: check_canonical_url(cur, since),
                "label_set": lambda: check_label_set(cur, since),
                "published_future": lambda: check_published_future(cur, since),
                "extract_rate": lambda: check_extract_rate(cur, since, floor),
                "feed_succeeded": lambda: check_feed_succeeded(cur, run_id),
                "feeds_dead": lambda: check_feeds_dead(cur, settings.dead_feed_runs, settings.dead_feed_days),
                "page_share_7d": lambda: check_page_share_7d(cur, run_id, settings.drop_ratio),
                "new_articles_7d": lambda: check_new_articles_7d(cur, run_id, settings.drop_ratio),
            }
            results = [replace(check(), severity=severity.get(name, "fail")) for name, check in checks.items()
                       if severity.get(name, "fail") != "off"]
        conn.rollback()
    finally:
        conn.close()
    _send_metrics(results)
    return results


def _send_metrics(results: list[CheckResult]) -> None:
    from .. import metrics

    for r in results:
        metrics.gauge(metrics.name("check", r.name, "passed"), int(r.passed))
        if r.name == "feeds_dead" and r.value is not None:
            metrics.gauge("feeds.dead", r.value)


def warnings_of(results: list[CheckResult]) -> list[CheckResult]:
    return [r for r in results if not r.passed and r.severity != "fail"]


def assert_checks(results: list[CheckResult]) -> list[CheckResult]:
    failed = [r for r in results if not r.passed and r.severity == "fail"]
    if failed:
        raise QualityError(f"{len(failed)} data-quality check(s) failed: "
                           + "; ".join(f"{r.name} ({r.detail})" for r in failed))
    return results


def main(argv: list[str] | None = None) -> int:
    """``python -m crypto_news.warehouse.quality [--run-id N] [--json]``: exit 0 when every check passes, else 1."""
    p = argparse.ArgumentParser(prog="python -m crypto_news.warehouse.quality", description=__doc__.splitlines()[0])
    p.add_argument("--db-url", default=os.environ.get("CRYPTO_NEWS_DB_URL"), help="default: CRYPTO_NEWS_DB_URL")
    p.add_argument("--run-id", type=int, default=None, help="scope to one pipeline run (default: whole warehouse)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    if not args.db_url:
        print("crypto-news quality: set CRYPTO_NEWS_DB_URL or pass --db-url", file=sys.stderr)
        return 2
    results = run_checks(args.db_url, args.run_id)
    if args.json:
        print(json.dumps([asdict(r) for r in results]))
    else:
        for r in results:
            print(r.line())
    return 0 if all(r.passed or r.severity != "fail" for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
