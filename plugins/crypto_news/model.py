"""The records that cross stages: a feed from the reviewed list, the items parsed from it, the outcome of one feed
fetch, and the outcome of getting one article's page. Plain data, no behaviour: the stage that makes a record and
the one that stores it both import it from here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, get_args

if TYPE_CHECKING:
    from .extract.result import PageResult


# A publication date is trusted when it lies between these (feed dates, page dates, the quality check).
FUTURE_TOLERANCE = timedelta(days=1)  # later than now + this: a clock error or a scheduled post, not a date
EARLIEST_TRUSTED = datetime(2008, 1, 1, tzinfo=UTC)  # earlier: a placeholder (epoch, 1970, 2000-01-01), not a date

# Closed sets of values, as stored in the database (docs/SCHEMA.md).
FeedStatus = Literal["ok", "not_modified", "unchanged", "error"]  # feed_fetches.status
FEED_STATUSES: tuple[FeedStatus, ...] = get_args(FeedStatus)
RunStatus = Literal["running", "success", "partial", "failed"]  # pipeline_runs.status
RUN_STATUSES: tuple[RunStatus, ...] = get_args(RunStatus)
ExtractState = Literal["pending", "retry", "done"]  # articles.extract_state
TextSource = Literal["page", "feed_content", "feed_summary", "none"]  # articles.text_source
TEXT_SOURCES: tuple[TextSource, ...] = get_args(TextSource)
PublishedFlag = Literal["missing", "future", "too_old", "unparsable"]  # articles.published_flag


@dataclass(frozen=True)
class FeedSpec:
    """One entry of the reviewed feed list (``config/feeds.yml``)."""

    name: str
    url: str
    enabled: bool = True
    tags: tuple[str, ...] = field(default_factory=tuple)
    robots: bool = True
    site: str | None = None
    sitemaps: tuple[str, ...] = field(default_factory=tuple)
    credentials: tuple[str, str] | None = field(default=None, repr=False)  # from the URL's user info; never stored


@dataclass
class FeedItem:
    url: str
    canonical_url: str
    guid: str | None
    title: str | None
    summary: str | None
    content: str | None  # full content (e.g. content:encoded) as plain text, when the feed carries it
    author: str | None
    categories: list[str]
    published_at: datetime | None
    published_flag: PublishedFlag | None  # None when the date is fine


@dataclass
class ParsedFeed:
    title: str | None
    site_url: str | None
    items: list[FeedItem]
    skipped: list[str] = field(default_factory=list)  # one reason per skipped entry
    warning: str | None = None  # bozo problem of a feed that still parsed
    ttl_s: int | None = None  # RSS <ttl>, in seconds
    update_period_s: int | None = None  # sy:updatePeriod / sy:updateFrequency, in seconds


@dataclass
class FeedOutcome:
    """One feed's fetch in one run, as the fetch stage hands it to the warehouse."""

    status: FeedStatus
    duration_ms: int = 0
    http_status: int | None = None
    error_kind: str | None = None
    error: str | None = None
    bytes: int = 0
    items: list[FeedItem] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    warning: str | None = None
    final_url: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    title: str | None = None
    items_new: int = 0
    # polling hints from the publisher
    ttl_s: int | None = None
    update_period_s: int | None = None
    max_age_s: int | None = None
    retry_after_s: float | None = None
    # catch-up from the site's sitemaps: pages the feed no longer shows, dated after the previous fetch's newest item
    backfill: list[FeedItem] = field(default_factory=list)
    sitemaps_read: int = 0
    sitemap_error_kind: str | None = None
    sitemap_error: str | None = None
    # set when stored
    gap: bool | None = None
    items_backfilled: int = 0
    next_check_at: datetime | None = None


@dataclass
class PageWork:
    """What a worker process returns for one page: the extraction result, the page packed for the archive, and
    the text's fingerprints (all CPU work, done off the main process)."""

    page: PageResult
    sha256: str | None = None
    packed: bytes | None = None
    raw_bytes: int = 0
    content_hash: str | None = None
    simhash: int | None = None
    classification: Any = None  # classify.Classification of the page text


@dataclass
class Obtained:
    """The outcome of trying to get one article's page."""

    article_id: int
    attempts: int
    work: PageWork | None = None  # the page was fetched (and extracted, whatever the status)
    page_url: str | None = None
    content_type: str | None = None
    error_kind: str | None = None
    error: str | None = None
    retry: bool = False
