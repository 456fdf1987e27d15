"""Properties and fuzzing: URL canonicalisation, text sanitising, and the feed-parse layer on mutated real feeds.

The fuzz run is deterministic (fixed seed) and bounded in time (``FUZZ_SECONDS``); every input must end in a
ParsedFeed or a FeedParseError, each parse within ``PARSE_LIMIT_S``.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from crypto_news.feeds.parse import FeedParseError, ParsedFeed, parse_feed
from crypto_news.feeds.urls import canonical_url, link_problem
from crypto_news.text import html_to_text, one_line, sanitise

ROOT = Path(__file__).resolve().parents[1]
CORPORA = [ROOT.parent / "shared" / "corpora" / "crypto-news-skel-ext3", ROOT / "tests" / "fixtures" / "feeds"]
FUZZ_SECONDS = 20.0
PARSE_LIMIT_S = 5.0
SEED = 20260301

# ------------------------------------------------------------------------------------------------ URLs

_label = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9-]{0,10}[A-Za-z0-9])?", fullmatch=True)
_hosts = st.one_of(
    st.builds(lambda labels, tld: ".".join([*labels, tld]), st.lists(_label, min_size=1, max_size=3),
              st.sampled_from(["com", "ORG", "io", "Test", "xn--p1ai"])),
    st.builds(lambda a, b, c, d: f"{a}.{b}.{c}.{d}", *[st.integers(0, 255)] * 4),
    st.sampled_from(["[::1]", "[2001:DB8::1]", "[::FFFF:127.0.0.1]", "LOCALHOST"]),
)
_url_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)
_query_part = st.text(st.sampled_from(list("abcXYZ019_-.~%&=+ /?#:@!$'()*,;[]é\u00a0\u2028")), max_size=12)
_http_urls = st.builds(
    lambda scheme, host, port, path, query, frag, user: (
        f"{scheme}://{user}{host}{port}{path}{'?' + query if query is not None else ''}{'#' + frag if frag else ''}"),
    st.sampled_from(["http", "https", "HTTP", "Https"]),
    _hosts,
    st.sampled_from(["", ":80", ":443", ":8080", ":0", ":65535"]),
    st.one_of(st.just(""), st.builds(lambda p: "/" + p, _query_part)),
    st.one_of(st.none(), _query_part, st.sampled_from(["utm_source=rss&id=1", "ref=twitter&b=2&a=1", "a=1&a=2&a="])),
    st.one_of(st.none(), _url_text),
    st.sampled_from(["", "user@", "user:pw@", "a%40b:c@"]),
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(_http_urls, st.text(max_size=60), st.binary(max_size=40).map(lambda b: b.decode("latin-1"))))
@example("http://[::1]/ #")  # once left "http://[::1]/ ", which the next call stripped
@example("http://h/a\t#x")
def test_canonical_url_never_raises_and_is_idempotent(url):
    once = canonical_url(url)
    assert isinstance(once, str)
    assert canonical_url(once) == once


@settings(max_examples=400, deadline=None)
@given(_http_urls)
def test_canonical_url_keeps_scheme_and_host_up_to_case(url):
    canon = canonical_url(url)
    before, after = urlsplit(url.strip()), urlsplit(canon)
    assert after.scheme == before.scheme.lower()
    assert after.hostname == before.hostname  # urlsplit lower-cases both
    assert after.fragment == ""
    assert link_problem(canon) is None or link_problem(url) is not None  # canonicalising never breaks a link


def test_canonical_url_examples():
    assert canonical_url("HTTPS://News.Example.COM:443/a?utm_source=rss&b=2&a=1#top") == \
        "https://news.example.com/a?a=1&b=2"
    assert canonical_url("http://[::1]:80") == "http://[::1]/"
    assert canonical_url("javascript:alert(1)") == "javascript:alert(1)"
    assert canonical_url(None) == ""  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------ text


_any_text = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=200)
_html_text = st.lists(st.one_of(_any_text, st.sampled_from(
    ["<p>", "</p>", "<br/>", "<script>x</script>", "<style>", "&#0;", "&#xD800;", "&amp;", "&nbsp;", "&#x202E;",
     "<!--", "-->", "<", ">", "\x00", "\ud800", "\udfff", "\ufffe", "\u200b", "\u2028"])), max_size=30).map("".join)


def storable(value: str | None) -> bool:
    if value is None:
        return True
    value.encode("utf-8")  # raises on a lone surrogate
    return "\x00" not in value


@settings(max_examples=500, deadline=None)
@given(_html_text, st.one_of(st.none(), st.integers(1, 300)))
def test_sanitised_text_is_always_storable(value, limit):
    for fn in (sanitise, one_line, html_to_text):
        out = fn(value, limit)
        assert storable(out), (fn.__name__, out)
        if out is not None and limit:
            assert len(out) <= limit
    line = one_line(value)
    assert line is None or ("\n" not in line and line == line.strip())


def test_sanitised_text_is_accepted_by_postgresql(db_url):
    """A sample of hostile strings, sanitised, inserted into a real text column and read back unchanged."""
    conn = psycopg2.connect(db_url)
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TABLE sample (id serial PRIMARY KEY, fn text, value text)")
        conn.commit()
        stored: list[tuple[str, str]] = []

        @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(_html_text)
        def insert(value):
            for fn in (sanitise, one_line, html_to_text):
                out = fn(value, 500)
                if out is None:
                    continue
                with conn.cursor() as cur:
                    cur.execute("INSERT INTO sample (fn, value) VALUES (%s, %s) RETURNING value", (fn.__name__, out))
                    assert cur.fetchone()[0] == out
                conn.commit()
                stored.append((fn.__name__, out))

        insert()
        for fixed in ("nul\x00byte", "lone \ud800 surrogate", "<p>a</p>\x1b\x7f\x9f\ufffe", "\u202eevil\u200b"):
            out = html_to_text(fixed)
            with conn.cursor() as cur:
                cur.execute("INSERT INTO sample (fn, value) VALUES ('fixed', %s)", (out,))
            conn.commit()
            stored.append(("fixed", out))
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM sample")
            assert cur.fetchone()[0] == len(stored) > 100
    finally:
        conn.close()


# ------------------------------------------------------------------------------------------------ feed-parse fuzzing

SNIPPETS = [
    b"\x00", b"\xff\xfe", b"\xef\xbb\xbf", b"&#xD800;", b"&#0;", b"&#99999999999999;", b"&#x110000;", b"&lol9;",
    b"<![CDATA[", b"]]>", b"<item>", b"</item>", b"</channel>", b"<entry>", b"<link>javascript:alert(1)</link>",
    b"<link>file:///etc/passwd</link>", b"<link>http://[::1:80/</link>", b"<link>http://999999999999/</link>",
    b"<!DOCTYPE rss [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>", b"<!ENTITY lol 'lol'>", b"<script>alert(1)</script>",
    b"<?xml version='1.0' encoding='utf-16'?>", b"<?xml version='1.0' encoding='x-unknown'?>", b"\r\n", b"<",
    b"&", b"<pubDate>Mon, 99 Foo 99999 99:99:99 +9999</pubDate>", b"<pubDate>Sat, 01 Jan 0001 00:00:00 GMT</pubDate>",
    b"<title>" + b"A" * 20000 + b"</title>", b"<a" * 500, "\u202e".encode("utf-8"),
    b"<guid isPermaLink='true'>//no-scheme</guid>", b"xmlns:x='&#x0;'",
]


def _seeds() -> list[bytes]:
    files = []
    for root in CORPORA:
        if root.exists():
            files += sorted(p for p in root.rglob("*") if p.suffix in (".rss", ".xml", ".atom"))
    if not files:
        pytest.skip("no feed files to fuzz (tests/fixtures/feeds missing)")
    return [p.read_bytes()[:300_000] for p in files]


def _mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op = rng.random()
        pos = rng.randrange(len(buf) + 1)
        if op < 0.3 and buf:  # flip bytes
            for _ in range(rng.randint(1, 8)):
                i = rng.randrange(len(buf))
                buf[i] = rng.randrange(256)
        elif op < 0.5:  # truncate
            del buf[pos:]
        elif op < 0.85:  # insert a hostile snippet
            buf[pos:pos] = rng.choice(SNIPPETS)
        elif buf:  # duplicate or delete a slice
            end = min(len(buf), pos + rng.randint(1, 2000))
            if rng.random() < 0.5:
                buf[pos:pos] = buf[pos:end]
            else:
                del buf[pos:end]
    return bytes(buf)


def test_feed_parse_fuzz_never_raises_anything_else():
    rng = random.Random(SEED)
    seeds = _seeds()
    headers = [{}, {"content-type": "application/rss+xml; charset=utf-8"}, {"content-type": "text/html"},
               {"content-type": "application/xml; charset=iso-8859-1"}]
    counts = {"parsed": 0, "error": 0}
    slowest = 0.0
    deadline = time.monotonic() + FUZZ_SECONDS
    n = 0
    while time.monotonic() < deadline and n < 20_000:
        n += 1
        data = _mutate(rng, rng.choice(seeds))
        started = time.monotonic()
        try:
            result = parse_feed(data, rng.choice(headers), "http://feeds.example.com/feed")
        except FeedParseError as exc:
            assert exc.kind in ("empty", "not_a_feed", "malformed")
            counts["error"] += 1
        except Exception as exc:  # noqa: BLE001 - the point of the test
            pytest.fail(f"input #{n} (seed {SEED}) raised {type(exc).__name__}: {exc}\n{data[:2000]!r}")
        else:
            assert isinstance(result, ParsedFeed)
            for item in result.items:
                for value in (item.title, item.summary, item.content, item.author, item.guid, item.url):
                    assert storable(value)
            counts["parsed"] += 1
        took = time.monotonic() - started
        slowest = max(slowest, took)
        assert took < PARSE_LIMIT_S, f"input #{n} took {took:.1f}s"
    assert n >= 50 and counts["parsed"] > 0 and counts["error"] > 0, counts


@pytest.mark.parametrize("ref", ["&#xD800;", "&#xdfff;", "&#55296;", "&#x110000;", "&#99999999999999;", "&#0;",
                                 "&#" + "9" * 5000 + ";"])
def test_character_references_to_no_character_do_not_lose_the_feed(ref):
    # a raw NUL makes the feed not well-formed, so feedparser's lenient parser reads it (the one that crashed)
    body = (f'<rss version="2.0"><channel><item><title>a {ref} b\x00</title><link>http://e.test/1</link>'
            "</item></channel></rss>").encode()
    assert parse_feed(body).items[0].title == "a \ufffd b"
    assert parse_feed(body.replace(b"\x00", b"")).items[0].title == "a \ufffd b"
