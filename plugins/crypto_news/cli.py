"""The ``crypto-news`` command line: ops and analysts without Airflow.

Exit codes: 0 success (also a partial run where some feeds failed); 1 the run failed as a whole (every feed failed,
a stage raised, or a data-quality check failed); 2 bad usage or configuration, bad input, or the database is
unreachable; 3 ``db status`` of an embedded database that is stopped (or not created yet).
Failures print one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

from .config import PROJECT_ROOT, Settings


class CliError(Exception):
    """A failure to report in one line; ``code`` is the exit status."""

    def __init__(self, message: str, code: int = 2):
        super().__init__(message)
        self.code = code


def resolve_db_url(settings: Settings) -> str:
    """CRYPTO_NEWS_DB_URL when set, else the embedded project-local cluster (created and started on first use)."""
    if settings.db_url:
        return settings.db_url
    from .warehouse import embedded

    try:
        return embedded.ensure()
    except embedded.EmbeddedDbError as exc:
        raise CliError(f"no database: CRYPTO_NEWS_DB_URL is not set and the embedded default failed: {exc}") from None


# --- summaries -----------------------------------------------------------------------------------------------------------

def format_summary(s: dict) -> str:
    lines = [
        f"crypto-news run {s['run_id']} ({s['trigger']}): {s['status'].upper()}",
        f"  feeds: {s['feeds_total']} total, {s['feeds_ok']} ok, {s['feeds_not_modified']} not modified, "
        f"{s['feeds_failed']} failed",
        f"  items seen: {s['items_seen']}, new articles: {s['articles_new']}, extracted: {s['articles_extracted']}, "
        f"classified: {s['articles_classified']}, labels written: {s['labels_written']}",
        f"  from sitemaps: {s.get('items_backfilled') or 0}, feeds with a gap: {s.get('feeds_with_gap') or 0}",
    ]
    if s.get("error"):
        lines.append(f"  error: {s['error']}")
    if "quality_checks" in s:
        lines.append(f"  quality checks: {len(s['quality_checks'])} run, "
                     + ("; ".join(s["failed_checks"]) if s.get("failed_checks") else "all passed"))
    width = max((len(f["name"]) for f in s.get("feeds", [])), default=4)
    lines.append("")
    lines.append(f"  {'feed':<{width}}  {'status':<12} {'seen':>5} {'new':>5} {'sitemap':>7} {'gap':>5}  error")
    for f in s.get("feeds", []):
        err = f"{f['error_kind']}: {f['error']}" if f.get("error_kind") else ""
        if f.get("sitemap_error_kind"):
            err = (err + "; " if err else "") + f"{f['sitemap_error_kind']}: {f.get('sitemap_error') or ''}"
        gap = {True: "yes", False: "no"}.get(f.get("gap"), "-")
        lines.append(f"  {f['name']:<{width}}  {f['status']:<12} {f['items_seen']:>5} {f['items_new']:>5} "
                     f"{f.get('items_backfilled') or 0:>7} {gap:>5}  {err}")
    return "\n".join(lines)


def _json_summary(s: dict) -> dict:
    keep = ("run_id", "run_key", "trigger", "status", "started_at", "finished_at", "error", "feeds_total", "feeds_ok",
            "feeds_not_modified", "feeds_failed", "items_seen", "articles_new", "articles_extracted",
            "articles_classified", "labels_written", "items_backfilled", "feeds_with_gap")
    out = {k: s.get(k) for k in keep}
    for key in ("stage_seconds", "quality_checks", "failed_checks"):
        if s.get(key) is not None:
            out[key] = s[key]
    out["feeds"] = [{k: f.get(k) for k in ("name", "url", "status", "error_kind", "error", "items_seen", "items_new",
                                           "items_backfilled", "gap", "sitemap_error_kind")}
                    for f in s.get("feeds", [])]
    return out


def _exit_for(summary: dict) -> int:
    if summary.get("status") == "failed":
        print(f"crypto-news: run failed: {summary.get('error') or 'see the summary'}", file=sys.stderr)
        return 1
    if summary.get("failed_checks"):  # the run is recorded, but its data breaks a rule
        for failed in summary["failed_checks"]:
            print(f"crypto-news: {failed}", file=sys.stderr)
        return 1
    return 0


# --- commands --------------------------------------------------------------------------------------------------------------

def cmd_migrate(args, settings):
    from .warehouse import migrations

    url = resolve_db_url(settings)
    applied = migrations.migrate(url)
    print(f"applied: {', '.join(applied)}" if applied else "database is up to date")
    return 0


def cmd_run(args, settings):
    from . import pipeline
    from .warehouse import runlock

    feeds = Path(args.feeds) if args.feeds else settings.feeds_file
    pipeline.check_config(feeds)  # a configuration error stops here, before a run is recorded
    url = resolve_db_url(settings)
    try:
        summary = pipeline.run(url, feeds, settings)
    except runlock.RunInProgress as exc:
        raise CliError(str(exc), 1) from None
    print(json.dumps(_json_summary(summary), indent=None if args.json else 2) if args.json else format_summary(summary))
    return _exit_for(summary)


def _day(value: str, flag: str):
    from datetime import datetime, timezone

    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise CliError(f"{flag} must be an ISO date such as 2026-01-31, got {value!r}") from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def cmd_backfill(args, settings):
    from . import pipeline
    from .warehouse import runlock

    since = _day(args.since, "--since")
    until = _day(args.until, "--until") if args.until else None
    if until is not None and until <= since:
        raise CliError("--until must be after --since")
    url = resolve_db_url(settings)
    feeds = Path(args.feeds) if args.feeds else settings.feeds_file
    try:
        result = pipeline.backfill(url, since, until, feeds, settings)
    except runlock.RunInProgress as exc:
        raise CliError(str(exc), 1) from None
    if args.json:
        print(json.dumps(result))
    else:
        print(f"backfill {result['since']} .. {result['until'] or 'now'}: {result['items_found']} archived articles "
              f"in range, {result['items_new']} new, {result['articles_extracted']} extracted")
        for f in result["feeds"]:
            print(f"  {f['name']}: {f['status']}, {f['items_found']} found, {f['items_new']} new"
                  + (f"  ({'; '.join(f['errors'])})" if f["errors"] else ""))
    return 1 if result["feeds"] and all(f["status"] in ("error", "no_archive") for f in result["feeds"]) else 0


def cmd_summary(args, settings):
    from .warehouse import db, runs

    url = resolve_db_url(settings)
    conn = db.connect(url)
    try:
        summary = runs.load_run_summary(conn, args.run_id, args.trigger)
    finally:
        conn.close()
    if not summary:
        raise CliError("no finished run recorded yet", 1)
    print(json.dumps(_json_summary(summary)) if args.json else format_summary(summary))
    return _exit_for(summary)


def _open_in(path: str):
    return sys.stdin if path in ("-", None) else open(path, encoding="utf-8")


CLASSIFY_FIELDS = ("title", "summary", "text")


def checked_jsonl(lines, source: str):
    """The lines of a JSON Lines input, each checked before it is used: a bad one stops the command with its line
    number and what is wrong with it (exit 2), rather than a traceback from deep in the classifier."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            yield line
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CliError(f"{source} line {number}: not valid JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(item, dict):
            raise CliError(f"{source} line {number}: expected a JSON object with title, summary, text, got "
                           f"{type(item).__name__ if item is not None else 'null'}")
        for key in CLASSIFY_FIELDS:
            if item.get(key) is not None and not isinstance(item[key], str):
                raise CliError(f"{source} line {number}: {key!r} must be a string or null, got "
                               f"{type(item[key]).__name__}")
        yield line


def cmd_classify(args, settings):
    from .classify import classify_jsonl

    source = "stdin" if args.file in ("-", None) else args.file
    with _open_in(args.file) as fin:
        classify_jsonl(checked_jsonl(fin, source), sys.stdout)
    return 0


def cmd_eval(args, settings):
    from .classify import evaluate, format_evaluation

    with _open_in(args.file) as fin:
        items = [json.loads(line) for line in fin if line.strip()]
    if args.no_body:  # what the headline alone gives: the body's share of the figures
        items = [{**item, "text": None} for item in items]
    if args.rules:
        from .classify import RuleScorer

        print(format_evaluation(evaluate(items, RuleScorer())))
    else:
        print(format_evaluation(evaluate(items)))
    return 0


def cmd_extract(args, settings):
    from .extract import analyse_page

    if args.html:
        for path in args.html:
            body = Path(path).read_bytes()
            page, text = analyse_page(body, args.url or Path(path).resolve().as_uri())
            print(json.dumps({"url": args.url or str(path), **_page_json(page, text)}, ensure_ascii=False))
        return 0
    if not args.target:
        raise CliError("give a URL, or --html FILE...")
    from .fetch import FetchError, HttpClient

    code = 0
    with HttpClient(settings) as client:
        for target in args.target:
            try:
                resp = client.get(target)
            except FetchError as exc:
                print(json.dumps({"url": target, "status": exc.kind, "error": str(exc)}))
                code = 1
                continue
            page, text = analyse_page(resp.body, resp.final_url, resp.headers.get("content-type"))
            print(json.dumps({"url": resp.final_url, **_page_json(page, text)}, ensure_ascii=False))
    return code


def cmd_reclassify(args, settings):
    from . import pipeline
    from .classify import get_classifier

    url = resolve_db_url(settings)
    counts = pipeline.classify_articles(url, None, batch_size=args.batch, workers=settings.extract_workers)
    print(json.dumps({"classifier_version": get_classifier().version, **counts}))
    return 0


def cmd_reextract(args, settings):
    from datetime import datetime, timezone

    from . import pipeline

    since = None
    if args.since:
        try:
            since = datetime.fromisoformat(args.since)
        except ValueError:
            raise CliError(f"--since must be an ISO date such as 2026-01-31, got {args.since!r}") from None
        since = since if since.tzinfo else since.replace(tzinfo=timezone.utc)
    url = resolve_db_url(settings)
    counts = pipeline.reextract_articles(url, since, settings)
    relabelled = pipeline.classify_articles(url, None, workers=settings.extract_workers)
    print(json.dumps({"reextracted": counts, "reclassified": relabelled["articles"]}))
    return 0


def cmd_retention(args, settings):
    from .warehouse import maintenance

    url = resolve_db_url(settings)
    print(json.dumps(maintenance.prune_page_archive(url, settings)))
    return 0


def cmd_feeds(args, settings):
    from .warehouse import db, feeds, migrations

    url = resolve_db_url(settings)
    migrations.migrate(url)
    conn = db.connect(url)
    try:
        cols, rows = feeds.feed_health(conn)
    finally:
        conn.close()
    if args.json:
        print(json.dumps(rows, default=str))
        return 0
    show = [c for c in ("feed_name", "last_status", "last_error_kind", "last_success_at", "consecutive_failures",
                        "not_modified_ratio_30d", "avg_latency_ms", "items_per_day_7d", "articles_total",
                        "window_hours", "items_per_day", "gaps_7d", "gaps_30d", "next_check_at") if c in cols]
    table = [[_cell(r.get(c)) for c in show] for r in rows]
    widths = [max([len(c)] + [len(t[i]) for t in table]) for i, c in enumerate(show)]
    print("  ".join(c.ljust(w) for c, w in zip(show, widths, strict=True)))
    for t in table:
        print("  ".join(v.ljust(w) for v, w in zip(t, widths, strict=True)))
    return 0


def _cell(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.2f}"
    if hasattr(v, "strftime"):
        return v.strftime("%Y-%m-%d %H:%M")
    return str(v)


def _page_json(page, text: str | None = None) -> dict:
    """The page as JSON. A paywall teaser's text is shown (it is the start of the article, and the status says
    what it is); the text of a blocked page (bot challenge, cookie wall) is not."""
    d = page.to_dict()
    if not d.get("text") and page.status == "paywall_or_teaser" and text:
        d["text"] = text
    keys = ("title", "author", "published", "lang", "text", "status")
    return {**{k: d.get(k) for k in keys}, **{k: v for k, v in d.items() if k not in keys}}


DB_STOPPED = 3  # `db status` of a stopped (or not yet created) database, as `pg_ctl status` and LSB init scripts


def cmd_db(args, settings):
    from .warehouse import embedded

    try:
        if args.action == "status":  # never starts it: the answer is about the database as it is
            state, detail = embedded.status()
            if state == "running":
                print(f"running: {_masked(detail)}")
                return 0
            print(f"stopped ({'not created yet: ' if state == 'not created' else ''}{detail})")
            return DB_STOPPED
        if args.action == "stop":
            print(embedded.stop())
        elif args.action == "start":
            print(f"embedded database running: {_masked(embedded.ensure())}")
        else:
            print(embedded.ensure())
    except embedded.EmbeddedDbError as exc:
        raise CliError(str(exc)) from None
    return 0


def _masked(url: str) -> str:
    from .warehouse.db import mask_url

    return mask_url(url)


def cmd_airflow_run(args, settings):
    """Run the daily DAG once through Airflow (``airflow dags test``) with a throwaway local Airflow home."""
    from . import pipeline
    from .warehouse import db, migrations, runs

    feeds = Path(args.feeds or settings.feeds_file).resolve()
    pipeline.check_config(feeds)  # before anything starts: a configuration error is one line and exit 2
    url = resolve_db_url(settings)
    migrations.migrate(url)
    home = PROJECT_ROOT / ".local" / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    airflow = Path(sys.executable).parent / "airflow"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # INFO for the pipeline's own lines (each task's start and end, feeds, progress of long stages); Airflow's
        # internals at WARNING, and not the deprecation and optional-package warnings of its dependencies
        # (graphviz, pathspec, httpx), which say nothing about this run. The task process's stdlib handler
        # filters at LOGGING_LEVEL, so the pipeline's INFO lines need it at INFO.
        "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("AIRFLOW__LOGGING__LOGGING_LEVEL",
                                                          "WARNING" if args.quiet else "INFO"),
        "AIRFLOW__LOGGING__NAMESPACE_LEVELS": os.environ.get(
            "AIRFLOW__LOGGING__NAMESPACE_LEVELS",
            "" if args.verbose else "airflow=WARNING task=WARNING py.warnings=ERROR"),
        "AIRFLOW_CONN_CRYPTO_NEWS_DB": url,
        "CRYPTO_NEWS_FEEDS": str(feeds),
        # no deadline: a single local run has nobody to tell, and Airflow 3.3.2's `dags test` cannot finish a
        # run of a DAG with one (it looks the deadline up by its definition instead of its stored id)
        "CRYPTO_NEWS_RUN_DEADLINE_MIN": "0",
        "PATH": f"{airflow.parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env.pop("CRYPTO_NEWS_DB_URL", None)  # the DAG must use the Airflow Connection
    import airflow as airflow_pkg

    stamp = home / f".migrated-{airflow_pkg.__version__}"
    if not stamp.exists():
        print("preparing the local Airflow metadata database (first run only)...", file=sys.stderr)
        proc = subprocess.run([str(airflow), "db", "migrate"], env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise CliError("airflow db migrate failed: " + " | ".join(proc.stderr.strip().splitlines()[-3:]), 1)
        stamp.touch()
    # The pool of the DAG's HTTP tasks (fetch, extract); `set` creates or resizes it, so this is idempotent.
    slots = os.environ.get("CRYPTO_NEWS_HTTP_POOL_SLOTS", "").strip() or "4"
    proc = subprocess.run([str(airflow), "pools", "set", "crypto_news_http", slots, "crypto-news HTTP tasks"],
                          env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise CliError("airflow pools set failed: " + " | ".join(proc.stderr.strip().splitlines()[-3:]), 1)
    conn = db.connect(url)
    try:
        last_before = runs.latest_run_id(conn, "airflow")
    finally:
        conn.close()
    dag_run = _dags_test([str(airflow), "dags", "test", "crypto_news_daily"], env, verbose=args.verbose)
    conn = db.connect(url)
    try:
        summary = runs.load_run_summary(conn, trigger="airflow")
    finally:
        conn.close()
    if summary is None or summary.get("run_id") == last_before:  # an older run's summary would mislead
        raise CliError(f"the Airflow DAG run failed before recording a run (airflow exited {dag_run.returncode}); "
                       "see the log above", 1)
    print(json.dumps(_json_summary(summary)) if args.json else format_summary(summary))
    code = _exit_for(summary)
    if dag_run.returncode != 0 and code == 0:
        print(f"crypto-news: the Airflow DAG run failed (exit {dag_run.returncode}) after recording run "
              f"{summary['run_id']} as {summary['status']}; see the log above", file=sys.stderr)
        code = 1
    return code


EXPECTED_FAILURES = ("airflow.sdk.exceptions.AirflowFailException: ",)


def fold_expected_tracebacks(lines):
    """Airflow's lines without the traceback of an expected failure.

    Airflow's task runner logs every failed task with its traceback ("Task failed with exception"), and no
    setting turns that off. A failure the pipeline raises on purpose (``AirflowFailException``: a configuration
    error, a failed run, a failed check) is already one line from the task (``crypto-news task failed: ...
    error=...``), and its traceback only shows Airflow's own frames; it is dropped here, keeping its last line.
    Any other exception keeps its whole traceback: that one is a bug to read."""
    held: list[str] = []
    for line in lines:
        if held:
            held.append(line)
            if line.startswith((" ", "\t")) or line.strip() in ("", "^") or line.startswith("Traceback"):
                continue  # still inside the traceback: frames and their source lines
            if line.startswith(EXPECTED_FAILURES):
                yield line
            else:
                yield from held
            held = []
        elif line.startswith("Traceback (most recent call last):"):
            held = [line]
        else:
            yield line
    yield from held


def _dags_test(cmd: list[str], env: dict, verbose: bool) -> subprocess.CompletedProcess:
    """``airflow dags test``, its output on stderr (stdout is the summary's); with ``-v`` untouched, else with the
    tracebacks of expected failures folded away."""
    if verbose:
        return subprocess.run(cmd, env=env, stderr=subprocess.STDOUT)
    with subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          errors="replace", bufsize=1) as proc:
        assert proc.stdout is not None
        for line in fold_expected_tracebacks(proc.stdout):
            sys.stderr.write(line)
            sys.stderr.flush()
    return subprocess.CompletedProcess(cmd, proc.returncode)


def cmd_airflow_local(args, settings):
    """Airflow on this machine, without Docker: ``start`` (the UI on 127.0.0.1, the DAGs scheduled) or ``stop``."""
    from .orchestration import local

    try:
        if args.action == "stop":
            stopped = local.stop()
            print(f"stopped: {', '.join(stopped)}" if stopped else "local Airflow is not running")
            return 0
        from .warehouse import migrations

        url = resolve_db_url(settings)
        migrations.migrate(url)
        ui = local.start(url, port=args.port, pool_slots=args.pool_slots)
    except local.LocalAirflowError as exc:
        raise CliError(str(exc), 1) from None
    print(f"Airflow is running: {ui} (no login; LocalExecutor, {local.parallelism()} task processes; "
          f"logs in {local.HOME / 'logs'}); stop it with: make airflow-stop")
    return 0


# --- entry point ------------------------------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="crypto-news", description=__doc__.split("\n\n")[0])
    p.add_argument("-v", "--verbose", action="store_true", help="log what each stage does to stderr")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines (errors and warnings only)")
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("migrate", help="apply pending database migrations").set_defaults(func=cmd_migrate)

    r = sub.add_parser("run", help="one whole pipeline run, in-process")
    r.add_argument("--feeds", help="feed list (default: CRYPTO_NEWS_FEEDS or config/feeds.yml)")
    r.add_argument("--json", action="store_true", help="print one JSON object instead of the readable summary")
    r.set_defaults(func=cmd_run)

    a = sub.add_parser("airflow-run", help="run the daily DAG once through Airflow (airflow dags test)")
    a.add_argument("--feeds", help="feed list (default: CRYPTO_NEWS_FEEDS or config/feeds.yml)")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=cmd_airflow_run)

    al = sub.add_parser("airflow-local", help="Airflow on this machine without Docker: start (UI on 127.0.0.1) "
                                              "or stop (make airflow / make airflow-stop)")
    al.add_argument("action", choices=["start", "stop"])
    al.add_argument("--port", type=int, default=int(os.environ.get("AIRFLOW_PORT") or 8080))
    al.add_argument("--pool-slots", type=int, default=2, help="slots of the pool crypto_news_http (default 2)")
    al.set_defaults(func=cmd_airflow_local)
    bf = sub.add_parser("backfill", help="load past days' articles from the sites' archive sitemaps")
    bf.add_argument("--since", required=True, help="first day (ISO 8601 date or time, UTC unless given)")
    bf.add_argument("--until", help="end, exclusive (default: no end)")
    bf.add_argument("--feeds", default=None)
    bf.add_argument("--json", action="store_true")
    bf.set_defaults(func=cmd_backfill)

    s = sub.add_parser("summary", help="print the summary of the latest (or a given) run")
    s.add_argument("--run-id", type=int)
    s.add_argument("--trigger", choices=["cli", "airflow", "test", "bench"])
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_summary)

    c = sub.add_parser("classify", help="label JSON Lines items (id, title, summary, text)")
    c.add_argument("file", nargs="?", default="-")
    c.set_defaults(func=cmd_classify)

    e = sub.add_parser("eval-classifier", help="precision, recall and F1 per label on a labelled JSON Lines file")
    e.add_argument("file", help="JSON Lines with title, summary, text (optional) and labels; - for stdin")
    e.add_argument("--no-body", action="store_true", help="ignore the items' text (headline and summary only)")
    e.add_argument("--rules", action="store_true", help="the taxonomy's phrase rules alone (the baseline)")
    e.set_defaults(func=cmd_eval)

    x = sub.add_parser("extract", help="extract article text from saved pages or URLs")
    x.add_argument("target", nargs="*", help="URL(s) to fetch and extract")
    x.add_argument("--html", nargs="+", metavar="FILE", help="saved HTML file(s)")
    x.add_argument("--url", help="the page's URL, for the files given with --html")
    x.set_defaults(func=cmd_extract)

    rc = sub.add_parser("reclassify", help="re-label every article whose labels come from another classifier version")
    rc.add_argument("--batch", type=int, default=1000)
    rc.set_defaults(func=cmd_reclassify)

    rx = sub.add_parser("reextract", help="re-run extraction over archived pages, without network access")
    rx.add_argument("--since", help="only articles discovered on or after this date (ISO 8601)")
    rx.set_defaults(func=cmd_reextract)

    rt = sub.add_parser("retention", help="apply the raw page archive's retention settings")
    rt.set_defaults(func=cmd_retention)

    fh = sub.add_parser("feeds", help="feed health: last status, last success, failures in a row, 304 ratio, ...")
    fh.add_argument("--json", action="store_true")
    fh.set_defaults(func=cmd_feeds)

    d = sub.add_parser("db", help="the embedded project-local database: start, stop, status (prints running or "
                                  "stopped; exit 0 or 3; never starts it), url (starts it when stopped)")
    d.add_argument("action", choices=["start", "stop", "status", "url"])
    d.set_defaults(func=cmd_db)
    return p


