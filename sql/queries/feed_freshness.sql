-- Question: which feeds are stale or failing? Last fetch and its outcome, failures in a row, hours since the last
-- successful fetch and since the newest article, caching (304 share) and latency. Worst first.
-- Usage: psql -f sql/queries/feed_freshness.sql -v stale_hours=24
\if :{?stale_hours}
\else
\set stale_hours 24
\endif

SELECT feed_name,
       enabled,
       last_status,
       last_error_kind,
       consecutive_failures,
       round((extract(epoch FROM now() - last_success_at) / 3600)::numeric, 1)   AS hours_since_success,
       round((extract(epoch FROM now() - last_article_time) / 3600)::numeric, 1) AS hours_since_newest_article,
       coalesce(last_success_at < now() - make_interval(hours => :stale_hours), true) AS is_stale,
       round(not_modified_ratio_30d::numeric, 2)                                 AS not_modified_ratio_30d,
       round(avg_latency_ms_30d::numeric)                                        AS avg_latency_ms_30d,
       round(new_items_per_day_7d::numeric, 1)                                   AS new_items_per_day_7d,
       articles_total
FROM crypto_news.v_feed_health
ORDER BY enabled DESC, consecutive_failures DESC, is_stale DESC, last_success_at NULLS FIRST, feed_name;
