-- The feed marts for ops dashboards (crypto_news_marts.dim_feeds, fct_feed_fetches): created by 0012_marts.sql,
-- defined here since the fetch log records coverage between runs (0010_feed_gaps.sql): gap flags, the window of a
-- feed's items, the sitemap catch-up and the next check. The marts' conventions hold: scalar columns only, is_*
-- booleans, *_count counts, *_at timestamptz, a comment on every column. New columns go at the end (CREATE OR
-- REPLACE VIEW cannot reorder or retype); grants made by 0012_marts.sql stay with the views.

CREATE OR REPLACE VIEW crypto_news_marts.dim_feeds AS
SELECT
    f.feed_id,
    f.name                                                               AS feed_name,
    f.outlet,
    f.url                                                                AS feed_url,
    f.site_url,
    f.title                                                              AS feed_title,
    array_to_string(f.tags, ', ')                                        AS tags,
    f.enabled                                                            AS is_enabled,
    f.obey_robots                                                        AS is_obeying_robots,
    f.created_at,
    f.updated_at,
    last.started_at                                                      AS last_fetch_at,
    last.status                                                          AS last_fetch_status,
    last.http_status                                                     AS last_http_status,
    last.error_kind                                                      AS last_error_kind,
    last.error                                                           AS last_error,
    ok.last_success_at,
    (SELECT count(*) FROM crypto_news.feed_fetches x
     WHERE x.feed_id = f.feed_id AND x.status = 'error'
       AND x.started_at > coalesce(ok.last_success_at, '-infinity'::timestamptz))::integer AS consecutive_failure_count,
    m.fetch_count_30d,
    m.error_count_30d,
    m.avg_duration_ms_30d,
    (SELECT count(*) FROM crypto_news.article_sources s WHERE s.feed_id = f.feed_id)::bigint AS article_count,
    -- coverage between runs (0010_feed_gaps.sql)
    array_to_string(f.sitemaps, ', ')                                    AS sitemap_urls,
    CASE WHEN w.items_dated >= 2
         THEN extract(epoch FROM (w.newest_item_at - w.oldest_item_at))::double precision / 3600 END AS window_hours,
    w.items_dated                                                        AS window_item_count,
    CASE WHEN w.items_dated >= 2 AND w.newest_item_at > w.oldest_item_at
         THEN (w.items_dated - 1) * 86400.0
              / extract(epoch FROM (w.newest_item_at - w.oldest_item_at))::double precision END AS items_per_day,
    last.gap                                                             AS is_last_fetch_gap,
    m.gap_count_7d,
    m.gap_count_30d,
    m.backfilled_item_count_30d,
    last.sitemap_error_kind                                              AS last_sitemap_error_kind,
    f.next_check_at,
    f.check_interval_s,
    f.check_reason
FROM crypto_news.feeds f
LEFT JOIN LATERAL (
    SELECT x.started_at, x.status, x.http_status, x.error_kind, x.error, x.gap, x.sitemap_error_kind
    FROM crypto_news.feed_fetches x WHERE x.feed_id = f.feed_id
    ORDER BY x.started_at DESC, x.fetch_id DESC LIMIT 1
) last ON true
LEFT JOIN LATERAL (
    SELECT max(x.started_at) AS last_success_at
    FROM crypto_news.feed_fetches x WHERE x.feed_id = f.feed_id AND x.status <> 'error'
) ok ON true
LEFT JOIN LATERAL (
    SELECT x.items_dated, x.oldest_item_at, x.newest_item_at
    FROM crypto_news.feed_fetches x WHERE x.feed_id = f.feed_id AND x.newest_item_at IS NOT NULL
    ORDER BY x.fetch_id DESC LIMIT 1
) w ON true
LEFT JOIN LATERAL (
    SELECT count(*)::integer                                             AS fetch_count_30d,
           (count(*) FILTER (WHERE x.status = 'error'))::integer         AS error_count_30d,
           avg(x.duration_ms)::double precision                          AS avg_duration_ms_30d,
           (count(*) FILTER (WHERE x.gap AND x.started_at >= now() - interval '7 days'))::integer AS gap_count_7d,
           (count(*) FILTER (WHERE x.gap))::integer                      AS gap_count_30d,
           coalesce(sum(x.items_backfilled), 0)::integer                 AS backfilled_item_count_30d
    FROM crypto_news.feed_fetches x WHERE x.feed_id = f.feed_id AND x.started_at >= now() - interval '30 days'
) m ON true;

