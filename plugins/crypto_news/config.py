"""Settings, read once from the environment, with documented defaults.

Every knob of the pipeline lives here so that the DAG, the command line and the tests see the same values.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import __version__

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_FEEDS_FILE = PROJECT_ROOT / "config" / "feeds.yml"
DEFAULT_CONTACT = "https://example.org/crypto-news"


class ConfigError(ValueError):
    """Bad configuration (a setting, the feed list, a missing Connection): no retry can fix it, so the run stops
    before it starts, the command line exits 2 and Airflow fails the task without retrying."""


def read_yaml(path: Path):
    """A reviewed YAML file's content (taxonomy, entities), parsed by libyaml when PyYAML was built with it: the
    same result as ``yaml.safe_load``, about eight times faster, which every worker process pays at start."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(path.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 - a safe loader


def _env_int(env, name: str, default: int, minimum: int | None = None) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {raw!r}")
    return value


def _env_flag(env, name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    return default if not raw else raw not in ("0", "false", "no")


def _env_float(env, name: str, default: float, low: float | None = None, high: float | None = None,
               above: float | None = None) -> float:
    """A finite number from the environment within [low, high] (and greater than ``above``): ``nan``, ``inf``
    and out-of-range values are refused, never clamped (a retention window of 0 or nan would empty the archive)."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {raw!r}")
    if above is not None and value <= above:
        raise ConfigError(f"{name} must be greater than {above:g}, got {raw!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        span = f"in [{low:g}, {high:g}]" if low is not None and high is not None else \
            f"at least {low:g}" if low is not None else f"at most {high:g}"
        raise ConfigError(f"{name} must be a number {span}, got {raw!r}")
    return value


def _env_bool(env, name: str, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be 1 or 0 (true or false), got {raw!r}")


def _statsd_prefix(raw: str) -> str:
    if not all(part and part.replace("_", "").replace("-", "").isalnum() for part in raw.split(".")):
        raise ConfigError(f"CRYPTO_NEWS_STATSD_PREFIX must be dot-separated names of letters, digits, _ or -, "
                          f"got {raw!r}")
    return raw


# Data-quality checks and what a failing one does by default: "fail" fails the run's checks task, "warn" only
# reports it, "off" skips it. Each is set by CRYPTO_NEWS_CHECK_<NAME> (e.g. CRYPTO_NEWS_CHECK_FEEDS_DEAD=fail).
CHECK_SEVERITY_DEFAULTS = {
    "canonical_url": "fail", "label_set": "fail", "published_future": "fail", "extract_rate": "fail",
    "feed_succeeded": "fail", "feeds_dead": "warn", "page_share_7d": "fail", "new_articles_7d": "warn",
}


def _check_severity(env) -> tuple[tuple[str, str], ...]:
    out = []
    for check, default in CHECK_SEVERITY_DEFAULTS.items():
        name = f"CRYPTO_NEWS_CHECK_{check.upper()}"
        value = env.get(name, "").strip().lower() or default
        if value not in ("fail", "warn", "off"):
            raise ConfigError(f"{name} must be fail, warn or off, got {value!r}")
        out.append((check, value))
    return tuple(out)


@dataclass(frozen=True)
class Settings:
    """Runtime settings. Environment variable names are part of the interface (see README)."""

    db_url: str | None = None  # CRYPTO_NEWS_DB_URL (libpq URL)
    feeds_file: Path = DEFAULT_FEEDS_FILE  # CRYPTO_NEWS_FEEDS
    # "" (refuse private addresses), "1" (allow all) or "host,cidr,..." (allow these only)
    allow_private_hosts: str = ""  # CRYPTO_NEWS_ALLOW_PRIVATE_HOSTS
    host_concurrency: int = 2  # CRYPTO_NEWS_HOST_CONCURRENCY: requests in flight per host
    host_delay_s: float = 1.0  # CRYPTO_NEWS_HOST_DELAY_S: minimum gap between request starts per host
    timeout_s: float = 30.0  # CRYPTO_NEWS_TIMEOUT_S: total deadline for one request (connect + body)
    connect_timeout_s: float = 10.0  # CRYPTO_NEWS_CONNECT_TIMEOUT_S
    max_bytes: int = 5 * 1024 * 1024  # CRYPTO_NEWS_MAX_BYTES: body cap, after decompression
    max_redirects: int = 5  # CRYPTO_NEWS_MAX_REDIRECTS
    retries: int = 2  # CRYPTO_NEWS_RETRIES: extra attempts for connection errors, 429 and 5xx
    retry_max_wait_s: float = 30.0  # CRYPTO_NEWS_RETRY_MAX_WAIT_S: cap on backoff and Retry-After
    contact: str = DEFAULT_CONTACT  # CRYPTO_NEWS_CONTACT: URL or mailto in the User-Agent
    user_agent: str = ""  # CRYPTO_NEWS_USER_AGENT: full override
    obey_robots: bool = True  # CRYPTO_NEWS_OBEY_ROBOTS (per feed: `robots: false` in feeds.yml)
    fetch_workers: int = 16  # CRYPTO_NEWS_FETCH_WORKERS: threads doing network I/O
    extract_workers: int = field(default_factory=lambda: os.cpu_count() or 1)  # CRYPTO_NEWS_EXTRACT_WORKERS
    extract_batch: int = 200  # CRYPTO_NEWS_EXTRACT_BATCH: articles per extraction batch / mapped task
    extract_max_attempts: int = 3  # CRYPTO_NEWS_EXTRACT_MAX_ATTEMPTS: page fetch attempts across runs
    schedule: str = "@daily"  # CRYPTO_NEWS_SCHEDULE
    fetch_log_days: int = 180  # CRYPTO_NEWS_FETCH_LOG_DAYS: the maintenance DAG deletes older fetch-log rows
    min_extract_rate: float = 0.0  # CRYPTO_NEWS_MIN_EXTRACT_RATE: quality-check floor for page text (docs/AIRFLOW.md)
    max_items_per_feed: int = 500  # CRYPTO_NEWS_MAX_ITEMS_PER_FEED: a feed's first N items per fetch; the rest skipped
    archive_days: int = 90  # CRYPTO_NEWS_ARCHIVE_DAYS: raw pages unused this long are dropped by retention
    archive_max_mb: float = 2048.0  # CRYPTO_NEWS_ARCHIVE_MAX_MB: then the oldest pages until the archive fits
    # CRYPTO_NEWS_AUTO_MIGRATE: a run migrates the warehouse first (1, the default); 0 where a deployment step
    # migrates and the runs log in as a role that may not change the schema (the compose stack): a run then only
    # checks that the schema is current
    auto_migrate: bool = True
    dead_feed_runs: int = 3  # CRYPTO_NEWS_DEAD_FEED_RUNS: a feed failing this many fetches in a row is dead
    dead_feed_days: float = 3.0  # CRYPTO_NEWS_DEAD_FEED_DAYS: ... or without a successful fetch for this long
    drop_ratio: float = 2.0  # CRYPTO_NEWS_CHECK_DROP_RATIO: the 7-day checks fail below baseline / this ratio
    check_severity: tuple = tuple(CHECK_SEVERITY_DEFAULTS.items())  # CRYPTO_NEWS_CHECK_<NAME>: fail|warn|off
    statsd_host: str = ""  # CRYPTO_NEWS_STATSD_HOST: metrics over StatsD (off when empty; docs/METRICS.md)
    statsd_port: int = 8125  # CRYPTO_NEWS_STATSD_PORT
    statsd_prefix: str = "crypto_news"  # CRYPTO_NEWS_STATSD_PREFIX
    sitemap_catchup: bool = True  # CRYPTO_NEWS_SITEMAP_CATCHUP: fill what a feed dropped from the site's sitemaps
    sitemap_max_bytes: int = 10 * 1024 * 1024  # CRYPTO_NEWS_SITEMAP_MAX_BYTES: one sitemap, after decompression
    sitemap_max_files: int = 50  # CRYPTO_NEWS_SITEMAP_MAX_FILES: sitemap files read per site and run
    sitemap_max_depth: int = 3  # CRYPTO_NEWS_SITEMAP_MAX_DEPTH: levels of nested indexes below the root sitemap
    sitemap_max_entries: int = 50000  # CRYPTO_NEWS_SITEMAP_MAX_ENTRIES: entries read per file (the protocol's limit)
    sitemap_skew_s: int = 3600  # CRYPTO_NEWS_SITEMAP_SKEW_S: catch-up starts this long before the last newest item
    first_catchup_h: float = 24.0  # CRYPTO_NEWS_FIRST_CATCHUP_H: a feed's first catch-up, before its newest item
    poll_min_s: int = 15 * 60  # CRYPTO_NEWS_POLL_MIN_S: a feed is never checked more often (the poll DAG's cadence)
    poll_max_s: int = 24 * 3600  # CRYPTO_NEWS_POLL_MAX_S: nor less often

    @property
    def ua(self) -> str:
        return self.user_agent or f"crypto-news/{__version__} (+{self.contact})"

    @classmethod
    def from_env(cls, env=None, **overrides) -> "Settings":
        env = os.environ if env is None else env
        s = cls(
            db_url=env.get("CRYPTO_NEWS_DB_URL") or None,
            feeds_file=Path(env.get("CRYPTO_NEWS_FEEDS") or DEFAULT_FEEDS_FILE),
            allow_private_hosts=env.get("CRYPTO_NEWS_ALLOW_PRIVATE_HOSTS", "").strip(),
            host_concurrency=_env_int(env, "CRYPTO_NEWS_HOST_CONCURRENCY", 2, minimum=1),
            host_delay_s=_env_float(env, "CRYPTO_NEWS_HOST_DELAY_S", 1.0, low=0.0, high=3600.0),
            timeout_s=_env_float(env, "CRYPTO_NEWS_TIMEOUT_S", 30.0, above=0.0, high=86400.0),
            connect_timeout_s=_env_float(env, "CRYPTO_NEWS_CONNECT_TIMEOUT_S", 10.0, above=0.0, high=86400.0),
            max_bytes=_env_int(env, "CRYPTO_NEWS_MAX_BYTES", 5 * 1024 * 1024, minimum=1),
            max_redirects=_env_int(env, "CRYPTO_NEWS_MAX_REDIRECTS", 5, minimum=0),
            retries=_env_int(env, "CRYPTO_NEWS_RETRIES", 2, minimum=0),
            retry_max_wait_s=_env_float(env, "CRYPTO_NEWS_RETRY_MAX_WAIT_S", 30.0, low=0.0, high=86400.0),
            contact=env.get("CRYPTO_NEWS_CONTACT") or DEFAULT_CONTACT,
            user_agent=env.get("CRYPTO_NEWS_USER_AGENT", ""),
            obey_robots=env.get("CRYPTO_NEWS_OBEY_ROBOTS", "1").strip().lower() not in ("0", "false", "no"),
            fetch_workers=_env_int(env, "CRYPTO_NEWS_FETCH_WORKERS", 16, minimum=1),
            extract_workers=_env_int(env, "CRYPTO_NEWS_EXTRACT_WORKERS", os.cpu_count() or 1, minimum=1),
            extract_batch=_env_int(env, "CRYPTO_NEWS_EXTRACT_BATCH", 200, minimum=1),
            extract_max_attempts=_env_int(env, "CRYPTO_NEWS_EXTRACT_MAX_ATTEMPTS", 3, minimum=1),
            schedule=env.get("CRYPTO_NEWS_SCHEDULE") or "@daily",
            max_items_per_feed=_env_int(env, "CRYPTO_NEWS_MAX_ITEMS_PER_FEED", 500, minimum=1),
            fetch_log_days=_env_int(env, "CRYPTO_NEWS_FETCH_LOG_DAYS", 180, minimum=1),
            min_extract_rate=_env_float(env, "CRYPTO_NEWS_MIN_EXTRACT_RATE", 0.0, low=0.0, high=1.0),
            archive_days=_env_int(env, "CRYPTO_NEWS_ARCHIVE_DAYS", 90, minimum=1),
            archive_max_mb=_env_float(env, "CRYPTO_NEWS_ARCHIVE_MAX_MB", 2048.0, above=0.0, high=1e9),
            dead_feed_runs=_env_int(env, "CRYPTO_NEWS_DEAD_FEED_RUNS", 3, minimum=1),
            dead_feed_days=_env_float(env, "CRYPTO_NEWS_DEAD_FEED_DAYS", 3.0, low=0.0),
            drop_ratio=_env_float(env, "CRYPTO_NEWS_CHECK_DROP_RATIO", 2.0, low=1.0),
            check_severity=_check_severity(env),
            auto_migrate=_env_bool(env, "CRYPTO_NEWS_AUTO_MIGRATE", True),
            statsd_host=env.get("CRYPTO_NEWS_STATSD_HOST", "").strip(),
            statsd_port=_env_int(env, "CRYPTO_NEWS_STATSD_PORT", 8125, minimum=1),
            statsd_prefix=_statsd_prefix(env.get("CRYPTO_NEWS_STATSD_PREFIX", "").strip() or "crypto_news"),
            sitemap_catchup=_env_flag(env, "CRYPTO_NEWS_SITEMAP_CATCHUP", True),
            sitemap_max_bytes=_env_int(env, "CRYPTO_NEWS_SITEMAP_MAX_BYTES", 10 * 1024 * 1024, minimum=1024),
            sitemap_max_files=_env_int(env, "CRYPTO_NEWS_SITEMAP_MAX_FILES", 50, minimum=1),
            sitemap_max_depth=_env_int(env, "CRYPTO_NEWS_SITEMAP_MAX_DEPTH", 3, minimum=0),
            sitemap_max_entries=_env_int(env, "CRYPTO_NEWS_SITEMAP_MAX_ENTRIES", 50000, minimum=1),
            sitemap_skew_s=_env_int(env, "CRYPTO_NEWS_SITEMAP_SKEW_S", 3600, minimum=0),
            first_catchup_h=_env_float(env, "CRYPTO_NEWS_FIRST_CATCHUP_H", 24.0, low=0.0, high=24.0 * 366),
            poll_min_s=_env_int(env, "CRYPTO_NEWS_POLL_MIN_S", 15 * 60, minimum=60),
            poll_max_s=_env_int(env, "CRYPTO_NEWS_POLL_MAX_S", 24 * 3600, minimum=60),
        )
        return replace(s, **overrides) if overrides else s
