-- One row per feed: its last fetch, last success, failures in a row, 30-day figures (crypto-news feeds).
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
    (SELECT count(*) FROM article_sources s WHERE s.feed_id = f.feed_id)::bigint AS articles_total
FROM feeds f
LEFT JOIN LATERAL (
    SELECT x.started_at, x.status, x.http_status, x.error_kind, x.error
    FROM feed_fetches x WHERE x.feed_id = f.feed_id
    ORDER BY x.started_at DESC, x.fetch_id DESC LIMIT 1
) last ON true
LEFT JOIN LATERAL (
    SELECT max(x.started_at) AS last_success_at
    FROM feed_fetches x WHERE x.feed_id = f.feed_id AND x.status <> 'error'
) ok ON true
LEFT JOIN LATERAL (
    SELECT count(*)::integer                                         AS fetches_30d,
           (count(*) FILTER (WHERE x.status = 'error'))::integer     AS errors_30d,
           (count(*) FILTER (WHERE x.status = 'not_modified'))::double precision / nullif(count(*), 0)
                                                                     AS not_modified_ratio_30d,
           avg(x.duration_ms)::double precision                      AS avg_latency_ms_30d
    FROM feed_fetches x WHERE x.feed_id = f.feed_id AND x.started_at >= now() - interval '30 days'
) m ON true;

COMMENT ON VIEW v_feed_health IS 'Per feed: last fetch outcome, failures in a row, caching and latency over 30 days, new items over 7 days, totals.';
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