CREATE OR REPLACE VIEW crypto_news_marts.fct_feed_fetches AS
SELECT
    x.fetch_id,
    x.feed_id,
    f.name                                                               AS feed_name,
    f.outlet,
    x.run_id,
    x.started_at,
    (x.started_at AT TIME ZONE 'UTC')::date                              AS started_date,
    x.status,
    x.status = 'error'                                                   AS is_error,
    x.http_status,
    x.error_kind,
    x.error,
    x.duration_ms,
    x.bytes                                                              AS response_bytes,
    x.items_seen                                                         AS item_count,
    x.items_new                                                          AS new_item_count,
    x.items_skipped                                                      AS skipped_item_count,
    x.parse_warning,
    x.final_url,
    -- coverage between runs (0010_feed_gaps.sql)
    x.gap                                                                AS is_gap,
    x.items_dated                                                        AS dated_item_count,
    x.oldest_item_at,
    x.newest_item_at,
    CASE WHEN x.items_dated >= 2
         THEN extract(epoch FROM (x.newest_item_at - x.oldest_item_at))::double precision / 3600 END AS window_hours,
    x.items_backfilled                                                   AS backfilled_item_count,
    x.sitemaps_read                                                      AS sitemap_read_count,
    x.sitemap_error_kind,
    x.sitemap_error,
    x.next_check_at
FROM crypto_news.feed_fetches x
JOIN crypto_news.feeds f ON f.feed_id = x.feed_id;

