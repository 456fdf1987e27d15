"""robots.txt: fetched through the client once per origin, parsed by Protego, the parsed file cached for the
client's lifetime (one run). Its rules decide what may be fetched; its ``Sitemap:`` lines are where the sitemap
catch-up and the backfill start (:mod:`crypto_news.pipeline.sitemaps`).

Protego implements RFC 9309 matching: ``*`` and ``$`` wildcards, the longest matching rule wins, Allow wins a tie
(Python's ``urllib.robotparser`` matches plain path prefixes only, so ``Disallow: /*.pdf$`` protected nothing).
Policy: a 2xx file is obeyed; 4xx (including 401/403) means no restrictions (RFC 9309); 5xx, 429 or an
unreachable server also means allowed (lenient, unlike Google, which treats 5xx as a temporary full disallow),
with a warning in the log. Crawl-delay is not applied: ``Settings.host_delay_s`` is the only pacing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from protego import Protego

from .errors import FetchError

log = logging.getLogger(__name__)

ROBOTS_MAX_BYTES = 512 * 1024  # robots.txt larger than this is ignored (RFC 9309 asks for at least 500 KiB)
_ALLOW_ALL = Protego.parse("")


class RobotsCache:
    """One parsed robots.txt per origin; ``fetch(url)`` returns the body of a 2xx answer or raises FetchError."""

    def __init__(self, fetch: Callable[[str], bytes]):
        self._fetch = fetch
        self._lock = threading.Lock()
        self._rules: dict[str, tuple[threading.Lock, list[Protego]]] = {}

    def allowed(self, origin: str, url: str, user_agent: str) -> bool:
        return self._parsed(origin).can_fetch(url, user_agent)

    def sitemaps(self, origin: str) -> list[str]:
        """The ``Sitemap:`` lines of the origin's robots.txt, in file order (none when it has no robots.txt)."""
        return list(self._parsed(origin).sitemaps)

    def _parsed(self, origin: str) -> Protego:
        with self._lock:
            lock, slot = self._rules.setdefault(origin, (threading.Lock(), []))
        with lock:  # one fetch per origin, even when many threads ask at once
            if not slot:
                slot.append(self._load(origin))
        return slot[0]

    def _load(self, origin: str) -> Protego:
        try:
            body = self._fetch(origin + "/robots.txt")
        except FetchError as err:
            missing = err.kind == "http_error" and err.status is not None and 400 <= err.status < 500
            if not missing or err.status == 429:  # 5xx, 429, unreachable: lenient, but say so
                log.warning("robots.txt of %s unavailable (%s); treating everything as allowed", origin, err)
            return _ALLOW_ALL  # 4xx: no robots.txt, no restrictions (RFC 9309)
        return Protego.parse(body.decode("utf-8", errors="replace"))
