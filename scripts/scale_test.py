#!/usr/bin/env python
"""Load a synthetic warehouse of N articles (default 1,000,000) and check that every example query uses indexes.

Creates its own database on the server, applies the migrations, generates in SQL (generate_series) three years of
articles with sources, classifications, labels and entities, plus feeds, runs and fetches, builds the secondary
indexes after the load (the usual bulk-load order), runs VACUUM ANALYZE, then for every file in sql/queries/
substitutes its \\set defaults and prints the EXPLAIN (ANALYZE, BUFFERS) summary: root plan node, whether any
sequential scan reads the articles table, the indexes used, and the execution time. Then the same for the queries
a BI tool sends to the marts (MART_CHECKS, each with a 200 ms budget), after timing two refreshes of the aggregate
marts (the first fills them, the second replaces them, as every run's refresh does). Drops the database at the end.

    .venv/bin/python scripts/scale_test.py [--rows 1000000] [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]
                                           [--keep] [--markdown] [--plans]

Exits 1 when a query sequentially scans articles. Needs a superuser (or the database owner with
session_replication_role rights) because foreign-key triggers are disabled during the synthetic load.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))

from psycopg2 import sql  # noqa: E402

from crypto_news.warehouse import db, migrations, scratch  # noqa: E402

QUERIES_DIR = ROOT / "sql" / "queries"
LOADED_TABLES = ("articles", "article_sources", "article_classifications", "article_labels", "article_entities")

# Vocabulary for synthetic text: crypto-news words (so that searches and stemming behave) and filler.
TOPIC_WORDS = (
    "bitcoin ether ethereum stablecoin token exchange custody wallet blockchain miners mining hashrate difficulty "
    "ban crackdown regulator regulation law bill parliament senate court lawsuit sec cftc license compliance tax "
    "etf approval adoption payments merchant treasury reserve institutional bank fund launch partnership defi "
    "staking validator halving energy power grid hydro texas china russia europe japan korea india brazil "
    "securities commodity enforcement fine sanction aml kyc consultation framework sandbox cbdc pilot"
).split()
FILLER_WORDS = (
    "the a of to and in on for with as by at from that this which after before while market price analysts said "
    "report week month year new first percent million billion according statement plans people official data "
    "shares company firm investors trading volume industry rules sector government minister central public"
).split()

SETUP_SQL = """
SET session_replication_role = replica;  -- no FK trigger per row during the synthetic load
SET maintenance_work_mem = '256MB';
SET work_mem = '64MB';
SET synchronous_commit = off;

CREATE TEMP TABLE vocab AS
SELECT array_agg(w) AS words FROM unnest({words}::text[]) AS w;

-- 600 paragraphs of 70 words each; an article's text is 2 of them (~1 KB).
CREATE TEMP TABLE paragraphs AS
SELECT p AS id,
       (SELECT string_agg(v.words[1 + floor(random() * array_length(v.words, 1))::int + 0 * g + 0 * p], ' ')
        FROM generate_series(1, 70) g) AS body
FROM generate_series(0, 599) p, vocab v;

INSERT INTO pipeline_runs (run_key, trigger, started_at, finished_at, status, feeds_total, feeds_ok, feeds_failed)
SELECT 'scale-' || d, 'bench', now() - make_interval(days => d), now() - make_interval(days => d) + interval '4 min',
       CASE WHEN d % 50 = 0 THEN 'partial' ELSE 'success' END, 40, 39, 1
FROM generate_series(1095, 0, -1) d;

INSERT INTO feeds (url, name, site_url)
SELECT 'https://feed' || f || '.example/rss', 'Feed ' || lpad(f::text, 2, '0'), 'https://feed' || f || '.example/'
FROM generate_series(1, 40) f;

INSERT INTO feed_fetches (run_id, feed_id, started_at, duration_ms, status, http_status, error_kind, error,
                          bytes, items_seen, items_new)
SELECT r.run_id, f.feed_id, r.started_at + make_interval(secs => f.feed_id),
       50 + (f.feed_id * 37 + r.run_id * 11) % 900,
       s.status, CASE s.status WHEN 'not_modified' THEN 304 WHEN 'error' THEN 503 ELSE 200 END,
       CASE WHEN s.status = 'error' THEN 'http_error' END, CASE WHEN s.status = 'error' THEN 'HTTP 503' END,
       CASE WHEN s.status = 'ok' THEN 80000 ELSE 0 END, 30, CASE WHEN s.status = 'ok' THEN 25 ELSE 0 END
