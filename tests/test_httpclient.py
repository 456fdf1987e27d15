"""HttpClient against real HTTP servers on loopback: retries, deadlines, size caps, decoding, redirects, the
SSRF guard on every hop, robots.txt and per-host politeness.

Host names never reach a real resolver: ``fake_dns`` answers from a fixed table.
"""

from __future__ import annotations

import gzip
import itertools
import socket
import struct
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from email.utils import formatdate

import brotli
import pytest

from conftest import LoopbackServer
from crypto_news.config import Settings
from crypto_news.fetch import ERROR_KINDS, FetchError, HttpClient, Response, netguard

FAST_BACKOFF = 0.01  # seconds; keeps retry tests quick


def _close_in_background(server: LoopbackServer) -> None:
    # LoopbackServer.close waits for the serve loop's 0.5 s poll; nothing here needs to wait for it.
    threading.Thread(target=server.close, daemon=True).start()


@pytest.fixture
def http_server():
    """As in conftest, but closed without waiting."""
    srv = LoopbackServer()
    yield srv
    _close_in_background(srv)


@pytest.fixture
def make_server():
    """As in conftest, but closed without waiting."""
    servers: list[LoopbackServer] = []

    def make(host="127.0.0.1"):
        servers.append(LoopbackServer(host))
        return servers[-1]

    yield make
    for srv in servers:
        _close_in_background(srv)


