"""The feed-parse layer: our own fixture feeds, real crypto-news snapshots, and feedparser's whole test corpus."""

from __future__ import annotations

import collections
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from conftest import shared_path
from crypto_news.feeds.parse import FeedParseError, parse_feed
from crypto_news.text import LIMITS

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "feeds"
NOW = datetime(2026, 3, 5, tzinfo=timezone.utc)


def load(name, base="https://ledgerwire.test"):
    return (FIXTURES / name).read_text().replace("{{BASE}}", base).encode()


def test_rss_items_are_normalised():
    feed = parse_feed(load("ledgerwire.rss"), {"Content-Type": "application/rss+xml"}, now=NOW)
    assert feed.title == "Ledger Wire" and feed.warning is None
    assert len(feed.items) == 4 and feed.skipped == ["link scheme 'javascript' is not http or https"]
    first = feed.items[0]
    assert first.title == "Lawmaker urges faster blockchain build-out as China keeps mining ban & crypto crackdown"
    assert first.canonical_url == "https://ledgerwire.test/news/china-blockchain-mining-ban"
    assert first.guid == "ledgerwire-10411" and first.author == "Lin Wei"
    assert first.categories == ["Policy", "China"]
    assert first.summary.startswith("A deputy proposes") and "<p>" not in first.summary
    assert first.published_at == datetime(2026, 3, 4, 8, 15, tzinfo=timezone.utc)
    sec = feed.items[1]
    assert sec.published_at == datetime(2026, 3, 3, 14, 2, tzinfo=timezone.utc)  # -0500 normalised to UTC
    assert feed.items[3].canonical_url.endswith("/news/hashrate-record")  # fragment dropped
    assert "El Salvador bought another 100 bitcoin" in feed.items[2].content


def test_atom_summary_html_is_plain_text():
    feed = parse_feed(load("chainpost.atom"), {"Content-Type": "application/atom+xml"}, now=NOW)
    assert [i.title for i in feed.items][0] == "Bitcoin price falls below $60,000 as traders de-risk"
    assert feed.items[0].summary == "Leveraged longs were flushed as bitcoin slid & funding turned negative."
    assert feed.items[0].canonical_url == "https://ledgerwire.test/news/price-falls"  # ?ref=rss dropped