FROM pipeline_runs r CROSS JOIN feeds f
CROSS JOIN LATERAL (SELECT CASE WHEN (r.run_id + f.feed_id) % 23 = 0 THEN 'error'
                                WHEN (r.run_id * f.feed_id) % 3 = 0 THEN 'not_modified'
                                ELSE 'ok' END AS status) s;
"""

ARTICLES_SQL = """
WITH v AS (SELECT {topic}::text[] AS topic)
INSERT INTO articles (article_id, canonical_url, url, guid, feed_id, first_run_id, title, summary, published_at,
                      published_source, published_flag, discovered_at, extract_state, extract_attempts, text,
                      text_source, word_count, content_hash, extracted_at, lang)
OVERRIDING SYSTEM VALUE
SELECT i, 'https://news.example/a/' || i, 'https://news.example/a/' || i || '?utm_source=rss', 'guid-' || i,
       1 + (i * 7) % 40, NULL,
       initcap(t1) || ' ' || t2 || ' ' || t3 || ': ' || initcap(v.topic[1 + (i * 13) % 70]) || ' ' ||
           v.topic[1 + (i * 17) % 70] || ' as ' || v.topic[1 + (i * 19) % 70] || ' ' ||
           v.topic[1 + (i * 23) % 70] || ' ' || (i % 1000)::text || ' report',
       left(p4.body, 300),
       CASE WHEN i % 20 = 0 THEN NULL ELSE ts END,
       CASE WHEN i % 20 = 0 THEN NULL ELSE 'feed' END,
       CASE WHEN i % 20 = 0 THEN 'missing' END,
       ts + interval '5 min',
       'done', 1,
       p1.body || E'\\n\\n' || p2.body,
       'page', 270,
       md5(CASE WHEN i % 100 = 1 THEN (i - 1)::text ELSE i::text END),
       ts + interval '10 min', 'en'
FROM generate_series({lo}::bigint, {hi}::bigint) i
CROSS JOIN v
JOIN paragraphs p1 ON p1.id = i % 600
JOIN paragraphs p2 ON p2.id = (i * 31 + 7) % 600
JOIN paragraphs p4 ON p4.id = (i * 29) % 600
CROSS JOIN LATERAL (SELECT now() - ({n} - i) * interval '3 years' / {n} - ((i * 7919) % 3600) * interval '1 second'
                    AS ts,
                    v.topic[1 + (i * 3) % 70] AS t1, v.topic[1 + (i * 5) % 70] AS t2, v.topic[1 + (i * 11) % 70] AS t3) x
"""

DETAIL_SQL = """
INSERT INTO article_sources (article_id, feed_id, guid, item_url, first_seen_at)
SELECT article_id, feed_id, guid, url, discovered_at FROM articles;
INSERT INTO article_sources (article_id, feed_id, guid, item_url, first_seen_at)
SELECT article_id, 1 + (feed_id + 12) % 40, guid, url, discovered_at + interval '1 hour'
FROM articles WHERE article_id % 10 = 0;

-- labels: regulation ~25 %, adoption ~20 %, mining ~10 % (independent, so some articles have several, many none)
INSERT INTO article_classifications (article_id, classifier_version, scores, classified_at)
SELECT article_id, 'scale-1',
       jsonb_build_object('regulation', round(((article_id * 37) % 100 / 100.0)::numeric, 4),
                          'adoption', round(((article_id * 53) % 100 / 100.0)::numeric, 4),
                          'mining', round(((article_id * 71) % 100 / 100.0)::numeric, 4)),
       extracted_at
FROM articles;
INSERT INTO article_labels (article_id, label, score, evidence, classifier_version, labelled_at)
SELECT c.article_id, l.label, (c.scores ->> l.label)::real, ARRAY['synthetic'], 'scale-1', c.classified_at
FROM article_classifications c
CROSS JOIN (VALUES ('regulation', 0.75), ('adoption', 0.80), ('mining', 0.90)) AS l(label, threshold)
WHERE (c.scores ->> l.label)::numeric >= l.threshold;

-- entities: a jurisdiction in ~40 % of articles (CN and US most often), a regulator in ~15 %, 1-2 assets in ~60 %
INSERT INTO article_entities (article_id, kind, entity_id, name, mentions)
SELECT article_id, 'jurisdiction', j.code[1 + (article_id * 7) % 12], j.code[1 + (article_id * 7) % 12],
       1 + article_id % 5