@pytest.fixture(autouse=True)
def fake_dns(monkeypatch):
    """Resolve names from this table only (unknown names fail like NXDOMAIN); IP literals pass through."""
    table: dict[str, list[str]] = {"localhost": ["127.0.0.1"]}
    real = socket.getaddrinfo

    def resolve(host, port, *args, **kwargs):
        name = str(host).rstrip(".").lower()
        if name in table:
            entry = table[name]
            addresses = entry() if callable(entry) else entry
            return [
                (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                for a in addresses
            ]
        try:
            return real(host, port, *args, flags=socket.AI_NUMERICHOST)
        except socket.gaierror:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None

    monkeypatch.setattr(netguard, "getaddrinfo", resolve)
    return table


def make_client(allow="127.0.0.1", **overrides) -> HttpClient:
    values = {
        "allow_private_hosts": allow,
        "host_delay_s": 0.0,
        "host_concurrency": 4,
        "timeout_s": 5.0,
        "connect_timeout_s": 2.0,
        "retries": 2,
        "retry_max_wait_s": 2.0,
        "max_bytes": 1024 * 1024,
    }
    values.update(overrides)
    return HttpClient(Settings(**values), backoff_base_s=FAST_BACKOFF)


def fetch_error(client: HttpClient, url: str, **kwargs) -> FetchError:
    with pytest.raises(FetchError) as info:
        client.get(url, **kwargs)
    assert info.value.kind in ERROR_KINDS
    return info.value


def sequence_handler(*steps):
    """A handler answering the n-th request with steps[n] = (status, headers, body); the last step repeats."""
    count = {"n": 0}

    def handle(req):
        status, headers, body = steps[min(count["n"], len(steps) - 1)]
        count["n"] += 1
        req.send_response(status)
        for k, v in {"Content-Length": str(len(body)), **headers}.items():
            req.send_header(k, v)
        req.end_headers()
        req.wfile.write(body)

    return handle


# ---------------------------------------------------------------------------------------------- basics


def test_get_returns_body_headers_and_sends_user_agent(http_server):
    url = http_server.add(
        "/feed.xml", b"<rss/>", headers={"ETag": '"v1"', "Content-Type": "application/rss+xml"}
    )
    with make_client() as client:
        resp = client.get(url)
    assert isinstance(resp, Response)
    assert (resp.status, resp.body, resp.url, resp.final_url, resp.redirects) == (
        200,
        b"<rss/>",
        url,
        url,
        [],
    )
    assert resp.headers["etag"] == '"v1"' and resp.headers["content-type"] == "application/rss+xml"
    assert resp.elapsed_s >= 0
    sent = http_server.requests[0][2]
    assert sent["User-Agent"] == client.settings.ua
    assert "gzip" in sent["Accept-Encoding"] and "br" in sent["Accept-Encoding"]


def test_connections_are_reused(http_server):
    peers = []

    def handle(req):
        peers.append(req.client_address)
        req.send_response(200)
        req.send_header("Content-Length", "2")
        req.end_headers()
        req.wfile.write(b"ok")

    url = http_server.add("/", handler=handle)
    with make_client() as client:
        for _ in range(3):
            client.get(url)
    assert len(set(peers)) == 1


def test_304_round_trip_passes_conditional_headers(http_server):
    def handle(req):
        if req.headers.get("If-None-Match") == '"v1"':
            req.send_response(304)
            req.send_header("ETag", '"v1"')
            req.end_headers()
        else:
            sequence_handler((200, {"ETag": '"v1"'}, b"<rss/>"))(req)

    url = http_server.add("/feed", handler=handle)
    with make_client() as client:
        first = client.get(url)
        second = client.get(url, headers={"If-None-Match": first.headers["etag"]})
    assert first.status == 200 and first.body == b"<rss/>"
    assert second.status == 304 and second.body == b"" and second.headers["etag"] == '"v1"'
    assert http_server.requests[1][2]["If-None-Match"] == '"v1"'


def test_4xx_is_http_error_without_retry(http_server):
    url = http_server.add("/gone", b"gone", status=410)
    with make_client() as client:
        err = fetch_error(client, url)
    assert (err.kind, err.status, err.retryable) == ("http_error", 410, False)
    assert str(err) == "HTTP 410 from 127.0.0.1"
    assert http_server.routes["/gone"].hits == 1


# ---------------------------------------------------------------------------------------------- retries


def test_429_with_retry_after_then_success(http_server):
    url = http_server.add(
        "/", handler=sequence_handler((429, {"Retry-After": "1"}, b"slow down"), (200, {}, b"fine"))
    )
    with make_client() as client:
        started = time.monotonic()
        resp = client.get(url)
    assert resp.body == b"fine"
    assert time.monotonic() - started >= 0.95  # Retry-After honoured, not the tiny backoff
    assert http_server.routes["/"].hits == 2


def test_retry_after_http_date(http_server):
    past = formatdate(time.time() - 60, usegmt=True)
    url = http_server.add("/", handler=sequence_handler((503, {"Retry-After": past}, b""), (200, {}, b"ok")))
    with make_client() as client:
        assert client.get(url).body == b"ok"


def test_retry_after_beyond_bound_gives_up_at_once(http_server):
    url = http_server.add("/", b"", status=429, headers={"Retry-After": "3600"})
    with make_client(retry_max_wait_s=1.0) as client:
        started = time.monotonic()
        err = fetch_error(client, url)
    assert time.monotonic() - started < 1.0
    assert (err.kind, err.status, err.retryable) == ("http_error", 429, True)
    assert "Retry-After" in str(err)
    assert http_server.routes["/"].hits == 1


def test_500_then_success(http_server):
    url = http_server.add("/", handler=sequence_handler((500, {}, b"oops"), (200, {}, b"ok")))
    with make_client() as client:
        assert client.get(url).body == b"ok"
    assert http_server.routes["/"].hits == 2


def test_500_forever(http_server):
    url = http_server.add("/", b"oops", status=500)
    with make_client(retries=2) as client:
        err = fetch_error(client, url)
    assert (err.kind, err.status, err.retryable) == ("http_error", 500, True)
    assert str(err) == "HTTP 500 from 127.0.0.1 after 3 attempts"
    assert http_server.routes["/"].hits == 3


# ---------------------------------------------------------------------------------------------- deadlines


@pytest.fixture
def release():
    """Set at teardown so stalled handlers return and the server can shut down."""
    event = threading.Event()
    yield event
    event.set()


def test_stall_mid_body_times_out(http_server, release):
    def handle(req):
        req.send_response(200)
        req.send_header("Content-Length", "1000")
        req.end_headers()
        req.wfile.write(b"x" * 10)
        req.wfile.flush()
        release.wait(10)

    url = http_server.add("/", handler=handle)
    with make_client(timeout_s=0.5) as client:
        started = time.monotonic()
        err = fetch_error(client, url)
    assert (err.kind, err.retryable) == ("timeout", True)
    assert time.monotonic() - started < 2.0
    assert http_server.routes["/"].hits == 1  # timeouts are not retried within the request


def _drip(release):
    """A handler that promises 100 bytes and sends one every 50 ms (until ``release`` is set)."""
    def handle(req):
        req.send_response(200)
        req.send_header("Content-Length", "100")
        req.end_headers()
        for _ in range(100):
            if release.wait(0.05):
                return
            try:
                req.wfile.write(b"x")
                req.wfile.flush()
            except OSError:
                return

    return handle


def test_slow_drip_is_cut_at_deadline(http_server, release):
    url = http_server.add("/", handler=_drip(release))
    with make_client(timeout_s=0.6) as client:
        started = time.monotonic()
        err = fetch_error(client, url)
    elapsed = time.monotonic() - started
    assert err.kind == "timeout"
    assert 0.5 <= elapsed < 1.5


def test_deadlines_share_one_watchdog_thread_and_a_later_drip_is_still_cut(http_server, release):
    """Every request has a deadline, all watched by one thread (not a timer thread per request); deadlines of
    finished requests are forgotten, and a request that stalls after many quick ones is still cut on time."""
    import threading

    url = http_server.add("/quick", b"ok", headers={"Content-Type": "text/plain"})
    slow = http_server.add("/slow", handler=_drip(release))
    with make_client(timeout_s=0.6) as client:
        for _ in range(30):
            assert client.get(url).body == b"ok"
        watchers = [t for t in threading.enumerate() if t.name == "crypto-news-deadlines"]
        assert len(watchers) == 1 and not any(isinstance(t, threading.Timer) for t in threading.enumerate())
        started = time.monotonic()
        err = fetch_error(client, slow)
    assert err.kind == "timeout" and 0.5 <= time.monotonic() - started < 1.5


def test_slow_drip_of_headers_is_cut_at_deadline(http_server, release):
    def handle(req):
        for byte in b"HTTP/1.1 200 OK\r\nX-Padding: " + b"a" * 200:
            if release.wait(0.05):
                return
            try:
                req.wfile.write(bytes([byte]))
                req.wfile.flush()
            except OSError:
                return

    url = http_server.add("/", handler=handle)
    with make_client(timeout_s=0.6) as client:
        started = time.monotonic()
        err = fetch_error(client, url)
    assert err.kind == "timeout"
    assert time.monotonic() - started < 1.5


# ---------------------------------------------------------------------------------------------- size cap


def test_body_over_limit_with_content_length_is_refused_early(http_server):
    url = http_server.add("/", b"x" * 5000)
    with make_client(max_bytes=1000) as client:
        err = fetch_error(client, url)
        assert err.kind == "too_large" and "5000 bytes" in str(err)
        assert client.get(url, max_bytes=5000).body == b"x" * 5000  # per-call cap


def _stream_without_length(body: bytes, chunked: bool):
    def handle(req):
        req.send_response(200)
        if chunked:
            req.send_header("Transfer-Encoding", "chunked")
        else:
            req.send_header("Connection", "close")
        req.end_headers()
        try:
            for i in range(0, len(body), 4096):
                part = body[i : i + 4096]
                req.wfile.write(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
            if chunked:
                req.wfile.write(b"0\r\n\r\n")
        except OSError:
            pass
        req.close_connection = True

    return handle


@pytest.mark.parametrize("chunked", [False, True], ids=["close-delimited", "chunked"])
def test_body_over_limit_without_content_length(http_server, chunked):
    url = http_server.add("/", handler=_stream_without_length(b"y" * 200_000, chunked))
    with make_client(max_bytes=50_000) as client:
        err = fetch_error(client, url)
    assert err.kind == "too_large"


def test_body_exactly_at_limit_is_fine(http_server):
    url = http_server.add("/", handler=_stream_without_length(b"y" * 50_000, True))
    with make_client(max_bytes=50_000) as client:
        assert len(client.get(url).body) == 50_000


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_compression_bomb_stops_at_cap(http_server, encoding):
    plain = b"\0" * (16 * 1024 * 1024)
    compress = {
        "gzip": gzip.compress,
        "deflate": zlib.compress,
        "br": lambda b: brotli.compress(b, quality=5),
    }
    bomb = compress[encoding](plain)
    assert len(bomb) < 64 * 1024
    url = http_server.add("/", bomb, headers={"Content-Encoding": encoding})
    with make_client(max_bytes=256 * 1024) as client:
        err = fetch_error(client, url)
    assert err.kind == "too_large" and "decompression" in str(err)


@pytest.mark.parametrize(
    "encoding,compress",
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda b: zlib.compress(b)[2:-4]),  # raw deflate, as some servers send it
        ("br", brotli.compress),
    ],
    ids=["gzip", "deflate-zlib", "deflate-raw", "br"],
)
def test_compressed_bodies_are_decoded(http_server, encoding, compress):
    plain = b"<rss>" + b"<item>news</item>" * 5000 + b"</rss>"
    url = http_server.add("/", compress(plain), headers={"Content-Encoding": encoding})
    with make_client() as client:
        assert client.get(url).body == plain


