"""Hostile input from loopback servers, through the whole pipeline: entity tricks in XML, compression bombs,
endless and dripping bodies, a huge feed, poisonous text, unusable link schemes, and links or redirects that lead
to internal addresses.

The hostile server listens on 127.0.0.2 and only that address is exempt from the address guard
(``allow_private_hosts="127.0.0.2"``); internal targets point at canaries on 127.0.0.1 and ::1 that count every
connection they get: they must get none. Every test loads a normal fixture feed alongside, which must load fully.
"""

from __future__ import annotations

import gzip
import json
import os
import resource
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import LoopbackServer
from conftest import query as q
from crypto_news import pipeline
from crypto_news.config import Settings
from crypto_news.feeds.parse import parse_feed
from crypto_news.fetch import netguard
from sitekit import serve_site, write_feed_list

HOSTILE = Path(__file__).resolve().parent / "fixtures" / "hostile"
HOST = "127.0.0.2"
MAX_BYTES = 1024 * 1024
SETTINGS = Settings(allow_private_hosts=HOST, host_delay_s=0, retries=0, timeout_s=3, connect_timeout_s=2,
                    extract_workers=1, max_bytes=MAX_BYTES)
NORMAL_FEED = "chainpost.atom"  # 3 stories, all with full pages


# ------------------------------------------------------------------------------------------------ fixtures and helpers


class Canary:
    """A TCP listener that counts every connection made to it (and answers nothing)."""

    def __init__(self, host: str):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.host, self.port = host, self.sock.getsockname()[1]
        self.connections = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def url(self, path="/") -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{path}"

    def close(self):
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.fixture
def canaries():
    found = {"v4": Canary("127.0.0.1")}
    if _ipv6_loopback():
        found["v6"] = Canary("::1")
    yield found
    for c in found.values():
        c.close()


@pytest.fixture
def release():
    event = threading.Event()
    yield event
    event.set()


@pytest.fixture
def site():
    srv = LoopbackServer(HOST)
    yield srv
    threading.Thread(target=srv.close, daemon=True).start()



def run_with(db_url, site, tmp_path, extra: dict[str, str], settings: Settings = SETTINGS, max_s: float = 30.0):
    """Run the pipeline on the normal fixture feed plus ``extra`` (name -> URL); check the normal feed loaded in
    full and that the run stayed within ``max_s`` seconds and a bounded amount of memory."""
    feeds = serve_site(site, feeds=(NORMAL_FEED,))
    feeds_file = write_feed_list(tmp_path / "feeds.yml", {**feeds, **extra})
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    summary = pipeline.run(db_url, feeds_file, settings)
    elapsed = time.monotonic() - started
    assert elapsed < max_s, f"the run took {elapsed:.1f}s"
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    assert grown_mb < 300, f"peak memory grew by {grown_mb:.0f} MB"
    by_name = {f["name"]: f for f in summary["feeds"]}
    assert by_name[NORMAL_FEED]["status"] == "ok"
    normal = q(db_url, """SELECT a.extract_state, a.text_source FROM articles a JOIN article_sources s USING (article_id)
                          JOIN feeds f ON f.feed_id = s.feed_id WHERE f.name = %s""", NORMAL_FEED)
    assert normal == [("done", "page")] * 3
    return summary, by_name


def find_in_database(db_url, needle: str) -> list[str]:
    """Tables (of the crypto_news schema) with a row whose text form contains ``needle``: every text, array and
    JSON column at once."""
    tables = [r[0] for r in q(db_url, "SELECT table_name FROM information_schema.tables "
                                      "WHERE table_schema = 'crypto_news' AND table_type = 'BASE TABLE'")]
    found = []
    for t in tables:
        if q(db_url, f"SELECT count(*) FROM crypto_news.{t} x WHERE strpos(x::text, %s) > 0", needle)[0][0]:
            found.append(t)
    return found


def feed_route(site, path: str, body: bytes, **headers) -> str:
    return site.add(path, body, headers={"Content-Type": "application/rss+xml", **headers})


def rss(base: str, items: list[tuple[str, str]], title="Hostile Wire", description="Feed summary.") -> bytes:
    entries = "".join(f"<item><title>{t}</title><link>{link}</link><description>{description}</description></item>"
                      for t, link in items)
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>{title}</title>'
            f"<link>{base}/</link>{entries}</channel></rss>").encode()


# ------------------------------------------------------------------------------------------------ XML entity tricks


