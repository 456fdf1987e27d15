"""How often to read a feed so that it misses nothing, and what the publisher asks for.

A feed shows its newest N items; they span its *window* (hours between its oldest and newest item, by the
publisher's own dates). Read less often than the window and items fall out unseen. The next check is therefore
half the window away (two reads per window, so one late or failed read still overlaps), as Miniflux's
entry-frequency scheduler derives its interval from the publishing rate. The publisher's own hints are
honoured as lower bounds: RSS ``<ttl>`` (minutes), ``sy:updatePeriod``/``sy:updateFrequency``,
``Cache-Control: max-age``, and after a refusal ``Retry-After``. The result is bounded by ``poll_min_s`` (the
poll DAG's cadence) and ``poll_max_s``; failures back off exponentially within the same bounds.
"""

from __future__ import annotations

import re
from datetime import datetime

WINDOW_SHARE = 0.5  # read twice per window
DEFAULT_S = 3600  # no window known yet (fewer than two dated items): hourly
ERROR_BASE_S = 15 * 60
_PERIODS = {"hourly": 3600, "daily": 86400, "weekly": 7 * 86400, "monthly": 30 * 86400, "yearly": 365 * 86400}
_MAX_AGE = re.compile(r"(?:^|[,\s])(?:s-)?max-age\s*=\s*\"?(\d{1,10})", re.I)


def ttl_seconds(value) -> int | None:
    """RSS ``<ttl>`` (minutes) in seconds."""
    try:
        minutes = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return minutes * 60 if minutes > 0 else None


def update_period_seconds(period, frequency) -> int | None:
    """``sy:updatePeriod`` (hourly, daily, ...) divided by ``sy:updateFrequency`` (default 1), in seconds."""
    base = _PERIODS.get(str(period or "").strip().lower())
    if base is None:
        return None
    try:
        freq = max(1, int(str(frequency).strip())) if frequency not in (None, "") else 1
    except ValueError:
        freq = 1
    return base // freq


def max_age_seconds(cache_control: str | None) -> int | None:
    """``Cache-Control`` max-age (or s-maxage) in seconds; ``no-cache``/``no-store`` give none."""
    if not cache_control:
        return None
    m = _MAX_AGE.search(cache_control)
    return int(m.group(1)) if m and int(m.group(1)) > 0 else None


def next_interval(*, ok: bool, window_s: float | None, ttl_s: int | None = None,
                  update_period_s: int | None = None, max_age_s: int | None = None,
                  retry_after_s: float | None = None, failures: int = 0,
                  min_s: int = 900, max_s: int = 86400) -> tuple[int, str]:
    """Seconds until the feed's next check, and what set them (``window``, ``ttl``, ``update_period``,
    ``cache_control``, ``retry_after``, ``error_backoff`` or ``default``, with ``+min``/``+max`` when a bound
    applied)."""
    if ok:
        if window_s and window_s > 0:
            interval, reason = window_s * WINDOW_SHARE, "window"
        else:
            interval, reason = DEFAULT_S, "default"
        for hint, name in ((ttl_s, "ttl"), (update_period_s, "update_period"), (max_age_s, "cache_control")):
            if hint and hint > interval:
                interval, reason = hint, name
    else:
        interval, reason = ERROR_BASE_S * 2 ** min(max(failures - 1, 0), 10), "error_backoff"
    if retry_after_s and retry_after_s > interval:
        interval, reason = retry_after_s, "retry_after"
    if interval < min_s:
        interval, reason = min_s, reason + "+min"
    elif interval > max_s:
        interval, reason = max_s, reason + "+max"
    return int(interval), reason


def window_seconds(oldest: datetime | None, newest: datetime | None, dated: int) -> float | None:
    if oldest is None or newest is None or dated < 2:
        return None
    return max(0.0, (newest - oldest).total_seconds())
