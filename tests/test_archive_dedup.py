"""Raw page archive, re-extraction without network, and duplicate detection, on a real database."""

from __future__ import annotations

import gzip
import hashlib
import re

import psycopg2
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import query as q
from crypto_news import dedup, pipeline
from crypto_news.config import Settings
from crypto_news.warehouse import archive, duplicates
from sitekit import FIXTURES, serve_site, write_feed_list

SETTINGS = Settings(allow_private_hosts="1", host_delay_s=0, retries=0, timeout_s=10, extract_workers=1)



def test_pages_are_archived_compressed_and_content_addressed(migrated_db, http_server, tmp_path):
    feeds = write_feed_list(tmp_path / "f.yml", serve_site(http_server))
    pipeline.run(migrated_db, feeds, SETTINGS)
    rows = q(migrated_db, """SELECT a.page_url, p.sha256, p.content, p.compression, p.raw_bytes, p.stored_bytes
                             FROM articles a JOIN page_archive p ON p.sha256 = a.page_sha256""")
    assert len(rows) == 6
    for page_url, sha, content, compression, raw_bytes, stored in rows:
        slug = re.split(r"[?#]", page_url.rsplit("/", 1)[1])[0]
        original = (FIXTURES / "site" / f"{slug}.html").read_bytes()
        assert compression == "zstd" and zstandard.ZstdDecompressor().decompress(bytes(content)) == original
        assert archive.unpack(bytes(content)) == original
        assert archive.pack(original)[0] == sha and raw_bytes == len(original) and stored < raw_bytes


def test_unpack_reads_rows_stored_as_gzip_and_refuses_to_inflate_past_the_limit():
    page = (FIXTURES / "site" / "hashrate-record.html").read_bytes()
    assert archive.unpack(gzip.compress(page)) == page  # rows archived before zstd
    zeros = b"\0" * (8 * 1024 * 1024)
    for bomb in (zstandard.ZstdCompressor(level=19).compress(zeros), gzip.compress(zeros, 9)):
        assert len(bomb) < 10_000
        with pytest.raises(ValueError, match="decompression limit"):
            archive.unpack(bomb, limit=1024 * 1024)
        assert archive.unpack(bomb, limit=len(zeros)) == zeros


def test_reextract_uses_the_archive_only(migrated_db, http_server, tmp_path):
    feeds = write_feed_list(tmp_path / "f.yml", serve_site(http_server))
    pipeline.run(migrated_db, feeds, SETTINGS)
    before = dict(q(migrated_db, "SELECT article_id, text FROM articles"))
    q(migrated_db, "UPDATE articles SET text = 'stale', word_count = 1")
    # half the pages as rows written before zstd: both formats are read back
    for sha, content in q(migrated_db, "SELECT sha256, content FROM page_archive ORDER BY sha256 LIMIT 3"):
        q(migrated_db, "UPDATE page_archive SET content = %s, compression = 'gzip' WHERE sha256 = %s",
          gzip.compress(archive.unpack(bytes(content))), sha)
    http_server.close()  # no network from here on

    counts = pipeline.reextract_articles(migrated_db, None, SETTINGS)
    assert counts["articles"] == 6 and counts["page"] == 6
    assert dict(q(migrated_db, "SELECT article_id, text FROM articles")) == before
    # re-extracted pages are labelled in the same pass: nothing is left for the classify stage, labels are current
    assert pipeline.classify_articles(migrated_db)["articles"] == 0
    assert q(migrated_db, """SELECT count(*) FROM articles a JOIN article_classifications c USING (article_id)
                             WHERE c.classified_at >= a.extracted_at""") == [(6,)]


def _story_page(paragraphs: list[str], title: str) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (f"<!DOCTYPE html><html><head><title>{title}</title></head><body><nav><a href='/'>Home</a></nav>"
            f"<article><h1>{title}</h1>{body}</article><footer>Other Site</footer></body></html>").encode()