def test_external_entities_and_entity_expansion_are_never_resolved(migrated_db, site, canaries, tmp_path):
    secret = tmp_path / "secret.txt"
    marker = "SECRET-MARKER-7f3a9c"
    secret.write_text(f"{marker}\n")
    passwd = Path("/etc/passwd").read_text(encoding="utf-8", errors="replace").splitlines()[0]
    base = site.url("").rstrip("/")
    canary = canaries["v4"].url("").rstrip("/")
    subst = {"{{SECRET_FILE}}": str(secret), "{{BASE}}": base, "{{CANARY}}": canary}
    bodies = {}
    for name in ("xxe.rss", "billion_laughs.rss"):
        text = (HOSTILE / name).read_text(encoding="utf-8")
        for k, v in subst.items():
            text = text.replace(k, v)
        bodies[name] = text.encode("utf-8")
        feed_route(site, f"/hostile/{name}", bodies[name])

    started = time.monotonic()
    summary, by_name = run_with(migrated_db, site, tmp_path, {
        "XXE": site.url("/hostile/xxe.rss"), "Laughs": site.url("/hostile/billion_laughs.rss")})
    assert time.monotonic() - started < 30
    # Both feeds are read (as not well-formed XML, without their DOCTYPE): the entities stay unexpanded text.
    assert by_name["XXE"]["status"] == by_name["Laughs"]["status"] == "ok"
    titles = dict(q(migrated_db, "SELECT split_part(canonical_url, 'from=', 2), title FROM articles "
                                 "WHERE canonical_url LIKE '%%from=%%'"))
    assert titles["xxe"] == "External entity in a title: &secret; &passwd; &remote;"
    assert titles["laughs"] == "Exponential entities &lol9;"
    assert find_in_database(migrated_db, marker) == []
    assert passwd and find_in_database(migrated_db, passwd) == []
    assert find_in_database(migrated_db, "lollollollollol") == []
    assert canaries["v4"].connections == 0  # no external DTD or entity fetched
    # the same bytes straight through the parser: nothing read from disk either
    for body in bodies.values():
        parsed = parse_feed(body, {"content-type": "application/rss+xml"}, base + "/feed")
        dumped = json.dumps([vars(i) for i in parsed.items], default=str)
        assert marker not in dumped and passwd not in dumped and "lollollol" not in dumped


# ------------------------------------------------------------------------------------------------ bombs and endless bodies


BOMB = gzip.compress(b"\0" * (256 * MAX_BYTES), compresslevel=9)  # 256 MiB of zeros in ~250 KB


def test_gzip_bomb_feed_and_page_stop_at_the_cap(migrated_db, site, tmp_path):
    assert len(BOMB) < MAX_BYTES
    feed_route(site, "/bomb.rss", BOMB, **{"Content-Encoding": "gzip"})
    site.add("/bomb-page", BOMB, headers={"Content-Type": "text/html", "Content-Encoding": "gzip"})
    feed_route(site, "/pages.rss", rss(site.url("").rstrip("/"), [("Bomb page", site.url("/bomb-page"))]))
    summary, by_name = run_with(migrated_db, site, tmp_path, {"Bomb": site.url("/bomb.rss"),
                                                            "Pages": site.url("/pages.rss")})
    assert (by_name["Bomb"]["status"], by_name["Bomb"]["error_kind"]) == ("error", "too_large")
    assert "decompression" in by_name["Bomb"]["error"]
    assert q(migrated_db, "SELECT extract_state, extract_error_kind, text_source, text, page_sha256 FROM articles "
                          "WHERE canonical_url LIKE '%%/bomb-page'") == [
        ("done", "too_large", "feed_summary", "Feed summary.", None)]  # too large is final: no retry


def _endless(counter: dict, release: threading.Event, total: int = 1 << 30):
    """A 1 GiB body produced chunk by chunk (never held in memory); counts what was actually sent."""

    def handle(req):
        counter["sent"] = 0
        req.send_response(200)
        req.send_header("Content-Type", "application/rss+xml" if "feed" in req.path else "text/html")
        req.send_header("Connection", "close")
        req.end_headers()
        chunk = b"<p>" + b"a" * (64 * 1024 - 7) + b"</p>\n"
        try:
            while counter["sent"] < total and not release.is_set():
                req.wfile.write(chunk)
                counter["sent"] += len(chunk)
        except OSError:
            pass  # the client hung up: what we want
        finally:
            counter["stopped"] = time.monotonic()
        req.close_connection = True

    return handle


