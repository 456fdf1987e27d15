-- One row per feed: its last fetch, last success, failures in a row, 30-day figures, and its coverage between runs:
-- the window of its latest dated items, the publishing rate measured from it, gaps, sitemap catch-up and the next
-- check (crypto-news feeds).
CREATE OR REPLACE VIEW v_feed_health AS
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