def test_corrupt_compressed_body(http_server):
    url = http_server.add("/", b"this is not gzip", headers={"Content-Encoding": "gzip"})
    with make_client() as client:
        err = fetch_error(client, url)
    assert err.kind == "http_error" and "gzip" in str(err)


# ---------------------------------------------------------------------------------------------- redirects


def test_relative_redirects_are_followed(http_server):
    http_server.add("/a", status=301, headers={"Location": "/b"})
    http_server.add("/b", status=302, headers={"Location": "c"})
    http_server.add("/c", b"done")
    with make_client() as client:
        resp = client.get(http_server.url("/a"))
    assert resp.body == b"done"
    assert resp.final_url == http_server.url("/c")
    assert resp.redirects == [http_server.url("/b"), http_server.url("/c")]


def test_redirect_loop(http_server):
    http_server.add("/a", status=302, headers={"Location": "/b"})
    http_server.add("/b", status=302, headers={"Location": "/a"})
    with make_client(max_redirects=5) as client:
        err = fetch_error(client, http_server.url("/a"))
    assert err.kind == "too_many_redirects"
    assert len(http_server.requests) == 6  # the first request and five redirects


def test_redirect_limit_is_inclusive(http_server):
    http_server.add("/1", status=302, headers={"Location": "/2"})
    http_server.add("/2", status=302, headers={"Location": "/3"})
    http_server.add("/3", b"end")
    with make_client(max_redirects=2) as client:
        assert client.get(http_server.url("/1")).body == b"end"
    with make_client(max_redirects=1) as client:
        assert fetch_error(client, http_server.url("/1")).kind == "too_many_redirects"


