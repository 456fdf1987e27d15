"""Tests of crypto_news.extract (page -> text, metadata, status) and scripts/scoring.py."""

from __future__ import annotations

import gzip
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import trafilatura

from crypto_news import extract as X
from crypto_news.extract import PageResult, decode_html, extract_page
from crypto_news.extract import page as extract_page_module
from crypto_news.extract.checks import visible_text
from scoring import doc_counts, score, shingles, tokenize

PAGES = Path(__file__).resolve().parent / "fixtures" / "pages"
BENCHMARK = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "article-extraction-benchmark"
URL = "https://news.example.org/markets/2024/03/05/example-chain-fee-overhaul"


def page(name: str) -> bytes:
    return (PAGES / name).read_bytes()


def assert_storable(result: PageResult) -> None:
    """Every string can go into a PostgreSQL text column and the dict is JSON-ready."""
    d = result.to_dict()
    json.dumps(d)
    for value in [v for v in d.values() if isinstance(v, str)] + list(d["tags"]):
        assert "\x00" not in value
        value.encode("utf-8")  # raises on lone surrogates
    assert result.status in X.STATUSES
    assert (result.text is not None) == (result.status == "ok")
    if result.status != "ok":
        assert result.detail


# ------------------------------------------------------------------------------------------------
# Fixture pages
# ------------------------------------------------------------------------------------------------
def test_normal_article_text_and_metadata():
    r = extract_page(page("article_normal.html"), url=URL, content_type="text/html; charset=utf-8")
    assert r.status == "ok", r.detail
    assert r.text.startswith("Validators on the Example Chain network approved a proposal")
    assert "node operators will need to install the new release" in r.text.lower()
    assert "\n\n" in r.text
    for boilerplate in (
        "Related stories",
        "Mining difficulty reaches",
        "All rights reserved",
        "We use cookies",
        "Newsletters",
        "Share this article",
    ):
        assert boilerplate not in r.text
    assert r.title == "Example Chain Validators Approve Fee Overhaul"
    assert r.author and "Writer" in r.author
    assert r.published == datetime(2024, 3, 5, 13, 30, tzinfo=UTC)
    assert r.sitename == "Ledger Ledger News"
    assert r.lang == "en-US"
    assert r.description.startswith("Validators on the Example Chain network voted")
    assert r.image == "https://news.example.org/images/fee-overhaul.jpg"
    assert "Example Chain" in r.tags
    assert 250 < r.word_count < 400
    assert r.extractor == "trafilatura" and r.extractor_version.startswith(trafilatura.__version__ + "+")
    assert_storable(r)
    assert r.to_dict()["published"] == "2024-03-05T13:30:00+00:00"


@pytest.mark.parametrize(
    "name, status, reason",
    [
        ("cookie_wall.html", "blocked", "cookie wall"),
        ("bot_challenge.html", "blocked", "bot challenge"),
        ("access_denied.html", "blocked", "access denied"),
        ("paywall_teaser.html", "paywall_or_teaser", "isAccessibleForFree"),
        ("short_page.html", "too_short", "words"),
    ],
)
def test_refused_pages(name, status, reason):
    r = extract_page(page(name), url=URL)
    assert r.status == status, r.detail
    assert reason in r.detail
    assert r.text is None
    assert_storable(r)


def test_paywall_phrase_without_structured_data():
    html = page("paywall_teaser.html").decode("utf-8").replace('"isAccessibleForFree": false', '"x": 1')
    r = extract_page(html, url=URL)
    assert r.status == "paywall_or_teaser"
    assert "subscribe to continue reading" in r.detail


_PARSE_CASES = {
    "plain": "<!DOCTYPE html>\n<html lang='fr'><head><title>Été</title></head><body><p>Prix : 5 € — déjà vu</p>"
             "<script>if (a < b && c > d) {}</script></body></html>",
    "xml declaration": "<?xml version='1.0' encoding='utf-8'?>\n<html xmlns='http://www.w3.org/1999/xhtml'><head>"
                       "<title>x</title></head><body><p>ünïcödé</p></body></html>",
    "meta charset not utf-8": "<html><head><meta charset='windows-1252'><meta http-equiv='Content-Type' "
                              "content='text/html; charset=iso-8859-1'></head><body><p>café €</p></body></html>",
    "control characters": "<html><body><p>bell\x07 and\x0b vertical tab\x1f</p></body></html>",
    "noncharacters": "<html><body><p>odd \ufffe and \uffff</p></body></html>",
    "doctype with a slash": '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
                            '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n<html><body><p>x</p></body></html>',
    "doctype, one line": "<!DOCTYPE html><html><body><p>no newline anywhere</p></body></html>",
    "self-closing html": "<html lang='en'/>\n<head><title>t</title></head><body><p>text</p></body>",
    "fragment": "<p>just a paragraph</p>",
    "crlf and comments": "<html>\r\n<head><!-- c --></head>\r\n<body><div><p>a</p><!-- d --></div></body></html>",
    "unclosed tags": "<html><body><div><p>one<p>two<li>three<table><td>four</body>",
}


