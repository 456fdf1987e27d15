-- 0010: coverage between runs. Each feed fetch records the span of its items (the feed's window), whether it missed
-- items since the previous fetch (gap) and what the sites' sitemaps filled in (items_backfilled); each feed gets
-- its own polling pace (next_check_at); article_sources says how an article was found (feed, sitemap, backfill).
-- Forward-only. Never edit once applied; add a new numbered file instead.

ALTER TABLE feed_fetches
    ADD COLUMN gap boolean,
    ADD COLUMN items_dated integer NOT NULL DEFAULT 0 CHECK (items_dated >= 0),
    ADD COLUMN oldest_item_at timestamptz,
    ADD COLUMN newest_item_at timestamptz,
    ADD COLUMN items_backfilled integer NOT NULL DEFAULT 0 CHECK (items_backfilled >= 0),
    ADD COLUMN sitemaps_read integer NOT NULL DEFAULT 0 CHECK (sitemaps_read >= 0),
    ADD COLUMN sitemap_error_kind text CHECK (sitemap_error_kind ~ '^[a-z][a-z0-9_]{0,39}$'),
    ADD COLUMN sitemap_error text,
    ADD COLUMN next_check_at timestamptz;
-- The previous fetches of a feed that carried items (gap detection, catch-up cutoff, the feed's window).
CREATE INDEX feed_fetches_feed_items_idx ON feed_fetches (feed_id, fetch_id DESC) WHERE newest_item_at IS NOT NULL;

ALTER TABLE feeds
    ADD COLUMN sitemaps text[] NOT NULL DEFAULT '{}',
    ADD COLUMN next_check_at timestamptz,
    ADD COLUMN check_interval_s integer CHECK (check_interval_s > 0),
    ADD COLUMN check_reason text;

ALTER TABLE article_sources
    ADD COLUMN found_by text NOT NULL DEFAULT 'feed' CHECK (found_by IN ('feed', 'sitemap', 'backfill'));

ALTER TABLE articles DROP CONSTRAINT articles_published_source_check;
ALTER TABLE articles ADD CONSTRAINT articles_published_source_check
    CHECK (published_source IN ('feed', 'page', 'sitemap'));

DROP VIEW v_feed_health;
CREATE VIEW v_feed_health AS
SELECT
    f.feed_id,
    f.name                                                           AS feed_name,
    f.url                                                            AS feed_url,
    f.site_url,
    f.enabled,
    last.started_at                                                  AS last_fetch_at,
    last.status                                                      AS last_status,
    last.http_status                                                 AS last_http_status,
    last.error_kind                                                  AS last_error_kind,
    last.error                                                       AS last_error,
    ok.last_success_at,
    (SELECT count(*) FROM feed_fetches x
     WHERE x.feed_id = f.feed_id AND x.status = 'error'
       AND x.started_at > coalesce(ok.last_success_at, '-infinity'::timestamptz))::integer AS consecutive_failures,
    m.fetches_30d,
    m.errors_30d,
    m.not_modified_ratio_30d,
    m.avg_latency_ms_30d,
    (SELECT count(*) FROM article_sources s
     WHERE s.feed_id = f.feed_id AND s.first_seen_at >= now() - interval '7 days')::double precision / 7 AS new_items_per_day_7d,
    (SELECT max(coalesce(a.published_at, a.discovered_at)) FROM articles a WHERE a.feed_id = f.feed_id) AS last_article_time,
    (SELECT count(*) FROM article_sources s WHERE s.feed_id = f.feed_id)::bigint AS articles_total,
    CASE WHEN w.items_dated >= 2
         THEN extract(epoch FROM (w.newest_item_at - w.oldest_item_at))::double precision / 3600 END AS window_hours,
    CASE WHEN w.items_dated >= 2 AND w.newest_item_at > w.oldest_item_at
         THEN (w.items_dated - 1) * 86400.0
              / extract(epoch FROM (w.newest_item_at - w.oldest_item_at))::double precision END AS items_per_day,
    w.items_dated                                                    AS window_items,
    m.gaps_7d,
    m.gaps_30d,
    m.items_backfilled_30d,
    last.gap                                                         AS last_gap,
    last.sitemap_error_kind                                          AS last_sitemap_error_kind,
    f.next_check_at,
    f.check_interval_s::double precision / 60                        AS check_interval_min,
    f.check_reason
FROM feeds f
LEFT JOIN LATERAL (
    SELECT x.started_at, x.status, x.http_status, x.error_kind, x.error, x.gap, x.sitemap_error_kind
    FROM feed_fetches x WHERE x.feed_id = f.feed_id
    ORDER BY x.started_at DESC, x.fetch_id DESC LIMIT 1
) last ON true
LEFT JOIN LATERAL (
    SELECT max(x.started_at) AS last_success_at
    FROM feed_fetches x WHERE x.feed_id = f.feed_id AND x.status <> 'error'
) ok ON true
LEFT JOIN LATERAL (
    SELECT x.items_dated, x.oldest_item_at, x.newest_item_at
    FROM feed_fetches x WHERE x.feed_id = f.feed_id AND x.newest_item_at IS NOT NULL
    ORDER BY x.fetch_id DESC LIMIT 1
) w ON true
LEFT JOIN LATERAL (
    SELECT count(*)::integer                                         AS fetches_30d,
           (count(*) FILTER (WHERE x.status = 'error'))::integer     AS errors_30d,
           (count(*) FILTER (WHERE x.status = 'not_modified'))::double precision / nullif(count(*), 0)
                                                                     AS not_modified_ratio_30d,
           avg(x.duration_ms)::double precision                      AS avg_latency_ms_30d,
           (count(*) FILTER (WHERE x.gap AND x.started_at >= now() - interval '7 days'))::integer AS gaps_7d,
           (count(*) FILTER (WHERE x.gap))::integer                  AS gaps_30d,
           coalesce(sum(x.items_backfilled), 0)::integer             AS items_backfilled_30d
    FROM feed_fetches x WHERE x.feed_id = f.feed_id AND x.started_at >= now() - interval '30 days'
) m ON true;
-- as 0002 grants views: SELECT for both groups (default privileges would give the writers DML on it)
GRANT SELECT ON v_feed_health TO crypto_news_reader, crypto_news_writer;
REVOKE INSERT, UPDATE, DELETE ON v_feed_health FROM crypto_news_writer;

COMMENT ON COLUMN feed_fetches.gap IS 'true: this fetch shares no item with what the feed showed before and its oldest item is newer than the newest seen before (items were probably missed between fetches); false: the fetches overlap; NULL: the feed''s first successful fetch, or a failed one.';
COMMENT ON COLUMN feed_fetches.items_dated IS 'Items of this fetch that carry a publication date.';
COMMENT ON COLUMN feed_fetches.oldest_item_at IS 'Publication date of the oldest dated item in this fetch (the publisher''s clock).';
COMMENT ON COLUMN feed_fetches.newest_item_at IS 'Publication date of the newest dated item in this fetch (the publisher''s clock).';
COMMENT ON COLUMN feed_fetches.items_backfilled IS 'New articles found in the site''s sitemaps, dated after the previous fetch''s newest item, that the feed no longer shows.';
COMMENT ON COLUMN feed_fetches.sitemaps_read IS 'Sitemap files read for this feed''s catch-up.';
COMMENT ON COLUMN feed_fetches.sitemap_error_kind IS 'The first problem met while reading the sitemaps (sitemap_malformed, sitemap_too_large, sitemap_too_many, sitemap_loop, sitemap_too_deep, sitemap_foreign_host, sitemap_bad_dates, or a fetch error kind); the feed''s own status is unaffected.';
COMMENT ON COLUMN feed_fetches.sitemap_error IS 'Message of that problem (one line).';
COMMENT ON COLUMN feed_fetches.next_check_at IS 'When this fetch scheduled the feed''s next check (the poll DAG fetches due feeds only).';
COMMENT ON COLUMN feeds.sitemaps IS 'Sitemap URLs listed for the feed in the feed file (robots.txt Sitemap lines of the feed''s host and site are read as well).';
COMMENT ON COLUMN feeds.next_check_at IS 'When the feed is due again (from its window, publishing rate, ttl, sy:updatePeriod, Cache-Control and Retry-After).';
COMMENT ON COLUMN feeds.check_interval_s IS 'Seconds between checks chosen at the last fetch.';
COMMENT ON COLUMN feeds.check_reason IS 'What set that interval: window, ttl, update_period, cache_control, retry_after, error_backoff, default, and whether a bound applied.';
COMMENT ON COLUMN article_sources.found_by IS 'How the article was found for this feed: feed (an item of the feed), sitemap (catch-up from the site''s sitemaps during a run), backfill (crypto-news backfill or an Airflow backfill run).';
COMMENT ON COLUMN articles.published_source IS 'Where published_at comes from: feed, page (page metadata) or sitemap (news:publication_date or lastmod).';

COMMENT ON VIEW v_feed_health IS 'Per feed: last fetch outcome, failures in a row, caching and latency over 30 days, new items over 7 days, totals, the feed''s window and publishing rate, gaps and sitemap catch-up, next check.';
COMMENT ON COLUMN v_feed_health.feed_id IS 'Feed identifier.';
COMMENT ON COLUMN v_feed_health.feed_name IS 'Feed name.';
COMMENT ON COLUMN v_feed_health.feed_url IS 'Feed URL.';
COMMENT ON COLUMN v_feed_health.site_url IS 'Publication home page.';
COMMENT ON COLUMN v_feed_health.enabled IS 'Whether runs fetch this feed.';
COMMENT ON COLUMN v_feed_health.last_fetch_at IS 'Time of the latest fetch (NULL: never fetched).';
COMMENT ON COLUMN v_feed_health.last_status IS 'Status of the latest fetch: ok, not_modified, unchanged or error.';
COMMENT ON COLUMN v_feed_health.last_http_status IS 'HTTP status of the latest fetch.';
COMMENT ON COLUMN v_feed_health.last_error_kind IS 'Error kind of the latest fetch, when it failed.';
COMMENT ON COLUMN v_feed_health.last_error IS 'Error message of the latest fetch, when it failed.';
COMMENT ON COLUMN v_feed_health.last_success_at IS 'Time of the latest fetch that did not fail (ok, not_modified or unchanged).';
COMMENT ON COLUMN v_feed_health.consecutive_failures IS 'Failed fetches since the last one that did not fail (0 when the latest worked).';
COMMENT ON COLUMN v_feed_health.fetches_30d IS 'Fetches in the last 30 days.';
COMMENT ON COLUMN v_feed_health.errors_30d IS 'Failed fetches in the last 30 days.';
COMMENT ON COLUMN v_feed_health.not_modified_ratio_30d IS 'Share of fetches in the last 30 days answered 304 Not Modified (0-1; NULL when no fetch).';
COMMENT ON COLUMN v_feed_health.avg_latency_ms_30d IS 'Average fetch duration in milliseconds over the last 30 days.';
COMMENT ON COLUMN v_feed_health.new_items_per_day_7d IS 'Items first seen in this feed per day, averaged over the last 7 days.';
COMMENT ON COLUMN v_feed_health.last_article_time IS 'Time of the newest article first stored from this feed.';
COMMENT ON COLUMN v_feed_health.articles_total IS 'Articles this feed has carried (all time, shared ones included).';
COMMENT ON COLUMN v_feed_health.window_hours IS 'Hours between the oldest and newest item of the latest fetch with dated items, by the publisher''s dates: a feed read less often than this misses items (NULL: fewer than two dated items).';
COMMENT ON COLUMN v_feed_health.items_per_day IS 'Publishing rate measured from that window: items per day (NULL when the window is unknown or zero).';
COMMENT ON COLUMN v_feed_health.window_items IS 'Dated items in that window.';
COMMENT ON COLUMN v_feed_health.gaps_7d IS 'Fetches in the last 7 days that found a gap (items probably missed).';
COMMENT ON COLUMN v_feed_health.gaps_30d IS 'Fetches in the last 30 days that found a gap.';
COMMENT ON COLUMN v_feed_health.items_backfilled_30d IS 'Articles the sitemap catch-up added for this feed in the last 30 days.';
COMMENT ON COLUMN v_feed_health.last_gap IS 'Gap flag of the latest fetch (NULL: first fetch, failed, or never fetched).';
COMMENT ON COLUMN v_feed_health.last_sitemap_error_kind IS 'Sitemap problem met by the latest fetch''s catch-up, if any.';
COMMENT ON COLUMN v_feed_health.next_check_at IS 'When the poll DAG fetches the feed next.';
COMMENT ON COLUMN v_feed_health.check_interval_min IS 'Minutes between checks chosen at the last fetch.';
COMMENT ON COLUMN v_feed_health.check_reason IS 'What set that interval (see feeds.check_reason).';
