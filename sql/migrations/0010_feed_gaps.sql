-- 0010: coverage between runs. Each feed fetch records the span of its items (the feed's window), whether it missed
-- items since the previous fetch (gap) and what the sites' sitemaps filled in (items_backfilled); each feed gets
-- its own polling pace (next_check_at); article_sources says how an article was found (feed, sitemap, backfill).
-- The views that show these columns are repeatable definitions, re-applied after the migrations:
-- sql/views/40_v_feed_health.sql (window, gaps, catch-up, next check) and sql/views/60_marts_feeds.sql
-- (crypto_news_marts.dim_feeds and fct_feed_fetches).
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
