"""The feed list: a YAML file with a top-level ``feeds:`` list (see ``config/feeds.yml``)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import yaml

from ..config import ConfigError
from ..model import FeedSpec
from ..text import http_url
from .urls import link_problem

_MARKUP = re.compile(r"[<>]")

ALLOWED_KEYS = {"name", "url", "enabled", "tags", "robots", "site", "sitemaps"}


class FeedListError(ConfigError):
    """The feed list cannot be used as it is: a configuration error (never retried)."""


def _yaml_problem(exc: Exception) -> str:
    """The parser's complaint on one line with where it is (line and column count from 1)."""
    problem = getattr(exc, "problem", None) or " ".join(str(exc).split())
    mark = getattr(exc, "problem_mark", None)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else problem


def _shown(value) -> str:
    """A rejected value, short and without any password it may hold."""
    text = repr(value)
    return (text[:60] + "…") if len(text) > 60 else text if "@" not in text else "(a URL with user info)"


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """``http://user:password@host/feed`` -> (``http://host/feed``, (user, password)). The URL without user info is what is
    stored and shown; the credentials are sent with the request only (HTTP Basic), never stored or printed."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    bare = urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    return bare, (unquote(parts.username or ""), unquote(parts.password or ""))


def feed_credentials(path: str | Path | None) -> dict[str, tuple[str, str]]:
    """Credentials by stored feed URL, read again from the feed list when the feeds are fetched (they are never
    written to the database). An unreadable list gives none: its feeds are fetched without credentials."""
    if not path:
        return {}
    try:
        return {s.url: s.credentials for s in load_feed_list(path) if s.credentials}
    except FeedListError:
        return {}


def _site_url(value, what: str) -> str:
    """A ``site`` or ``sitemaps`` URL as it is stored and requested: http(s) only, and no user info, since these
    requests carry no credentials and the URL is shown in logs and fetch records."""
    parts = urlsplit(value.strip()) if isinstance(value, str) else None
    url = http_url(value) if parts is not None else None
    if parts is None or url is None or link_problem(value) or "@" in parts.netloc:
        raise FeedListError(f"{what} must be an http(s) URL without user info "
                            f"(got {type(value).__name__} {_shown(value)})")
    return url


def load_feed_list(path: str | Path) -> list[FeedSpec]:
    """Read and validate a feed list; errors name the file and the entry."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FeedListError(f"feed list not found: {path}") from None
    except yaml.YAMLError as exc:
        raise FeedListError(f"feed list {path} is not valid YAML: {_yaml_problem(exc)}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("feeds"), list):
        raise FeedListError(f"feed list {path} must have a top-level 'feeds:' list")
    specs, seen = [], set()
    for i, entry in enumerate(doc["feeds"], start=1):
        where = f"{path}, feed #{i}"
        if not isinstance(entry, dict):
            raise FeedListError(f"{where}: each feed must be a mapping with at least name and url")
        unknown = set(entry) - ALLOWED_KEYS
        if unknown:
            raise FeedListError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(ALLOWED_KEYS)}")
        name, url = entry.get("name"), entry.get("url")
        if not isinstance(name, str) or not name.strip():
            raise FeedListError(f"{where}: 'name' is required")
        if not isinstance(url, str) or link_problem(url):
            problem = link_problem(url) if isinstance(url, str) else f"got {type(url).__name__}"
            raise FeedListError(f"{where} ({name}): 'url' must be an http(s) URL ({problem})")
        if _MARKUP.search(name):
            raise FeedListError(f"{where}: 'name' must be plain text, without < or >")
        tags = entry.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) and not _MARKUP.search(t) for t in tags):
            raise FeedListError(f"{where} ({name}): 'tags' must be a list of plain strings")
        for key in ("enabled", "robots"):
            if key in entry and not isinstance(entry[key], bool):
                raise FeedListError(f"{where} ({name}): '{key}' must be true or false")
        site = entry.get("site")
        if site is not None:
            site = _site_url(site, f"{where} ({name}): 'site'")
        sitemaps = entry.get("sitemaps") or []
        if not isinstance(sitemaps, list):
            raise FeedListError(f"{where} ({name}): 'sitemaps' must be a list of http(s) URLs "
                                f"(got {type(sitemaps).__name__})")
        sitemaps = [_site_url(u, f"{where} ({name}): 'sitemaps' entry #{j}") for j, u in enumerate(sitemaps, 1)]
        url, credentials = split_credentials(url.strip())
        if url in seen:
            raise FeedListError(f"{where} ({name}): url listed twice: {url}")
        seen.add(url)
        specs.append(
            FeedSpec(name=name.strip(), url=url, enabled=entry.get("enabled", True), tags=tuple(tags),
                     robots=entry.get("robots", True), site=site, sitemaps=tuple(sitemaps),
                     credentials=credentials)
        )
    return specs