def assert_same_tree(ours, theirs, where=""):
    from lxml import etree

    assert (ours is None) == (theirs is None), where
    if ours is not None:
        assert etree.tostring(ours, encoding="unicode") == etree.tostring(theirs, encoding="unicode"), where


@pytest.mark.parametrize("case", sorted(_PARSE_CASES))
def test_parse_html_builds_the_tree_trafilatura_builds(case):
    """The page parser skips trafilatura's whole-page control-character pass where there is nothing to delete; on
    every kind of page the tree must be the one trafilatura's own loader builds."""
    from trafilatura.utils import load_html

    html = _PARSE_CASES[case]
    assert_same_tree(X.parse_html(html), load_html(html))


def test_parse_html_same_trees_on_real_pages(monkeypatch):
    """Fixture pages and, when present, the benchmark's real pages: the same trees as trafilatura's loader, and the
    cheaper path is the one taken on ordinary pages."""
    from trafilatura.utils import load_html

    paths = sorted(PAGES.parent.rglob("*.html")) + sorted((BENCHMARK / "html").glob("*.html.gz"))
    direct = 0
    for path in paths:
        body = path.read_bytes()
        html = decode_html(gzip.decompress(body) if path.suffix == ".gz" else body, "text/html")
        with monkeypatch.context() as m:
            m.setattr(extract_page_module, "load_html", lambda h: None)  # a page handed to the loader shows as a missing tree
            direct += X.parse_html(html) is not None
        assert_same_tree(X.parse_html(html), load_html(html), path)
    assert direct >= 0.9 * len(paths), (direct, len(paths))


def test_visible_text_is_the_body_text_outside_hidden_elements():
    """The page's visible text (read by the blocked-page checks) is walked in Python; it must equal the XPath
    definition on markup with comments, script tails, elements inside noscript and template, and text around
    the body."""
    import lxml.html
    from trafilatura.utils import load_html

    html = ("<html><head><title>T</title><script>var head = 1;</script></head><body>"
            "lead <!-- a comment --> after comment<script>var x = '<b>not shown</b>';</script> script tail "
            "<noscript><p>enable JavaScript <b>now</b></p></noscript> noscript tail "
            "<template><div>template text</div></template><div><style>p {color: red}</style><p>one "
            "<a href='#'>link</a> two</p><?pi instruction?> pi tail</div><p>&amp; entity &#233;t&#233;</p>"
            "</body></html> after the body")
    for tree in (load_html(html), lxml.html.fromstring(html)):  # comments and PIs dropped by the parser, or kept
        parts = tree.xpath("//body//text()[not(ancestor::script) and not(ancestor::style)"
                           " and not(ancestor::noscript) and not(ancestor::template)]")
        expected = " ".join(p.strip() for p in parts if p.strip())
        assert visible_text(tree) == expected
        assert "lead" in expected and "script tail" in expected and "pi tail" in expected and "été" in expected
        for hidden in ("a comment", "not shown", "enable", "template text", "color", "var head", "instruction"):
            assert hidden not in expected


@pytest.mark.parametrize("tag, expected", [
    ('<meta property="article:published_time" content="2024-03-05T13:30:00+01:00">', "2024-03-05T12:30:00+00:00"),
    ('<meta name="pubdate" itemprop="datePublished" content="2024-03-05T13:30:00Z">', "2024-03-05T13:30:00+00:00"),
    ('<meta name="sailthru.date" content="2024-03-05 13:30:00">', "2024-03-05T13:30:00+00:00"),
    ('<time itemprop="datePublished" datetime="2024-03-05T13:30:00-05:00">5 March</time>',
     "2024-03-05T18:30:00+00:00"),
    ('<meta property="article:published_time" content="2099-01-01T00:00:00Z">', None),  # in the future: not trusted
])
def test_publication_timestamp_from_markup(tag, expected):
    body = " ".join(["Miners moved coins to exchanges as the network's hashrate reached a new high."] * 12)
    html = f"<html><head><title>Hashrate</title>{tag}</head><body><article><p>{body}</p></article></body></html>"
    r = extract_page(html, url=URL)
    assert r.status == "ok", r.detail
    assert (r.published.isoformat() if r.published else None) == expected