def test_redirect_to_other_scheme_is_bad_url(http_server):
    url = http_server.add("/", status=302, headers={"Location": "file:///etc/passwd"})
    with make_client() as client:
        assert fetch_error(client, url).kind == "bad_url"


def test_credentials_not_forwarded_across_origins(make_server):
    a, b = make_server("127.0.0.2"), make_server("127.0.0.3")
    target = b.add("/", b"ok")
    url = a.add("/", status=302, headers={"Location": target})
    with make_client(allow="127.0.0.2,127.0.0.3") as client:
        client.get(url, headers={"Authorization": "Bearer secret", "If-None-Match": '"x"'})
    assert a.requests[0][2]["Authorization"] == "Bearer secret"
    assert "Authorization" not in b.requests[0][2]
    assert b.requests[0][2]["If-None-Match"] == '"x"'


# ---------------------------------------------------------------------------------------------- SSRF guard


@pytest.mark.parametrize("target", ["loopback", "metadata", "numeric"])
def test_redirect_to_private_address_is_blocked(make_server, target):
    public = make_server("127.0.0.2")
    private = make_server("127.0.0.1")
    private.add("/secret", b"secret")
    location = {
        "loopback": private.url("/secret"),
        "metadata": "http://169.254.169.254/latest/meta-data/",
        "numeric": f"http://2130706433:{private.port}/secret",
    }[target]
    url = public.add("/feed", status=302, headers={"Location": location})
    with make_client(allow="127.0.0.2") as client:
        err = fetch_error(client, url)
    assert err.kind == "blocked" and not err.retryable
    assert "refused unless CRYPTO_NEWS_ALLOW_PRIVATE_HOSTS allows it" in str(err)
    assert "blocked" not in str(err)  # the kind says it; the summary prints "<kind>: <message>"
    assert private.requests == []


def test_guard_refuses_before_connecting(make_server):
    private = make_server("127.0.0.1")
    url = private.add("/", b"secret")
    with make_client(allow="") as client:
        err = fetch_error(client, url)
    assert str(err) == "127.0.0.1 is a loopback address, refused unless CRYPTO_NEWS_ALLOW_PRIVATE_HOSTS allows it"
    assert private.requests == []


def test_allowlisted_host_name_connects_to_checked_address(make_server, fake_dns):
    srv = make_server("127.0.0.2")
    fake_dns["feeds.local"] = ["127.0.0.2"]
    srv.add("/", b"ok")
    with make_client(allow="feeds.local") as client:
        assert client.get(f"http://feeds.local:{srv.port}/").body == b"ok"
    assert srv.requests[0][2]["Host"] == f"feeds.local:{srv.port}"


