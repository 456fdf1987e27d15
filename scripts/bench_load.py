#!/usr/bin/env python
"""Compare loading articles row by row (one INSERT and one COMMIT per article: the naive way) with the pipeline's
batched path (crypto_news.warehouse.feeds.record_fetch: execute_values pages of 500 rows, one transaction per feed fetch).

Creates a fresh database on the server, applies the migrations (so the load pays for every index, the generated
full-text column and the foreign keys, as in production), generates synthetic feed items of realistic size
(title ~80 characters, summary ~300, full content ~5 KB), loads them both ways into emptied tables, prints both rates
and their ratio, and drops the database.

    .venv/bin/python scripts/bench_load.py [--rows 50000] [--items-per-fetch 1000]
                                           [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))


from crypto_news.model import (  # noqa: E402 - after the sys.path line
    FeedItem,  # noqa: E402
    FeedOutcome,  # noqa: E402
)
from crypto_news.warehouse import db, migrations, runs, scratch  # noqa: E402 - after the sys.path line
from crypto_news.warehouse import feeds as feed_rows  # noqa: E402 - after the sys.path line

WORDS = (
    "bitcoin ether stablecoin exchange custody wallet blockchain miners mining hashrate ban regulator regulation law "
    "bill court lawsuit license compliance etf approval adoption payments treasury reserve bank fund launch defi "
    "the a of to and in on for with as by at from that this which after market price analysts said report week "
    "month year percent million billion according statement plans official investors trading volume rules sector"
).split()

NAIVE_ARTICLE_SQL = """
    INSERT INTO articles (canonical_url, url, guid, feed_id, first_run_id, title, summary, feed_content, author,
                          feed_categories, published_at, published_source, published_flag)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s::text[], %s, %s, %s)
    ON CONFLICT (canonical_url) DO NOTHING RETURNING article_id
"""
NAIVE_SOURCE_SQL = """
    INSERT INTO article_sources (article_id, feed_id, guid, item_url, first_run_id) VALUES (%s, %s, %s, %s, %s)
    ON CONFLICT (article_id, feed_id) DO NOTHING
"""




def text_of(rng: random.Random, chars: int) -> str:
    out, size = [], 0
    while size < chars:
        w = rng.choice(WORDS)
        out.append(w)
        size += len(w) + 1
    return " ".join(out)[:chars]


def make_items(n: int, seed: int = 7) -> list[FeedItem]:
    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    items = []
    for i in range(n):
        url = f"https://news{i % 40}.example/{now:%Y/%m}/story-{i}"
        items.append(FeedItem(
            url=url + "?utm_source=rss", canonical_url=url, guid=f"guid-{i}",
            title=text_of(rng, 80).capitalize(), summary=text_of(rng, 300), content=text_of(rng, 5000),
            author="Staff reporter", categories=["markets", "policy"], published_at=now - timedelta(minutes=i),
            published_flag=None,
        ))
    return items


def reset(conn) -> None:
    with conn.cursor() as cur:
        cur.execute("TRUNCATE articles, article_sources, feed_fetches RESTART IDENTITY CASCADE")
    conn.commit()
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("VACUUM ANALYZE articles")
    conn.autocommit = False


def load_naive(conn, run_id: int, feed_id: int, items: list[FeedItem]) -> float:
    started = time.monotonic()
    with conn.cursor() as cur:
        for i in items:
            cur.execute(NAIVE_ARTICLE_SQL, (i.canonical_url, i.url, i.guid, feed_id, run_id, i.title, i.summary,
                                            i.content, i.author, i.categories, i.published_at, "feed", None))
            row = cur.fetchone()
            if row:
                cur.execute(NAIVE_SOURCE_SQL, (row[0], feed_id, i.guid, i.url, run_id))
            conn.commit()
    return time.monotonic() - started


def load_batched(conn, run_id: int, feed_id: int, items: list[FeedItem], per_fetch: int) -> float:
    started = time.monotonic()
    feed = {"feed_id": feed_id}
    for k in range(0, len(items), per_fetch):
        outcome = FeedOutcome(status="ok", http_status=200, items=items[k:k + per_fetch], duration_ms=1)
        feed_rows.record_fetch(conn, run_id, feed, outcome)  # commits
    return time.monotonic() - started


def count(conn) -> tuple[int, int]:
    with conn.cursor() as cur:
        cur.execute("SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM article_sources)")
        result = cur.fetchone()
    conn.commit()
    return result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--items-per-fetch", type=int, default=1000,
                    help="items per record_fetch call (one feed fetch, one transaction)")
    ap.add_argument("--admin-url", default=os.environ.get("CRYPTO_NEWS_TEST_PG",
                                                          "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = ap.parse_args(argv)

    items = make_items(args.rows)
    payload = sum(len(i.title) + len(i.summary) + len(i.content) for i in items) / len(items)
    print(f"{args.rows:,} synthetic items, {payload / 1024:.1f} KB of text each on average")

    url = scratch.create_scratch_database(args.admin_url, "cn_bench_load")
    try:
        migrations.migrate(url)
        conn = db.connect(url, application_name="crypto-news bench load")
        with conn.cursor() as cur:
            cur.execute("INSERT INTO feeds (url, name) VALUES (%s, %s) RETURNING feed_id",
                        ("https://bench.example/rss", "bench"))
            feed_id = cur.fetchone()[0]
        conn.commit()
        run_id = runs.start_run(conn, f"bench-load-{uuid.uuid4()}", "bench")

        reset(conn)
        naive_s = load_naive(conn, run_id, feed_id, items)
        assert count(conn) == (args.rows, args.rows), count(conn)
        reset(conn)
        batched_s = load_batched(conn, run_id, feed_id, items, args.items_per_fetch)
        assert count(conn) == (args.rows, args.rows), count(conn)
        conn.close()
    finally:
        scratch.drop_database(args.admin_url, url)

    naive_rate, batched_rate = args.rows / naive_s, args.rows / batched_s
    print(f"row by row (INSERT + COMMIT per article): {naive_s:8.1f} s  {naive_rate:10,.0f} articles/s")
    print(f"batched (warehouse.feeds.record_fetch, {args.items_per_fetch} items per fetch): {batched_s:8.1f} s  "
          f"{batched_rate:10,.0f} articles/s")
    print(f"ratio: {batched_rate / naive_rate:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