def test_syndicated_copies_are_marked_duplicates(migrated_db, http_server, tmp_path):
    original = (FIXTURES / "site" / "hashrate-record.html").read_text()
    paragraphs = [re.sub(r"<[^>]+>", "", p) for p in re.findall(r"<p>(.*?)</p>", original, re.S)]
    paragraphs = [p for p in paragraphs if len(p) > 60]
    edited = [p.replace("new fleets", "fresh fleets").replace("Analysts expect", "Observers expect")
              for p in paragraphs]
    http_server.add("/copy/exact", _story_page(paragraphs, "Bitcoin hashrate hits record as difficulty climbs 5%"), headers={"Content-Type": "text/html"})
    http_server.add("/copy/edited", _story_page(edited, "Bitcoin hashrate hits a record as difficulty climbs 5%"),
                    headers={"Content-Type": "text/html"})
    base = http_server.url("")
    items = "".join(f"<item><title>{t}</title><link>{base}{p}</link><pubDate>Mon, 02 Mar 2026 10:00:00 GMT</pubDate>"
                    f"</item>" for t, p in (("Copy", "/copy/exact"), ("Edited", "/copy/edited")))
    http_server.add("/feeds/syndicated.rss", f"<rss version='2.0'><channel><title>S</title>{items}</channel></rss>",
                    headers={"Content-Type": "application/rss+xml"})
    urls = serve_site(http_server, feeds=("ledgerwire.rss",))
    feeds = write_feed_list(tmp_path / "f.yml", urls)
    pipeline.run(migrated_db, feeds, SETTINGS)  # the original first
    feeds2 = write_feed_list(tmp_path / "g.yml", {"Syndicated": http_server.url("/feeds/syndicated.rss")})
    pipeline.run(migrated_db, feeds2, SETTINGS)

    rows = {re.split(r"[?#]", r[0].split(base)[-1])[0]: r[1:] for r in q(
        migrated_db, "SELECT url, article_id, duplicate_of, near_duplicate_of, simhash FROM articles")}
    original_id = rows["/news/hashrate-record"][0]
    assert rows["/copy/exact"][1] == original_id  # exact copy
    assert rows["/copy/edited"][1] is None  # not the same text ...
    assert rows["/copy/edited"][2] == original_id  # ... but the same story
    assert rows["/news/sec-sues-exchange"][1] is None and rows["/news/sec-sues-exchange"][2] is None
    assert dedup.hamming(rows["/copy/edited"][3], rows["/news/hashrate-record"][3]) <= dedup.NEAR_DUPLICATE_MAX_BITS


def test_retention_bounds_the_archive_and_keeps_text(migrated_db, http_server, tmp_path):
    feeds = write_feed_list(tmp_path / "f.yml", serve_site(http_server))
    pipeline.run(migrated_db, feeds, SETTINGS)
    conn = psycopg2.connect(migrated_db, options="-c search_path=crypto_news")
    try:
        kept = archive.apply_retention(conn, days=30, max_mb=None)
        assert kept["removed_by_age"] == 0 and kept["pages"] == 6
        out = archive.apply_retention(conn, days=None, max_mb=0.004)  # ~4 KB: only the newest pages fit
        assert 0 < out["pages"] < 6 and out["removed_by_size"] == 6 - out["pages"] and out["stored_mb"] <= 0.004
    finally:
        conn.close()
    assert q(migrated_db, "SELECT count(*) FROM articles WHERE page_sha256 IS NULL") == [(6 - out["pages"],)]
    assert q(migrated_db, "SELECT count(*) FROM articles WHERE text IS NULL OR word_count < 80") == [(0,)]


@pytest.mark.parametrize("text", [None, "", "too short to identify a story"])
def test_short_texts_get_no_fingerprint(text):
    assert dedup.content_hash(text) is None and dedup.simhash(text) is None


def test_fingerprints_ignore_case_and_spacing_and_separate_stories():
    pages = sorted((FIXTURES / "site").glob("*.html"))
    texts = [" ".join(re.sub(r"<[^>]+>", " ", p.read_text()).split()) for p in pages]
    a = texts[0]
    assert dedup.content_hash(a) == dedup.content_hash("  " + a.upper().replace(" ", "\n  "))
    hashes = [dedup.simhash(t) for t in texts]
    for i in range(len(hashes)):
        for j in range(i + 1, len(hashes)):
            assert dedup.hamming(hashes[i], hashes[j]) > dedup.NEAR_DUPLICATE_MAX_BITS
    assert -(2 ** 63) <= hashes[0] < 2 ** 63


def _plan_nodes(node: dict):
    yield node
    for child in node.get("Plans", []):
        yield from _plan_nodes(child)