COMMENT ON VIEW crypto_news_marts.dim_feeds IS 'One row per feed: configuration, last fetch outcome, failures in a row, 30-day fetch figures, and coverage between runs (window, publishing rate, gaps, sitemap catch-up, next check). Entity key: feed_id.';
COMMENT ON COLUMN crypto_news_marts.dim_feeds.feed_id IS 'Entity key of the feed (primary key of crypto_news.feeds).';
COMMENT ON COLUMN crypto_news_marts.dim_feeds.feed_name IS 'Feed name (source name in reports).';
COMMENT ON COLUMN crypto_news_marts.dim_feeds.outlet IS 'The publication: host name of site_url (else of the feed URL) without www.';
COMMENT ON COLUMN crypto_news_marts.dim_feeds.feed_url IS 'Feed URL.';
COMMENT ON COLUMN crypto_news_marts.dim_feeds.site_url IS 'Home page of the publication, when configured.';
COMMENT ON COLUMN crypto_news_marts.dim_feeds.feed_title IS 'Title the feed gives itself.';
COMMENT ON COLUMN crypto_news_marts.dim_feeds.tags IS 'Tags from the feed list, comma-separated.';
COMMENT ON COLUMN crypto_news_marts.dim_feeds.is_enabled IS 'Whether runs fetch this feed.';
COMMENT ON COLUMN crypto_news_marts.dim_feeds.is_obeying_robots IS 'Whether article pages are fetched only when robots.txt allows.';
COMMENT ON COLUMN crypto_news_marts.dim_feeds.created_at IS 'When the feed was first synced (timestamptz).';
COMMENT ON COLUMN crypto_news_marts.dim_feeds.updated_at IS 'When the feed row last changed (timestamptz).';
COMMENT ON COLUMN crypto_news_marts.dim_feeds.last_fetch_at IS 'Time of the latest fetch (timestamptz; NULL: never fetched).';
COMMENT ON COLUMN crypto_news_marts.dim_feeds.last_fetch_status IS 'Status of the latest fetch: ok, not_modified, unchanged or error.';
COMMENT ON COLUMN crypto_news_marts.dim_feeds.last_http_status IS 'HTTP status of the latest fetch.';
COMMENT ON COLUMN crypto_news_marts.dim_feeds.last_error_kind IS 'Error kind of the latest fetch, when it failed.';
COMMENT ON COLUMN crypto_news_marts.dim_feeds.last_error IS 'Error message of the latest fetch, when it failed.';
COMMENT ON COLUMN crypto_news_marts.dim_feeds.last_success_at IS 'Time of the latest fetch that did not fail (timestamptz).';
COMMENT ON COLUMN crypto_news_marts.dim_feeds.consecutive_failure_count IS 'Failed fetches since the last one that did not fail (0 when the latest worked).';
COMMENT ON COLUMN crypto_news_marts.dim_feeds.fetch_count_30d IS 'Fetches in the last 30 days.';
COMMENT ON COLUMN crypto_news_marts.dim_feeds.error_count_30d IS 'Failed fetches in the last 30 days.';
COMMENT ON COLUMN crypto_news_marts.dim_feeds.avg_duration_ms_30d IS 'Average fetch duration (latency) in milliseconds over the last 30 days.';
COMMENT ON COLUMN crypto_news_marts.dim_feeds.article_count IS 'Articles this feed has carried (all time, shared ones included).';
COMMENT ON COLUMN crypto_news_marts.dim_feeds.sitemap_urls IS 'Sitemap URLs listed for the feed in the feed list, comma-separated (robots.txt Sitemap lines of its host and site are read as well).';
COMMENT ON COLUMN crypto_news_marts.dim_feeds.window_hours IS 'Hours between the oldest and newest item of the latest fetch with dated items, by the publisher''s dates: a feed read less often than this misses items (NULL: fewer than two dated items).';
COMMENT ON COLUMN crypto_news_marts.dim_feeds.window_item_count IS 'Dated items in that window (NULL: no fetch with dated items).';
COMMENT ON COLUMN crypto_news_marts.dim_feeds.items_per_day IS 'Publishing rate measured from that window, in items per day (NULL when the window is unknown or zero).';
COMMENT ON COLUMN crypto_news_marts.dim_feeds.is_last_fetch_gap IS 'The latest fetch shared no item with the earlier ones and started after their newest item: items were probably missed (NULL: first fetch, failed, or never fetched).';
COMMENT ON COLUMN crypto_news_marts.dim_feeds.gap_count_7d IS 'Fetches in the last 7 days that found a gap.';
COMMENT ON COLUMN crypto_news_marts.dim_feeds.gap_count_30d IS 'Fetches in the last 30 days that found a gap.';
COMMENT ON COLUMN crypto_news_marts.dim_feeds.backfilled_item_count_30d IS 'Articles the sitemap catch-up added for this feed in the last 30 days.';
COMMENT ON COLUMN crypto_news_marts.dim_feeds.last_sitemap_error_kind IS 'Problem met by the latest fetch''s sitemap catch-up (sitemap_malformed, sitemap_too_large, sitemap_loop, ...; NULL: none).';
COMMENT ON COLUMN crypto_news_marts.dim_feeds.next_check_at IS 'When the feed is due again for the poll DAG (timestamptz; NULL: never fetched).';
COMMENT ON COLUMN crypto_news_marts.dim_feeds.check_interval_s IS 'Seconds between checks chosen at the last fetch.';
COMMENT ON COLUMN crypto_news_marts.dim_feeds.check_reason IS 'What set that interval: window, ttl, update_period, cache_control, retry_after, error_backoff or default, and whether a bound applied.';