FROM articles, (SELECT ARRAY['CN','US','US','CN','GB','EU','JP','KR','IN','RU','SG','AE'] AS code) j
WHERE article_id % 5 < 2;
INSERT INTO article_entities (article_id, kind, entity_id, name, mentions)
SELECT article_id, 'regulator', r.code[1 + article_id % 6], r.code[1 + article_id % 6], 1 + article_id % 3
FROM articles, (SELECT ARRAY['US-SEC','US-CFTC','CN-PBOC','GB-FCA','EU-ESMA','INT-FATF'] AS code) r
WHERE article_id % 20 < 3;
INSERT INTO article_entities (article_id, kind, entity_id, name, mentions)
SELECT article_id, 'asset', a.code[1 + (article_id * 3) % 8], a.code[1 + (article_id * 3) % 8], 1 + article_id % 7
FROM articles, (SELECT ARRAY['BTC','ETH','BTC','USDT','SOL','XRP','BTC','ETH'] AS code) a
WHERE article_id % 5 < 3;
INSERT INTO article_entities (article_id, kind, entity_id, name, mentions)
SELECT article_id, 'asset', 'USDC', 'USDC', 1
FROM articles WHERE article_id % 5 = 0;
"""




# What a BI tool sends for the charts the marts exist for (docs/SCHEMA.md, "Marts at scale"): each must answer within
# MART_BUDGET_MS at 1,000,000 articles, without reading articles sequentially.
MART_BUDGET_MS = 200
MART_CHECKS = {
    "agg_label_daily, 30 days": """
        SELECT article_date, label, sum(article_count) AS articles
        FROM crypto_news_marts.agg_label_daily
        WHERE article_date >= (now() AT TIME ZONE 'UTC')::date - 30
        GROUP BY 1, 2 ORDER BY 1, 2""",
    "agg_entity_label_daily, US regulation, 30 days": """
        SELECT article_date, article_count
        FROM crypto_news_marts.agg_entity_label_daily
        WHERE entity_kind = 'jurisdiction' AND entity_id = 'US' AND label = 'regulation'
          AND article_date >= (now() AT TIME ZONE 'UTC')::date - 30
        ORDER BY 1""",
    "fct_article_entities, regulation + US, 7 days": """
        SELECT article_id, article_at, feed_name, outlet, mention_count
        FROM crypto_news_marts.fct_article_entities
        WHERE entity_kind = 'jurisdiction' AND entity_id = 'US' AND is_regulation
          AND article_at >= now() - interval '7 days'
        ORDER BY article_at DESC""",
    "fct_article_entities, regulation + US by date, 7 days": """
        SELECT article_date, count(*) AS articles
        FROM crypto_news_marts.fct_article_entities
        WHERE entity_kind = 'jurisdiction' AND entity_id = 'US' AND is_regulation
          AND article_date >= (now() AT TIME ZONE 'UTC')::date - 7
        GROUP BY 1 ORDER BY 1""",
    "dim_articles, regulation per date, 30 days": """
        SELECT article_date, count(*) AS articles
        FROM crypto_news_marts.dim_articles
        WHERE is_regulation AND article_date >= (now() AT TIME ZONE 'UTC')::date - 30
        GROUP BY 1 ORDER BY 1""",
    "fct_article_labels, per label and outlet, 30 days": """
        SELECT label, outlet, count(*) AS articles
        FROM crypto_news_marts.fct_article_labels
        WHERE article_at >= now() - interval '30 days'
        GROUP BY 1, 2 ORDER BY 1, 2""",
}


def query_files() -> list[Path]:
    return sorted(QUERIES_DIR.glob("*.sql"))


def substitute_defaults(text: str) -> str:
    """The statement of a psql file with its \\set defaults substituted (:'name' quoted, :name raw)."""
    values: dict[str, str] = {}
    body = []
    for line in text.splitlines():
        stripped = line.strip()
        m = re.match(r"^\\set\s+(\w+)\s+(.*)$", stripped)
        if m:
            raw = m.group(2).strip()
            values[m.group(1)] = raw[1:-1].replace("''", "'") if raw.startswith("'") and raw.endswith("'") else raw
            continue
        if stripped.startswith("\\") or stripped.startswith("--"):
            continue
        body.append(line)
    out = "\n".join(body)
    for name, value in values.items():
        out = out.replace(f":'{name}'", "'" + value.replace("'", "''") + "'")
        out = re.sub(rf"(?<![:\w]):{name}\b", value, out)
    return out.strip().rstrip(";")


def walk(node: dict):
    yield node
    for child in node.get("Plans", []):
        yield from walk(child)


def explain(conn, statement: str) -> dict:
    with conn.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement)
        plan = cur.fetchone()[0][0]
    conn.rollback()
    nodes = list(walk(plan["Plan"]))
    seq_articles = [n for n in nodes if n["Node Type"] == "Seq Scan" and n.get("Relation Name") == "articles"]
    seq_other = sorted({n["Relation Name"] for n in nodes if n["Node Type"] == "Seq Scan"} - {"articles"})
    indexes = sorted({n["Index Name"] for n in nodes if n.get("Index Name")})
    hit = sum(n.get("Shared Hit Blocks", 0) for n in [plan["Plan"]])
    read = sum(n.get("Shared Read Blocks", 0) for n in [plan["Plan"]])
    return {"root": plan["Plan"]["Node Type"], "seq_scan_articles": bool(seq_articles), "seq_scan_other": seq_other,
            "indexes": indexes, "ms": plan["Execution Time"], "rows": plan["Plan"].get("Actual Rows"),
            "buffers_hit": hit, "buffers_read": read}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="synthetic articles (default 1,000,000)")
    ap.add_argument("--admin-url", default=os.environ.get("CRYPTO_NEWS_TEST_PG",
                                                          "postgresql://postgres@127.0.0.1:5432/postgres"))
    ap.add_argument("--batch", type=int, default=100_000, help="articles per INSERT statement")
    ap.add_argument("--keep", action="store_true", help="keep the database (its name is printed)")
    ap.add_argument("--markdown", action="store_true", help="also print the results as a Markdown table")
    ap.add_argument("--plans", action="store_true", help="also print the plans of the BI queries on the marts")
    args = ap.parse_args(argv)

    url = scratch.create_scratch_database(args.admin_url, "cn_scale")
    t_all = time.monotonic()
    failed = False
    try:
        migrations.migrate(url)
        conn = db.connect(url, application_name="crypto-news scale test")
        cur = conn.cursor()
        timings = {}

        t = time.monotonic()
        cur.execute(sql.SQL(SETUP_SQL).format(words=sql.Literal(TOPIC_WORDS + FILLER_WORDS * 12)))
        conn.commit()
        # Secondary indexes are dropped for the load and rebuilt afterwards (constraint indexes stay).
        cur.execute(
            """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
               FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
               WHERE t.relnamespace = 'crypto_news'::regnamespace AND t.relname = ANY(%s)
                 AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)""",
            (list(LOADED_TABLES),),
        )
        secondary = cur.fetchall()
        for index_name, _ in secondary:
            cur.execute(sql.SQL("DROP INDEX {}").format(sql.SQL(index_name)))
        conn.commit()
        timings["setup"] = time.monotonic() - t

        t = time.monotonic()
        for lo in range(1, args.rows + 1, args.batch):
            hi = min(lo + args.batch - 1, args.rows)
            cur.execute(sql.SQL(ARTICLES_SQL).format(lo=sql.Literal(lo), hi=sql.Literal(hi), n=sql.Literal(args.rows),
                                                      topic=sql.Literal(TOPIC_WORDS)))
            conn.commit()
            print(f"  articles {hi:,}/{args.rows:,} ({time.monotonic() - t:.0f} s)", flush=True)
        cur.execute("SELECT setval(pg_get_serial_sequence('crypto_news.articles', 'article_id'), %s)", (args.rows,))
        conn.commit()
        timings["articles"] = time.monotonic() - t

        t = time.monotonic()
        cur.execute(DETAIL_SQL)
        conn.commit()
        timings["sources, classifications, labels, entities"] = time.monotonic() - t

        t = time.monotonic()
        for index_name, definition in secondary:
            t_i = time.monotonic()
            cur.execute(definition)
            conn.commit()
            print(f"  index {index_name}: {time.monotonic() - t_i:.1f} s", flush=True)
        timings["secondary indexes"] = time.monotonic() - t

        t = time.monotonic()
        conn.autocommit = True
        cur.execute("VACUUM (ANALYZE)")
        conn.autocommit = False
        timings["vacuum analyze"] = time.monotonic() - t

        # The pipeline recomputes the aggregate marts after each classification stage: the first refresh fills the
        # empty tables, the second is the steady state (the previous rows are deleted first).
        for step in ("marts refresh (first)", "marts refresh (again)"):
            t = time.monotonic()
            cur.execute("SELECT crypto_news_marts.refresh_aggregates()")
            mart_rows = cur.fetchone()[0]
            conn.commit()
            timings[step] = time.monotonic() - t
        conn.autocommit = True
        cur.execute("VACUUM (ANALYZE) crypto_news_marts.agg_label_daily, crypto_news_marts.agg_entity_label_daily")
        conn.autocommit = False
        print(f"  marts: {mart_rows:,} aggregate rows")

        cur.execute(
            """SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM article_labels),
                      (SELECT count(*) FROM article_entities), (SELECT count(*) FROM article_sources),
                      pg_size_pretty(pg_total_relation_size('articles')), pg_size_pretty(pg_database_size(current_database()))"""
        )
        n_articles, n_labels, n_entities, n_sources, articles_size, db_size = cur.fetchone()
        conn.commit()
        print(f"\nloaded {n_articles:,} articles, {n_labels:,} labels, {n_entities:,} entities, {n_sources:,} sources; "
              f"articles {articles_size} (with indexes and TOAST), database {db_size}")
        for step, seconds in timings.items():
            print(f"  {step}: {seconds:.1f} s")

        results = []
        for path in query_files():
            statement = substitute_defaults(path.read_text(encoding="utf-8"))
            explain(conn, statement)  # warm the cache once, then measure
            r = explain(conn, statement)
            r["query"] = path.name
            results.append(r)
            failed |= r["seq_scan_articles"]

        mart_results = []
        for name, statement in MART_CHECKS.items():
            explain(conn, statement)
            r = explain(conn, statement)
            r["query"] = name
            mart_results.append(r)
            failed |= r["seq_scan_articles"]

        print(f"\n{'query':<28} {'root node':<14} {'seq scan on articles':<21} {'time ms':>9}  indexes used")
        for r in results:
            print(f"{r['query']:<28} {r['root']:<14} {'YES' if r['seq_scan_articles'] else 'no':<21} "
                  f"{r['ms']:>9.1f}  {', '.join(r['indexes'])}"
                  + (f"  (seq scan on: {', '.join(r['seq_scan_other'])})" if r["seq_scan_other"] else ""))
        if args.markdown:
            print("\n| query | plan root | seq scan on articles | execution time (ms) | indexes used |")
            print("|---|---|---|---:|---|")
            for r in results:
                print(f"| {r['query']} | {r['root']} | {'yes' if r['seq_scan_articles'] else 'no'} | {r['ms']:.1f} | "
                      f"{', '.join(r['indexes'])} |")
        print(f"\nBI queries on crypto_news_marts (budget {MART_BUDGET_MS} ms)")
        for r in mart_results:
            print(f"{r['query']:<56} {r['root']:<14} {'YES' if r['seq_scan_articles'] else 'no':<4} "
                  f"{r['ms']:>9.1f} {'ok' if r['ms'] < MART_BUDGET_MS else 'OVER':<5} {', '.join(r['indexes'])}"
                  + (f"  (seq scan on: {', '.join(r['seq_scan_other'])})" if r["seq_scan_other"] else ""))
        if args.markdown:
            print("\n| BI query | plan root | seq scan on articles | execution time (ms) | indexes used |")
            print("|---|---|---|---:|---|")
            for r in mart_results:
                print(f"| {r['query']} | {r['root']} | {'yes' if r['seq_scan_articles'] else 'no'} | {r['ms']:.1f} | "
                      f"{', '.join(r['indexes'])} |")
        if args.plans:
            for name, statement in MART_CHECKS.items():
                with conn.cursor() as pcur:
                    pcur.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) " + statement)
                    print(f"\n-- {name}\n" + "\n".join(row[0] for row in pcur.fetchall()))
                conn.rollback()
        print(json.dumps({"rows": args.rows, "total_s": round(time.monotonic() - t_all, 1),
                          "results": results, "marts": mart_results}, default=str) if os.environ.get("SCALE_TEST_JSON") else "", end="")
        conn.close()
    finally:
        if args.keep:
            print(f"\nkept database {urlsplit(url).path.lstrip('/')}")
        else:
            scratch.drop_database(args.admin_url, url)
    print(f"\ntotal {time.monotonic() - t_all:.0f} s; "
          + ("FAIL: a query scans the articles table sequentially" if failed else "every query uses indexes on articles"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