def test_article_about_cookies_is_not_a_cookie_wall():
    r = extract_page(page("article_about_cookies.html"), url=URL)
    assert r.status == "ok", r.detail
    assert "tracking cookies" in r.text


def test_latin1_page_with_meta_charset_only():
    body = page("article_latin1_meta_charset.html")
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    for content_type in (None, "text/html", "text/html; charset=utf-8"):  # absent, no charset, mis-declared
        r = extract_page(body, url=URL, content_type=content_type)
        assert r.status == "ok", r.detail
        assert "électricité" in r.text and "\ufffd" not in r.text
        assert r.lang == "fr"


def test_min_words_is_respected():
    body = page("article_normal.html")
    assert extract_page(body, url=URL, min_words=5000).status == "too_short"
    assert extract_page(body, url=URL, min_words=10).status == "ok"


# ------------------------------------------------------------------------------------------------
# Dates
# ------------------------------------------------------------------------------------------------
def _with_date(value: str) -> bytes:
    html = page("article_normal.html").decode("utf-8")
    return html.replace("2024-03-05T14:30:00+01:00", value).encode("utf-8")


def test_future_and_too_old_page_dates_are_not_trusted():
    future = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for value in (future, "2005-06-01T10:00:00Z"):
        r = extract_page(_with_date(value), url="https://news.example.org/story")
        assert r.status == "ok"
        assert (
            r.published is None or X.EARLIEST_TRUSTED <= r.published <= datetime.now(UTC) + X.FUTURE_TOLERANCE
        )


def test_trusted_date_rule():
    now = datetime(2024, 6, 1, tzinfo=UTC)
    assert X.trusted_date(now + timedelta(hours=20), now) is not None
    assert X.trusted_date(now + timedelta(days=2), now) is None
    assert X.trusted_date(datetime(2007, 12, 31, tzinfo=UTC), now) is None
    assert X.parse_datetime("2024-03-05T14:30:00+0100") == datetime(2024, 3, 5, 13, 30, tzinfo=UTC)
    assert X.parse_datetime("2024-03-05") == datetime(2024, 3, 5, tzinfo=UTC)
    assert X.parse_datetime("yesterday") is None


# ------------------------------------------------------------------------------------------------
# Decoding
# ------------------------------------------------------------------------------------------------
def test_decode_html_charsets():
    text = "<html><body><p>Prix du bitcoin : déjà 5 % de hausse — «record»</p></body></html>"
    assert decode_html(text.encode("utf-8"), "text/html; charset=iso-8859-1") == text  # valid UTF-8 wins
    assert decode_html(text.encode("cp1252"), "text/html; charset=utf-8") == text  # mis-declared header
    assert decode_html(text.encode("cp1252"), "text/html; charset=windows-1252") == text
    assert decode_html(b"\xef\xbb\xbf" + text.encode("utf-8"), None) == text
    assert decode_html(text.encode("utf-16"), None) == text
    meta = '<meta charset="windows-1251"><p>Биткоин вырос на пять процентов за неделю</p>'
    assert decode_html(meta.encode("cp1251"), None) == meta
    assert decode_html(text.encode("utf-8")[:-3] + "é".encode()[:1], None).startswith("<html>")  # cut char
    assert isinstance(decode_html(bytes(range(256)) * 10, "text/html; charset=bogus-charset"), str)
    assert decode_html(b"", None) == ""


# ------------------------------------------------------------------------------------------------
# Bad pages (generated): clear status, no exception, bounded time
# ------------------------------------------------------------------------------------------------
def _timed(body, **kw):
    t0 = time.perf_counter()
    r = extract_page(body, url=URL, **kw)
    return r, time.perf_counter() - t0


@pytest.mark.parametrize(
    "body, content_type, status",
    [
        (b"", None, "empty"),
        (b"   \n\t  ", "text/html", "empty"),
        (None, None, "empty"),
        (
            b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
            "application/pdf",
            "not_html",
        ),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200), "image/png", "not_html"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(100), None, "not_html"),
        (bytes(range(256)) * 40, None, "not_html"),
        (b'{"price": 1, "symbol": "BTC"}', "application/json", "not_html"),
        (b"just some plain words and nothing else", "text/plain", "not_html"),
        (b"<html><body></body></html>", "text/html", "empty"),
        (b"<html><body>" + b"\x00" * 5000 + b"</body></html>", "text/html", "not_html"),
    ],
)
def test_bad_inputs(body, content_type, status):
    r, elapsed = _timed(body, content_type=content_type)
    assert r.status == status, r.detail
    assert elapsed < 5
    assert_storable(r)


