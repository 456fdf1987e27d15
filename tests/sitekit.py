"""Serve the project's fixture site (tests/fixtures/feeds and tests/fixtures/site) from a loopback server."""

from __future__ import annotations

import hashlib
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
FEED_TYPES = {".rss": "application/rss+xml; charset=utf-8", ".atom": "application/atom+xml; charset=utf-8",
              ".xml": "application/xml"}
STORIES = sorted(p.stem for p in (FIXTURES / "site").glob("*.html"))


def serve_site(server, feeds=("ledgerwire.rss", "chainpost.atom")) -> dict[str, str]:
    """Register the fixture feeds and article pages on ``server``; return feed name -> feed URL."""
    base = server.url("").rstrip("/")
    urls = {}
    for name in feeds:
        path = FIXTURES / "feeds" / name
        body = path.read_text(encoding="utf-8").replace("{{BASE}}", base).encode("utf-8")
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        urls[name] = server.add(f"/feeds/{name}", body, headers={"Content-Type": FEED_TYPES[path.suffix],
                                                                "ETag": etag})
        server.routes[f"/feeds/{name}"].handler = _conditional(body, etag, FEED_TYPES[path.suffix])
    for slug in STORIES:
        server.add(f"/news/{slug}", (FIXTURES / "site" / f"{slug}.html").read_bytes(),
                   headers={"Content-Type": "text/html; charset=utf-8"})
    server.add("/robots.txt", b"User-agent: *\nDisallow: /private/\n", headers={"Content-Type": "text/plain"})
    return urls


def _conditional(body: bytes, etag: str, ctype: str):
    def handler(req):
        if req.headers.get("If-None-Match") == etag:
            req.send_response(304)
            req.send_header("ETag", etag)
            req.send_header("Content-Length", "0")
            req.end_headers()
            return
        req.send_response(200)
        req.send_header("Content-Type", ctype)
        req.send_header("ETag", etag)
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)

    return handler


def write_feed_list(path: Path, feeds: dict[str, str], extra: list[tuple[str, str]] = ()) -> Path:
    lines = ["feeds:"]
    for name, url in list(feeds.items()) + list(extra):
        lines += [f"  - name: {name}", f"    url: {url}"]
    path.write_text("\n".join(lines) + "\n")
    return path