def test_one_gigabyte_body_is_cut_at_the_cap_and_the_server_stops(migrated_db, site, tmp_path, release):
    feed_sent, page_sent = {}, {}
    site.add("/endless-feed", handler=_endless(feed_sent, release))
    site.add("/endless-page", handler=_endless(page_sent, release))
    feed_route(site, "/pages.rss", rss(site.url("").rstrip("/"), [("Endless page", site.url("/endless-page"))]))
    summary, by_name = run_with(migrated_db, site, tmp_path, {"Endless": site.url("/endless-feed"),
                                                            "Pages": site.url("/pages.rss")})
    assert by_name["Endless"]["error_kind"] == "too_large"
    assert q(migrated_db, "SELECT extract_error_kind, text_source FROM articles "
                          "WHERE canonical_url LIKE '%%/endless-page'") == [("too_large", "feed_summary")]
    for sent in (feed_sent, page_sent):
        # the client hung up a little past the cap (socket buffers hold a few MB), long before 1 GiB
        deadline = time.monotonic() + 5
        while "stopped" not in sent and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "stopped" in sent, "the server was still sending"
        assert MAX_BYTES <= sent["sent"] < 64 * MAX_BYTES


def _drip(release: threading.Event, ctype: str):
    def handle(req):
        req.send_response(200)
        req.send_header("Content-Type", ctype)
        req.send_header("Content-Length", "100000")
        req.end_headers()
        for _ in range(60):  # one byte a second, for at most a minute
            try:
                req.wfile.write(b"<")
                req.wfile.flush()
            except OSError:
                return
            if release.wait(1.0):
                return

    return handle


def test_slow_drip_is_cut_by_the_deadline(migrated_db, site, tmp_path, release):
    site.add("/drip-feed", handler=_drip(release, "application/rss+xml"))
    site.add("/drip-page", handler=_drip(release, "text/html"))
    feed_route(site, "/pages.rss", rss(site.url("").rstrip("/"), [("Dripping page", site.url("/drip-page"))]))
    settings = replace(SETTINGS, timeout_s=2.0)
    started = time.monotonic()
    summary, by_name = run_with(migrated_db, site, tmp_path, {"Drip": site.url("/drip-feed"),
                                                            "Pages": site.url("/pages.rss")}, settings)
    assert time.monotonic() - started < 15  # two deadlines of 2 s, not a minute of dripping
    assert by_name["Drip"]["error_kind"] == "timeout"
    assert by_name["Drip"]["duration_ms"] < 4000
    assert q(migrated_db, "SELECT extract_state, extract_error_kind, text_source FROM articles "
                          "WHERE canonical_url LIKE '%%/drip-page'") == [("retry", "timeout", "feed_summary")]


# ------------------------------------------------------------------------------------------------ a huge feed

_HUGE_FEED_RUN = """
import json, resource, sys, time
from crypto_news import pipeline
from crypto_news.config import Settings
settings = Settings(allow_private_hosts=sys.argv[3], host_delay_s=0, retries=0, timeout_s=30, extract_workers=1)
started = time.monotonic()
ids = pipeline.sync_feeds(sys.argv[1], sys.argv[2])
run_id = pipeline.start_run(sys.argv[1], trigger="test")
counts = pipeline.fetch_feeds(sys.argv[1], run_id, ids, settings)
summary = pipeline.finish_run(sys.argv[1], run_id, ids)
print(json.dumps({"seconds": time.monotonic() - started, "max_rss_mb": resource.getrusage(
    resource.RUSAGE_SELF).ru_maxrss / 1024, "counts": counts, "feeds": summary["feeds"]}))
"""


def test_feed_with_100000_items_is_bounded(migrated_db, site, tmp_path):
    items = "".join(f"<item><link>/{i}</link></item>" for i in range(100_000))  # resolved against the feed URL
    body = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Huge</title>{items}</channel></rss>').encode()
    assert len(body) < 5 * 1024 * 1024  # under the default body cap: the feed is accepted
    feed_route(site, "/huge.rss", body)
    feeds = write_feed_list(tmp_path / "feeds.yml", {**serve_site(site, feeds=(NORMAL_FEED,)),
                                                     "Huge": site.url("/huge.rss")})
    # The feed stage only, in its own process (its peak memory is measured alone). The per-feed item cap keeps
    # the first 500 items (feeds list the newest first); the rest are counted as skipped.
    proc = subprocess.run([sys.executable, "-c", _HUGE_FEED_RUN, migrated_db, str(feeds), HOST],
                          capture_output=True, text=True, timeout=240, env=os.environ)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    by_name = {f["name"]: f for f in out["feeds"]}
    assert by_name[NORMAL_FEED]["status"] == "ok"
    assert (by_name["Huge"]["status"], by_name["Huge"]["items_new"]) == ("ok", 500)
    assert q(migrated_db, "SELECT items_seen, items_skipped FROM feed_fetches f JOIN feeds USING (feed_id) "
                          "WHERE name = 'Huge'") == [(100_000, 99_500)]
    print(f"100,000-item feed: {out['seconds']:.1f} s, peak {out['max_rss_mb']:.0f} MB")
    assert out["seconds"] < 180, out
    assert out["max_rss_mb"] < 1024, out
    assert q(migrated_db, "SELECT count(*), count(DISTINCT canonical_url) FROM articles") == [(503, 503)]