COMMENT ON VIEW crypto_news_marts.fct_feed_fetches IS 'One row per fetch of a feed: status, error kind, latency, item counts, and coverage between runs (gap flag, window of the items, sitemap catch-up). Entity key: fetch_id; feed_id -> dim_feeds, run_id -> fct_runs.';
COMMENT ON COLUMN crypto_news_marts.fct_feed_fetches.fetch_id IS 'Entity key of the fetch (primary key of crypto_news.feed_fetches).';
COMMENT ON COLUMN crypto_news_marts.fct_feed_fetches.feed_id IS 'Foreign key to dim_feeds.feed_id.';
COMMENT ON COLUMN crypto_news_marts.fct_feed_fetches.feed_name IS 'Name of the feed.';
COMMENT ON COLUMN crypto_news_marts.fct_feed_fetches.outlet IS 'The publication (host name of the feed''s site).';
COMMENT ON COLUMN crypto_news_marts.fct_feed_fetches.run_id IS 'Foreign key to fct_runs.run_id (NULL if the run row was deleted).';
COMMENT ON COLUMN crypto_news_marts.fct_feed_fetches.started_at IS 'When the fetch was recorded (timestamptz).';
COMMENT ON COLUMN crypto_news_marts.fct_feed_fetches.started_date IS 'UTC date of started_at.';
COMMENT ON COLUMN crypto_news_marts.fct_feed_fetches.status IS 'ok, not_modified (HTTP 304), unchanged (same body) or error.';
COMMENT ON COLUMN crypto_news_marts.fct_feed_fetches.is_error IS 'The fetch failed (status = error).';
COMMENT ON COLUMN crypto_news_marts.fct_feed_fetches.http_status IS 'HTTP status of the final response, when there was one.';
COMMENT ON COLUMN crypto_news_marts.fct_feed_fetches.error_kind IS 'Set exactly when the fetch failed: http_error, timeout, dns, … (docs/SCHEMA.md).';
COMMENT ON COLUMN crypto_news_marts.fct_feed_fetches.error IS 'Error message (one line).';
COMMENT ON COLUMN crypto_news_marts.fct_feed_fetches.duration_ms IS 'Latency: fetch and parse time in milliseconds.';
COMMENT ON COLUMN crypto_news_marts.fct_feed_fetches.response_bytes IS 'Size of the response body in bytes.';
COMMENT ON COLUMN crypto_news_marts.fct_feed_fetches.item_count IS 'Items in the feed (usable and skipped).';
COMMENT ON COLUMN crypto_news_marts.fct_feed_fetches.new_item_count IS 'Items that became new articles.';
COMMENT ON COLUMN crypto_news_marts.fct_feed_fetches.skipped_item_count IS 'Items skipped (no usable link, etc.).';
COMMENT ON COLUMN crypto_news_marts.fct_feed_fetches.parse_warning IS 'Problem of a feed that still parsed.';
COMMENT ON COLUMN crypto_news_marts.fct_feed_fetches.final_url IS 'URL after redirects.';
COMMENT ON COLUMN crypto_news_marts.fct_feed_fetches.is_gap IS 'true: this fetch shared no item with what the feed showed before and its oldest item is newer than the newest seen before (items were probably missed); false: the fetches overlap; NULL: the feed''s first successful fetch, or a failed one.';
COMMENT ON COLUMN crypto_news_marts.fct_feed_fetches.dated_item_count IS 'Items of this fetch that carry a publication date.';
COMMENT ON COLUMN crypto_news_marts.fct_feed_fetches.oldest_item_at IS 'Publication date of the oldest dated item in this fetch (timestamptz, the publisher''s clock).';
COMMENT ON COLUMN crypto_news_marts.fct_feed_fetches.newest_item_at IS 'Publication date of the newest dated item in this fetch (timestamptz, the publisher''s clock).';
COMMENT ON COLUMN crypto_news_marts.fct_feed_fetches.window_hours IS 'Hours between oldest_item_at and newest_item_at: the span the feed shows (NULL: fewer than two dated items).';
COMMENT ON COLUMN crypto_news_marts.fct_feed_fetches.backfilled_item_count IS 'New articles found in the site''s sitemaps, dated after the previous fetch''s newest item, that the feed no longer shows.';
COMMENT ON COLUMN crypto_news_marts.fct_feed_fetches.sitemap_read_count IS 'Sitemap files read for this fetch''s catch-up.';
COMMENT ON COLUMN crypto_news_marts.fct_feed_fetches.sitemap_error_kind IS 'The first problem met while reading the sitemaps (sitemap_malformed, sitemap_too_large, sitemap_too_many, sitemap_loop, sitemap_too_deep, sitemap_foreign_host, sitemap_bad_dates, or a fetch error kind); the fetch''s own status is unaffected.';
COMMENT ON COLUMN crypto_news_marts.fct_feed_fetches.sitemap_error IS 'Message of that problem (one line).';
COMMENT ON COLUMN crypto_news_marts.fct_feed_fetches.next_check_at IS 'When this fetch scheduled the feed''s next check (timestamptz).';

-- Another mart column whose meaning the catch-up widened.
COMMENT ON COLUMN crypto_news_marts.dim_articles.published_source IS 'Where published_at came from: feed, page (page metadata) or sitemap (news:publication_date or lastmod).';