def test_dates_missing_future_and_too_old_are_flagged():
    xml = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>
      <item><title>a</title><link>https://x.test/a</link></item>
      <item><title>b</title><link>https://x.test/b</link><pubDate>Wed, 01 Jan 2031 00:00:00 GMT</pubDate></item>
      <item><title>c</title><link>https://x.test/c</link><pubDate>Mon, 01 Jan 2001 00:00:00 GMT</pubDate></item>
      <item><title>d</title><link>https://x.test/d</link><pubDate>not a date</pubDate></item>
    </channel></rss>"""
    flags = [(i.published_at, i.published_flag) for i in parse_feed(xml, now=NOW).items]
    assert flags == [(None, "missing"), (None, "future"), (None, "too_old"), (None, "unparsable")]


def test_hostile_text_is_cleaned_and_truncated():
    title = "T\x00i\x07tle \u202eevil\u200b " + "x" * 5000
    xml = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title><item>'
           f'<title>{title}</title><link>https://x.test/a</link>'
           "<description>&lt;script&gt;alert(1)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt; text</description>"
           "</item></channel></rss>").encode("utf-8")
    item = parse_feed(xml, now=NOW).items[0]
    assert "\x00" not in item.title and "\x07" not in item.title
    assert len(item.title) <= LIMITS["title"]
    assert item.summary == "bold text"


@pytest.mark.parametrize(
    "body, headers, kind",
    [
        (b"", {}, "empty"),
        (b"   \n", {}, "empty"),
        (b"<!DOCTYPE html><html><head><title>Home</title></head><body>hi</body></html>", {"Content-Type": "text/html"},
         "not_a_feed"),
        (b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title></channel></rss>", {}, "empty"),
        (b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title><item><title>x", {}, "malformed"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", {"Content-Type": "image/png"}, "not_a_feed"),
        (b'{"hello": "world"}', {"Content-Type": "application/json"}, "not_a_feed"),
    ],
)
def test_parse_errors_have_a_kind(body, headers, kind):
    with pytest.raises(FeedParseError) as err:
        parse_feed(body, headers, "https://x.test/feed")
    assert err.value.kind == kind and err.value.message


def test_wrong_charset_header_still_parses():
    xml = ('<?xml version="1.0" encoding="iso-8859-1"?><rss version="2.0"><channel><title>Caf\xe9</title>'
           '<item><title>Caf\xe9 accepte le bitcoin</title><link>https://x.test/a</link></item></channel></rss>'
           ).encode("latin-1")
    feed = parse_feed(xml, {"Content-Type": "application/rss+xml; charset=utf-8"})
    assert feed.items[0].title == "Café accepte le bitcoin"
    assert feed.warning  # the mismatch is kept as a warning


def test_real_crypto_feed_snapshots():
    folder = shared_path("corpora", "crypto-news-skel-ext3", "sentry-news")
    for path in sorted(folder.rglob("*")):
        if path.suffix not in (".rss", ".xml"):
            continue
        feed = parse_feed(path.read_bytes(), {"Content-Type": "application/rss+xml"}, now=NOW.replace(year=2026))
        assert feed.items, path.name
        for item in feed.items:
            assert item.canonical_url.startswith("https://") and item.title
            assert item.published_at is not None
            assert "<" not in (item.summary or "")[:200] or "&lt;" in (item.summary or "")
        assert len({i.canonical_url for i in feed.items}) == len(feed.items)


def test_feedparser_corpus_never_raises():
    root = shared_path("corpora", "feedparser-tests", "tests")
    counts = collections.Counter()
    for path in sorted(root.rglob("*")):
        if path.suffix not in (".xml", ".json") or not path.is_file():
            continue
        body = path.read_bytes()
        headers = {}
        head = body[:2000].decode("utf-8", "ignore")
        for m in re.finditer(r"^Header:\s*([\w-]+):\s*(.+?)\s*$", head, re.M):
            headers[m.group(1)] = m.group(2)
        try:
            feed = parse_feed(body, headers, "http://127.0.0.1:8097/" + path.name)
            counts["items" if not feed.warning else "items_with_warning"] += 1
        except FeedParseError as exc:
            counts[exc.kind] += 1
    total = sum(counts.values())
    print(f"feedparser corpus: {total} files: {dict(counts)}")
    assert total > 2000
    # Most test feeds carry no item with an http(s) link; what matters is that every file ends in a defined outcome.
    assert set(counts) <= {"items", "items_with_warning", "empty", "not_a_feed", "malformed"}
    assert counts["items"] + counts["items_with_warning"] > 50


def test_items_beyond_the_per_feed_cap_are_skipped_and_counted():
    items = "".join(f"<item><title>t{i}</title><link>https://x.test/{i}</link></item>" for i in range(30))
    xml = f"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title>{items}</channel></rss>".encode()
    feed = parse_feed(xml, {"Content-Type": "application/rss+xml"}, max_items=10)
    assert [i.title for i in feed.items] == [f"t{i}" for i in range(10)]  # the first ones: the newest
    assert feed.skipped == ["over the per-feed cap of 10 items"] * 20


def test_an_empty_element_does_not_wipe_the_real_description():
    # A shape real publishers use: a full <description>, then empty <content:encoded/> and <dc:description/>.
    xml = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>Wire</title><link>https://wire.test/</link>
<item><title>Regulator asks exchanges for reserve proofs</title><link>https://wire.test/a</link>
<description><![CDATA[The agency wants monthly attestations of customer assets.]]></description>
<dc:creator>Ann Lee</dc:creator><content:encoded/><dc:description/></item>
<item><title>Second</title><link>https://wire.test/b</link><description>Body two.</description>
<content:encoded><![CDATA[]]></content:encoded><dc:description></dc:description></item>
</channel></rss>"""
    feed = parse_feed(xml, {"Content-Type": "application/rss+xml"}, now=NOW)
    assert [i.summary for i in feed.items] == ["The agency wants monthly attestations of customer assets.", "Body two."]
    assert all(i.content is None for i in feed.items)


def test_real_snapshot_summaries_survive_empty_elements():
    path = shared_path("corpora", "crypto-news-skel-ext3", "sentry-news", "rss", "coindesk.rss")
    feed = parse_feed(path.read_bytes(), {"Content-Type": "application/rss+xml"})
    assert feed.items and all(i.summary for i in feed.items)