# ------------------------------------------------------------------------------------------------ poisonous text


def test_poisonous_titles_are_stored_as_plain_text(migrated_db, site, tmp_path):
    base = site.url("").rstrip("/")
    link = base + "/news/defi-exploit?n={}"
    sql = "'); DROP TABLE articles;--"
    items = [
        ("T0 " + "long " * (5 * 1024 * 1024 // 5), link.format(0)),  # a 5 MB title
        ("T1 nul\x00byte and &#0; entity", link.format(1)),
        ("T2 lone &#xD800; surrogate &#xDFFF; pair", link.format(2)),
        ("T3 rtl \u202eevil.exe\u202c zero\u200bwidth \ufeffbom", link.format(3)),
        (f"T4 {sql}".replace("'", "&apos;"), link.format(4)),
        ("T5 &lt;script&gt;alert(document.cookie)&lt;/script&gt;&lt;b&gt;bold&lt;/b&gt; "
         "&lt;img src=x onerror=alert(1)&gt;", link.format(5)),
        ("T6 <![CDATA[<script>alert(2)</script><iframe src=//x></iframe>cdata]]>", link.format(6)),
    ]
    body = rss(base, items)
    invalid_utf8 = rss(base, [("T7 bad \xff\xfe bytes", link.format(7))]).replace(b"\xc3\xbf\xc3\xbe", b"\xff\xfe")
    feed_route(site, "/poison.rss", body)
    feed_route(site, "/bad-utf8.rss", invalid_utf8)
    settings = replace(SETTINGS, max_bytes=16 * MAX_BYTES)
    summary, by_name = run_with(migrated_db, site, tmp_path, {"Poison": site.url("/poison.rss"),
                                                            "Bad UTF-8": site.url("/bad-utf8.rss")}, settings)
    assert by_name["Poison"]["status"] == "ok" and by_name["Bad UTF-8"]["status"] == "ok"
    titles = {t[:2]: t for (t,) in q(migrated_db, "SELECT title FROM articles WHERE title ~ '^T[0-9]'")}
    assert sorted(titles) == [f"T{i}" for i in range(8)]
    assert len(titles["T0"]) <= 1000 and titles["T0"].endswith("…")
    assert titles["T1"] == "T1 nulbyte and \ufffd entity"  # a raw NUL dropped, &#0; replaced
    assert titles["T2"] == "T2 lone \ufffd surrogate \ufffd pair"  # and the feed is not lost over it
    assert titles["T3"] == "T3 rtl \u202eevil.exe\u202c zero\u200bwidth \ufeffbom"  # valid text: kept (see docs)
    assert titles["T4"] == f"T4 {sql}"  # stored verbatim: parameters, never SQL
    assert "<" not in titles["T5"] and "bold" in titles["T5"] and "alert(document.cookie)" not in titles["T5"]
    assert "<" not in titles["T6"] and "alert(2)" not in titles["T6"] and titles["T6"].endswith("cdata")
    assert titles["T7"] == "T7 bad \xff\xfe bytes"  # not UTF-8: read as windows-1252, stored as valid text
    assert q(migrated_db, "SELECT count(*) FROM articles") == [(11,)]  # the tables are intact
    control_chars = "[\\x01-\\x08\\x0b\\x0c\\x0e-\\x1f]"
    assert q(migrated_db, "SELECT count(*) FROM articles WHERE title ~ %s OR summary ~ %s OR text ~ %s",
             control_chars, control_chars, control_chars) == [(0,)]


def test_unusable_link_schemes_are_skipped_with_a_reason(migrated_db, site, canaries, tmp_path):
    base = site.url("").rstrip("/")
    links = ["javascript:alert(1)", "file:///etc/passwd", "data:text/html;base64,PHNjcmlwdD4=",
             "ftp://127.0.0.1/pub/file", "/news/price-falls?n=relative", f"{base}/news/price-falls?n=ok"]
    body = rss(base, [(f"Link {i}", link) for i, link in enumerate(links)])
    feed_route(site, "/schemes.rss", body)
    parsed = parse_feed(body, {"content-type": "application/rss+xml"}, base + "/schemes.rss")
    assert parsed.skipped == ["link scheme 'javascript' is not http or https", "link scheme 'file' is not http or https",
                              "link scheme 'data' is not http or https", "link scheme 'ftp' is not http or https"]
    assert parsed.items[0].url == base + "/news/price-falls?n=relative"  # resolved against the feed's URL
    summary, by_name = run_with(migrated_db, site, tmp_path, {"Schemes": site.url("/schemes.rss")})
    assert (by_name["Schemes"]["items_seen"], by_name["Schemes"]["items_new"]) == (6, 2)
    assert q(migrated_db, "SELECT items_skipped FROM feed_fetches x JOIN feeds f USING (feed_id) "
                          "WHERE f.name = 'Schemes'") == [(4,)]
    root = Path("/etc/passwd").read_text(errors="replace").splitlines()[0]
    assert find_in_database(migrated_db, root) == []


# ------------------------------------------------------------------------------------------------ internal addresses


@pytest.fixture
def evil_dns(monkeypatch):
    """Names that resolve to internal addresses (the resolver is the guard's, so connections see the same)."""
    real = netguard.getaddrinfo
    table = {"metadata.evil.test": "169.254.169.254", "loop.evil.test": "127.0.0.1", "six.evil.test": "::1"}

    def resolve(host, port, *args, **kwargs):
        name = str(host).rstrip(".").lower()
        if name in table:
            a = table[name]
            return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(netguard, "getaddrinfo", resolve)


def test_links_and_redirects_to_internal_addresses_are_blocked(migrated_db, site, canaries, evil_dns, tmp_path):
    v4 = canaries["v4"]
    v6 = canaries.get("v6")
    p = v4.port
    targets = {
        "loopback": f"http://127.0.0.1:{p}/secret",
        "metadata": "http://169.254.169.254/latest/meta-data/iam/",
        "ipv6": f"http://[::1]:{v6.port if v6 else p}/secret",
        "hex": f"http://0x7f000001:{p}/secret",
        "decimal": f"http://2130706433:{p}/secret",
        "octal": f"http://0177.0.0.1:{p}/secret",
        "localhost": f"http://localhost:{p}/secret",
        "dns-loop": f"http://loop.evil.test:{p}/secret",
        "dns-metadata": "http://metadata.evil.test/latest/meta-data/",
        "dns-six": f"http://six.evil.test:{v6.port if v6 else p}/secret",
        "mapped": f"http://[::ffff:127.0.0.1]:{p}/secret",
    }
    for name, target in targets.items():
        site.add(f"/redirect/{name}", status=302, headers={"Location": target})
    base = site.url("").rstrip("/")
    items = [(f"Direct {n}", f"{t}?k=direct") for n, t in targets.items()]
    items += [(f"Redirect {n}", f"{base}/redirect/{n}") for n in targets]
    feed_route(site, "/ssrf.rss", rss(base, items))
    extra = {"SSRF": site.url("/ssrf.rss"), "Feed on loopback": f"http://127.0.0.1:{p}/feed.rss",
             "Feed via redirect": site.url("/redirect/loopback"), "Feed via name": f"http://loop.evil.test:{p}/f"}
    summary, by_name = run_with(migrated_db, site, tmp_path, extra)
    for name in ("Feed on loopback", "Feed via redirect", "Feed via name"):
        assert (by_name[name]["status"], by_name[name]["error_kind"]) == ("error", "blocked"), name
    rows = q(migrated_db, """SELECT title, extract_state, extract_error_kind, text_source, page_sha256 FROM articles
                             WHERE title ~ '^(Direct|Redirect) '""")
    assert len(rows) == 2 * len(targets)
    assert {r[1:] for r in rows} == {("done", "blocked", "feed_summary", None)}, rows
    assert v4.connections == 0 and (v6 is None or v6.connections == 0)
    # a blocked fetch is final: the next run does not try again
    assert q(migrated_db, "SELECT count(*) FROM articles WHERE extract_state = 'retry'") == [(0,)]
