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
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, dataclass

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

    def line(self) -> str:
        return f"{'PASS' if self.passed else 'FAIL'} {self.name}: {self.detail}"


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


def run_checks(db_url: str, run_id: int | None = None, min_rate: float | None = None) -> list[CheckResult]:
    """Run every check (read-only); return one result per check, failed ones included."""
    floor = min_extract_rate() if min_rate is None else min_rate
    conn = db.connect(db_url, application_name="crypto-news quality")
    try:
        conn.set_session(readonly=True)
        with conn.cursor() as cur:
            since = _run_started(cur, run_id)
            results = [
                check_canonical_url(cur, since),
                check_label_set(cur, since),
                check_published_future(cur, since),
                check_extract_rate(cur, since, floor),
                check_feed_succeeded(cur, run_id),
            ]
        conn.rollback()
        return results
    finally:
        conn.close()


def assert_checks(results: list[CheckResult]) -> list[CheckResult]:
    failed = [r for r in results if not r.passed]
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
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