def test_dns_rebinding_is_caught_at_connect_time(make_server, fake_dns):
    """The name is public when checked, loopback when the connection resolves it: the connection refuses."""
    private = make_server("127.0.0.1")
    answers = iter([["93.184.216.34"], ["127.0.0.1"], ["127.0.0.1"], ["127.0.0.1"]])
    fake_dns["rebind.example"] = lambda: next(answers)
    with make_client(allow="") as client:
        err = fetch_error(client, f"http://rebind.example:{private.port}/")
    assert err.kind == "blocked" and "127.0.0.1" in str(err)
    assert private.requests == []


# ---------------------------------------------------------------------------------------------- network errors


def test_connection_reset_mid_body(http_server):
    def handle(req):
        req.send_response(200)
        req.send_header("Content-Length", "1000")
        req.end_headers()
        req.wfile.write(b"x" * 10)
        req.wfile.flush()
        req.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        req.connection.close()  # RST
        req.close_connection = True

    url = http_server.add("/", handler=handle)
    with make_client(retries=1) as client:
        err = fetch_error(client, url)
    assert (err.kind, err.retryable) == ("connection", True)
    assert http_server.routes["/"].hits == 2  # retried once


def test_connection_refused():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with make_client(retries=1) as client:
        err = fetch_error(client, f"http://127.0.0.1:{port}/")
    assert (err.kind, err.retryable) == ("connection", True)
    assert "after 2 attempts" in str(err)


def test_unknown_host_is_dns_error():
    with make_client(allow="") as client:
        err = fetch_error(client, "http://no-such-host.invalid/feed")
    assert err.kind == "dns" and "no-such-host.invalid" in str(err)


@pytest.mark.parametrize(
    "url", ["ftp://example.com/", "javascript:alert(1)", "http://", "http://a b/", "/relative"]
)
def test_bad_urls(url):
    with make_client() as client:
        assert fetch_error(client, url).kind == "bad_url"


def test_tls_error_maps_to_tls(http_server):
    """A plain-HTTP server spoken to over https fails the handshake."""
    http_server.add("/", b"ok")
    with make_client(retries=0) as client:
        err = fetch_error(client, f"https://127.0.0.1:{http_server.port}/")
    assert err.kind == "tls"


# ---------------------------------------------------------------------------------------------- robots.txt


def test_robots_disallow(http_server):
    http_server.add(
        "/robots.txt",
        b"User-agent: *\nDisallow: /private\n\nUser-agent: crypto-news\nDisallow: /feeds/secret\n",
    )
    http_server.add("/feeds/secret", b"no")
    http_server.add("/feeds/open", b"yes")
    with make_client() as client:
        assert client.robots_allowed(http_server.url("/feeds/open"))
        assert not client.robots_allowed(http_server.url("/feeds/secret"))
        assert client.robots_allowed(http_server.url("/private"))  # our own group replaces "*"
        err = fetch_error(client, http_server.url("/feeds/secret"), obey_robots=True)
        assert err.kind == "robots"
        assert client.get(http_server.url("/feeds/open"), obey_robots=True).body == b"yes"
    assert http_server.routes["/robots.txt"].hits == 1  # cached per host
    assert http_server.routes["/feeds/secret"].hits == 0


def test_robots_wildcards_and_end_anchor_are_matched(http_server):
    """RFC 9309 patterns: ``*`` matches any run of characters, ``$`` anchors the end, the longest rule wins."""
    http_server.add(
        "/robots.txt",
        b"User-agent: *\nDisallow: /*.pdf$\nDisallow: /search*q=\nDisallow: /archive/\nAllow: /archive/open/\n",
    )
    with make_client() as client:
        assert not client.robots_allowed(http_server.url("/reports/annual.pdf"))
        assert client.robots_allowed(http_server.url("/reports/annual.pdf.html"))  # "$": only at the end
        assert not client.robots_allowed(http_server.url("/search/news?page=2&q=bitcoin"))
        assert client.robots_allowed(http_server.url("/search/news?page=2"))
        assert not client.robots_allowed(http_server.url("/archive/2024/story"))
        assert client.robots_allowed(http_server.url("/archive/open/story"))  # the longer Allow wins


@pytest.mark.parametrize("status", [404, 403, 500])
def test_robots_missing_or_failing_means_allowed(http_server, status):
    http_server.add("/robots.txt", b"User-agent: *\nDisallow: /\n", status=status)
    with make_client(retries=0) as client:
        assert client.robots_allowed(http_server.url("/anything"))