class _MaskingFormatter(logging.Formatter):
    """Log lines (and the tracebacks they carry) without the database password, whatever form it was given in."""

    def format(self, record: logging.LogRecord) -> str:
        from .warehouse.db import mask_secrets

        return mask_secrets(super().format(record))


def _say(message: str) -> None:
    from .warehouse.db import mask_secrets

    print(f"crypto-news: {mask_secrets(' '.join(str(message).split()))}", file=sys.stderr)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's own flush at exit does not fail on the closed pipe
    again and print "Exception ignored ... BrokenPipeError"."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_MaskingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, handlers=[handler])
    if not args.quiet:  # long stages say how far they are (a bar on a terminal, else a line every 10 % or 10 s)
        logging.getLogger("crypto_news.progress").setLevel(logging.INFO)
    import psycopg2

    from .warehouse.db import DatabaseError, register_secret

    register_secret(os.environ.get("CRYPTO_NEWS_DB_URL"))  # masked in every line printed from here on
    try:
        settings = Settings.from_env()  # read once, passed down
        code = args.func(args, settings)
        sys.stdout.flush()  # here, not at exit, so that a closed pipe is seen below
        return code
    except BrokenPipeError:  # the reader stopped early (`| head -1`): what it wanted was printed
        _quiet_stdout()
        return 141  # what a shell reports for a command ended by SIGPIPE
    except CliError as exc:
        _say(str(exc))
        return exc.code
    except DatabaseError as exc:
        _say(str(exc))
        return 2
    except psycopg2.Error as exc:  # the database failed mid-command: one line, no secrets
        _say(f"database error: {exc}")
        return 1
    except (ValueError, OSError) as exc:
        _say(str(exc))
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
