"""The feed list: a YAML file with a top-level ``feeds:`` list (see ``config/feeds.yml``)."""

from __future__ import annotations

from pathlib import Path

import yaml

from ..model import FeedSpec
from .urls import link_problem

ALLOWED_KEYS = {"name", "url", "enabled", "tags", "robots", "site", "sitemaps"}


class FeedListError(ValueError):
    pass


def load_feed_list(path: str | Path) -> list[FeedSpec]:
    """Read and validate a feed list; errors name the file and the entry."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FeedListError(f"feed list not found: {path}") from None
    except yaml.YAMLError as exc:
        raise FeedListError(f"feed list {path} is not valid YAML: {exc}") from None
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
            raise FeedListError(f"{where} ({name}): 'url' must be an http(s) URL ({link_problem(url)})")
        tags = entry.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise FeedListError(f"{where} ({name}): 'tags' must be a list of strings")
        for key in ("enabled", "robots"):
            if key in entry and not isinstance(entry[key], bool):
                raise FeedListError(f"{where} ({name}): '{key}' must be true or false")
        sitemaps = entry.get("sitemaps") or []
        if not isinstance(sitemaps, list) or any(not isinstance(u, str) or link_problem(u) for u in sitemaps):
            raise FeedListError(f"{where} ({name}): 'sitemaps' must be a list of http(s) URLs")
        url = url.strip()
        if url in seen:
            raise FeedListError(f"{where} ({name}): url listed twice: {url}")
        seen.add(url)
        specs.append(
            FeedSpec(name=name.strip(), url=url, enabled=entry.get("enabled", True), tags=tuple(tags),
                     robots=entry.get("robots", True), site=entry.get("site"),
                     sitemaps=tuple(u.strip() for u in sitemaps))
        )
    return specs