def test_nul_bytes_and_lone_surrogates_are_removed():
    html = page("article_normal.html").decode("utf-8")
    html = html.replace("approved a proposal", "approved\x00 a \ud800proposal")
    r = extract_page(html, url=URL)
    assert r.status == "ok"
    assert "\x00" not in r.text
    r.text.encode("utf-8")
    r2 = extract_page(html.encode("utf-8", "surrogatepass"), url=URL)
    assert r2.status == "ok" and "\x00" not in r2.text


def test_deeply_nested_markup():
    n = 100_000
    body = (
        "<html><body>" + "<div>" * n + "<p>" + "deep words " * 200 + "</p>" + "</div>" * n + "</body></html>"
    )
    r, elapsed = _timed(body.encode())
    assert r.status == "parse_error", r.detail
    assert "nested deeper" in r.detail
    assert elapsed < 10
    # moderately nested content (well under the parser's limit) is still extracted
    shallow = page("article_normal.html").decode().replace("<article>", "<div>" * 100 + "<article>")
    shallow = shallow.replace("</article>", "</article>" + "</div>" * 100)
    assert extract_page(shallow, url=URL).status == "ok"


def test_huge_page_is_truncated_and_bounded():
    para = (
        "<p>"
        + "Bitcoin miners report steady revenue as transaction fees climb again this week. " * 5
        + "</p>\n"
    )
    body = (
        "<html><head><title>Big</title></head><body><article>" + para * 30_000 + "</article></body></html>"
    ).encode()
    assert len(body) > 10_000_000
    r, elapsed = _timed(body, content_type="text/html")
    assert r.status == "ok", r.detail
    assert "truncated" in r.detail
    assert elapsed < 60
    many_elements = ("<html><body>" + "<div><a href='/x'>link</a></div>" * 20_000 + "</body></html>").encode()
    r, elapsed = _timed(many_elements)
    assert r.status == "too_large" and "elements" in r.detail and elapsed < 5
    too_big = b"<html><body>" + b"x" * (X.MAX_INPUT_BYTES + 1)
    r, elapsed = _timed(too_big)
    assert r.status == "too_large" and elapsed < 1


# ------------------------------------------------------------------------------------------------
# Scoring
# ------------------------------------------------------------------------------------------------
def test_scoring_tokens_and_shingles():
    assert tokenize("Bitcoin's price: $70,000 (ça va)") == ["Bitcoin", "s", "price", "70", "000", "ça", "va"]
    assert shingles(["a", "b"]) == {("a", "b"): 1}
    assert sum(shingles(tokenize("a b c d e")).values()) == 2
    assert shingles([]) == {}


def test_scoring_perfect_empty_and_partial():
    truth = "one two three four five six seven eight"
    perfect = score([(truth, truth)])
    assert (perfect.f1, perfect.precision, perfect.recall, perfect.accuracy) == (1.0, 1.0, 1.0, 1.0)
    assert score([("One, two; three four five six seven eight!", truth)]).accuracy == 0.0  # case kept
    empty = score([("", truth)])
    assert empty.recall == 0.0 and empty.f1 == 0.0 and empty.accuracy == 0.0
    tp, fp, fn = doc_counts("one two three four five six", truth)  # 3 of 5 shingles, nothing extra
    assert (tp, fp, fn) == pytest.approx((0.6, 0.0, 0.4))
    partial = score([("one two three four five six", truth), (truth + " extra words here now", truth)])
    assert partial.precision == pytest.approx((1.0 + 5 / 9) / 2)
    assert partial.recall == pytest.approx((0.6 + 1.0) / 2)
    assert partial.f1 == pytest.approx(
        2 * partial.precision * partial.recall / (partial.precision + partial.recall)
    )
    short = score([("alpha beta", "alpha beta")])
    assert short.f1 == 1.0


# ------------------------------------------------------------------------------------------------
# Benchmark
# ------------------------------------------------------------------------------------------------
def test_benchmark_f1():
    if not (BENCHMARK / "ground-truth.json").exists():
        pytest.skip(f"article-extraction benchmark not present at {BENCHMARK}")
    truth = json.loads((BENCHMARK / "ground-truth.json").read_text(encoding="utf-8"))
    pairs, refused = [], []
    for key, item in truth.items():
        body = gzip.decompress((BENCHMARK / "html" / f"{key}.html.gz").read_bytes())
        result, text = X.analyse_page(body, url=item["url"], content_type="text/html; charset=utf-8")
        pairs.append((text, item["articleBody"]))
        if result.status in ("blocked", "paywall_or_teaser"):
            refused.append((key, result.detail))
    s = score(pairs)
    assert s.f1 >= 0.965, s
    # the only refusals allowed are the two paywall teasers of the corpus (marked isAccessibleForFree=false)
    assert len(refused) <= 2, refused
    assert all("isAccessibleForFree" in detail for _, detail in refused), refused