def test_robots_sitemap_lines_come_from_the_same_cached_file(http_server):
    """The ``Sitemap:`` lines (any case, in any group or outside one) are read from the robots.txt already fetched
    for the rules: one request per origin for both."""
    base = http_server.url("")
    http_server.add(
        "/robots.txt",
        (f"Sitemap: {base}/sitemap-news.xml\nUser-agent: *\nDisallow: /*.pdf$\n"
         f"sitemap: {base}/sitemap-archive.xml.gz\n").encode(),
    )
    with make_client() as client:
        assert not client.robots_allowed(http_server.url("/report.pdf"))
        assert client.robots_sitemaps(http_server.url("/feed.xml")) == [
            f"{base}/sitemap-news.xml", f"{base}/sitemap-archive.xml.gz"]
    assert http_server.routes["/robots.txt"].hits == 1


@pytest.mark.parametrize("status", [404, 500])
def test_robots_sitemaps_none_without_a_robots_file(http_server, status):
    http_server.add("/robots.txt", b"Sitemap: /never-read.xml\n", status=status)
    with make_client(retries=0) as client:
        assert client.robots_sitemaps(http_server.url("/feed.xml")) == []


# ---------------------------------------------------------------------------------------------- politeness


def test_per_host_concurrency_is_never_exceeded(make_server):
    srv = make_server("127.0.0.2")
    lock = threading.Lock()
    state = {"now": 0, "max": 0}

    def handle(req):
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        time.sleep(0.1)
        with lock:
            state["now"] -= 1
        sequence_handler((200, {}, b"ok"))(req)

    url = srv.add("/", handler=handle)
    with make_client(allow="127.0.0.2", host_concurrency=2) as client, ThreadPoolExecutor(8) as pool:
        assert all(r.body == b"ok" for r in pool.map(lambda _: client.get(url), range(8)))
    assert state["max"] == 2


def test_per_host_delay_while_hosts_run_in_parallel(make_server):
    servers = [make_server("127.0.0.2"), make_server("127.0.0.3")]
    starts: dict[str, list[float]] = {s.host: [] for s in servers}
    for srv in servers:

        def handle(req, host=srv.host):
            starts[host].append(time.monotonic())
            sequence_handler((200, {}, b"ok"))(req)

        srv.add("/", handler=handle)
    delay = 0.25
    urls = [s.url("/") for s in servers for _ in range(4)]
    with make_client(allow="127.0.0.2,127.0.0.3", host_delay_s=delay, host_concurrency=4) as client:
        began = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(client.get, urls))
        elapsed = time.monotonic() - began
    for host, times in starts.items():
        times.sort()
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert len(times) == 4 and min(gaps) >= delay - 0.02, (host, gaps)
    assert elapsed < 2 * 3 * delay  # the two hosts overlapped (sequential would be ~1.5 s)


def test_robots_fetched_once_under_concurrency(http_server):
    http_server.add("/robots.txt", b"User-agent: *\nDisallow: /no\n")
    with make_client() as client, ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda i: client.robots_allowed(http_server.url(f"/no/{i % 2}")), range(16)))
    assert answers == [False] * 16
    assert http_server.routes["/robots.txt"].hits == 1


def test_stacked_content_encodings_are_decoded(http_server):
    plain = b"<feed>" + b"x" * 10000 + b"</feed>"
    url = http_server.add(
        "/", brotli.compress(gzip.compress(plain)), headers={"Content-Encoding": "gzip, br"}
    )
    with make_client() as client:
        assert client.get(url).body == plain


def test_https_verifies_against_the_host_name(tmp_path, fake_dns):
    """The connection goes to the checked IP, but SNI and certificate checks use the URL's host name."""
    import shutil
    import ssl
    import subprocess

    if not shutil.which("openssl"):
        pytest.skip("openssl command not available")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=feeds.test",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    seen = []
    context.sni_callback = lambda sock, name, ctx: seen.append(name)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve():
        conn, _ = listener.accept()
        try:
            context.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError):
            pass
        finally:
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    fake_dns["feeds.test"] = ["127.0.0.1"]
    try:
        with make_client(allow="feeds.test", retries=0) as client:
            err = fetch_error(client, f"https://feeds.test:{port}/feed")
    finally:
        thread.join(5)
        listener.close()
    assert err.kind == "tls" and not err.retryable
    assert "certificate" in str(err).lower()
    assert seen == ["feeds.test"]