def test_duplicate_checks_read_the_index_not_every_earlier_article(migrated_db):
    """The check for an earlier copy is one index range (hash or band, then article_id), whatever the table size:
    no plan combines it with a range scan of the primary key over all earlier articles."""
    conn = psycopg2.connect(migrated_db, options="-c search_path=crypto_news")
    try:
        with conn, conn.cursor() as cur:
            cur.execute("""
                INSERT INTO articles (canonical_url, url, extract_state, text_source, content_hash, simhash)
                SELECT 'https://example.org/a/' || i, 'https://example.org/a/' || i, 'done', 'page',
                       md5((i % 300)::text), (hashtextextended((i % 300)::text, 0) # (i % 3))
                FROM generate_series(1, 6000) AS i""")
            cur.execute("ANALYZE articles")
            cur.execute("SELECT article_id, content_hash, simhash FROM articles ORDER BY article_id DESC LIMIT 200")
            batch = cur.fetchall()
            params = {"ids": [b[0] for b in batch], "hashes": [b[1] for b in batch],
                      "simhashes": [b[2] for b in batch], "max_bits": dedup.NEAR_DUPLICATE_MAX_BITS}
            cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + duplicates.EARLIER_COPIES_SQL, params)
            nodes = list(_plan_nodes(cur.fetchone()[0][0]["Plan"]))
            range_scans = [n for n in nodes if n.get("Index Name") == "articles_pkey"
                           and "<" in n.get("Index Cond", "")]
            assert not range_scans, range_scans
            used = {n.get("Index Name") for n in nodes}
            assert {"articles_content_hash_idx", "articles_simhash_band0_idx"} <= used, used
            # each of the 200 has earlier copies (the same hash every 300 ids; the first is among ids 1-300), none
            # within the batch
            cur.execute("SELECT min(article_id) FROM articles")
            first_id = cur.fetchone()[0]
            marks = duplicates.duplicate_marks(cur, batch)
            assert all(dup == first_id + (article_id - first_id) % 300 for article_id, (dup, _near) in marks.items())
            assert all(near is not None and near < article_id for article_id, (_dup, near) in marks.items())
    finally:
        conn.close()


def test_copies_within_one_batch_are_marked_like_copies_stored_earlier(migrated_db, http_server, tmp_path):
    """The original and its copies extracted and written together (their marks are resolved within the batch, as
    the stored fingerprints of a batch are not read): the copies point at the original all the same."""
    original = (FIXTURES / "site" / "hashrate-record.html").read_text()
    paragraphs = [re.sub(r"<[^>]+>", "", p) for p in re.findall(r"<p>(.*?)</p>", original, re.S)]
    paragraphs = [p for p in paragraphs if len(p) > 60]
    edited = [p.replace("new fleets", "fresh fleets").replace("Analysts expect", "Observers expect")
              for p in paragraphs]
    title = "Bitcoin hashrate hits record as difficulty climbs 5%"
    http_server.add("/story/original", _story_page(paragraphs, title), headers={"Content-Type": "text/html"})
    http_server.add("/story/exact", _story_page(paragraphs, title), headers={"Content-Type": "text/html"})
    http_server.add("/story/edited", _story_page(edited, title), headers={"Content-Type": "text/html"})
    base = http_server.url("")
    items = "".join(f"<item><title>{t}</title><link>{base}{p}</link><pubDate>Mon, 02 Mar 2026 10:00:00 GMT</pubDate>"
                    f"</item>" for t, p in (("Original", "/story/original"), ("Copy", "/story/exact"),
                                            ("Edited", "/story/edited")))
    http_server.add("/feeds/one.rss", f"<rss version='2.0'><channel><title>S</title>{items}</channel></rss>",
                    headers={"Content-Type": "application/rss+xml"})
    feeds = write_feed_list(tmp_path / "f.yml", {"One": http_server.url("/feeds/one.rss")})
    pipeline.run(migrated_db, feeds, SETTINGS)

    rows = {r[0].split(base)[-1]: r[1:] for r in q(
        migrated_db, "SELECT url, article_id, duplicate_of, near_duplicate_of FROM articles")}
    original_id = rows["/story/original"][0]
    assert rows["/story/original"][1:3] == (None, None)
    assert rows["/story/exact"][1:3] == (original_id, original_id)
    assert rows["/story/edited"][1:3] == (None, original_id)


def _reference_simhash(words: list[str]) -> int:
    """SimHash spelled out: bit j is set when more than half of the word occurrences' hashes have bit j set."""
    hashes = [int.from_bytes(hashlib.blake2b(w.encode("utf-8"), digest_size=8).digest(), "little") for w in words]
    bits = [sum(h >> j & 1 for h in hashes) for j in range(64)]
    value = sum(1 << j for j in range(64) if 2 * bits[j] > len(words))
    return value - (1 << 64) if value >= 1 << 63 else value


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["bitcoin", "miners", "sec", "hashrate", "étape", "東京", "a", "ban", "x1"]) |
                st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12),
                min_size=1, max_size=dedup.MAX_WORDS))
def test_simhash_matches_its_definition(words):
    assert dedup._simhash(words) == _reference_simhash(words)
