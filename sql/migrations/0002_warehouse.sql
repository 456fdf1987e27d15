-- 0002: the warehouse layer on top of 0001: full-text search, indexes for the common filters, a few more integrity
-- checks, chart-friendly views for analysts and BI tools, read/write group roles, and a comment on every table, view
-- and column (see docs/SCHEMA.md).
-- Forward-only. Never edit once applied; add a new numbered file instead.
-- Runs in one transaction with search_path = crypto_news, public.

-- ---------------------------------------------------------------------------------------------------------------------
-- Full-text search
-- ---------------------------------------------------------------------------------------------------------------------
-- Weighted title (A) > summary (B) > body (C). The body is the stored text (set by extraction: page, else feed content,
-- else summary), so inserting feed items only indexes title and summary and the long text is parsed once; it is capped at 200,000 characters so that a huge text can never hit the tsvector size limit
-- (1 MB). Recomputed by PostgreSQL whenever the row is updated: only extraction updates articles (once per article);
-- classification writes to other tables and leaves this row alone.
ALTER TABLE articles
    ADD COLUMN search_tsv tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A')
        || setweight(to_tsvector('english'::regconfig, coalesce(summary, '')), 'B')
        || setweight(to_tsvector('english'::regconfig, left(coalesce(text, ''), 200000)), 'C')
    ) STORED;
CREATE INDEX articles_search_idx ON articles USING gin (search_tsv);

-- Trigram index on titles, for "title contains …" (ILIKE '%…%') and similarity searches. pg_trgm is a contrib
-- extension and trusted since PostgreSQL 13 (a database owner may create it). The index is an optimisation only:
-- when the extension is not installed on the server or may not be created, the migration carries on without it
-- (with a WARNING) and title searches fall back to the full-text index or a scan.
DO $$
DECLARE
    ext_schema name;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm')
       AND EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'pg_trgm could not be created (% %); articles_title_trgm_idx is not built', SQLSTATE, SQLERRM;
        END;
    END IF;
    SELECT n.nspname INTO ext_schema
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_trgm';
    IF ext_schema IS NOT NULL THEN
        EXECUTE format('CREATE INDEX articles_title_trgm_idx ON crypto_news.articles USING gin (title %I.gin_trgm_ops)',
                       ext_schema);
    ELSE
        RAISE WARNING 'pg_trgm is not available on this server; articles_title_trgm_idx is not built';
    END IF;
END
$$;

-- ---------------------------------------------------------------------------------------------------------------------
-- Indexes for the common filters
-- ---------------------------------------------------------------------------------------------------------------------
-- 0001 has: articles (published_at DESC), articles (feed_id), article_labels (label, article_id),
-- article_entities (kind, entity_id, article_id), feed_fetches (feed_id, started_at DESC), article_sources (feed_id).
-- "When" an article happened is its publication time, else the time we discovered it (views: article_time/day).
CREATE INDEX articles_time_idx ON articles ((coalesce(published_at, discovered_at)));
CREATE INDEX articles_day_idx ON articles (((coalesce(published_at, discovered_at) AT TIME ZONE 'UTC')::date));
-- Per feed and time (a feed's latest articles); replaces the plain feed index, whose work it covers.
CREATE INDEX articles_feed_time_idx ON articles (feed_id, (coalesce(published_at, discovered_at)));
DROP INDEX articles_feed_idx;
-- (articles.content_hash, for duplicate coverage, is indexed by 0005_archive_dedup.sql.)
-- A feed's items by first sighting (feed health: new items per day); replaces the plain feed index.
CREATE INDEX article_sources_feed_seen_idx ON article_sources (feed_id, first_seen_at);
DROP INDEX article_sources_feed_idx;
CREATE INDEX pipeline_runs_started_idx ON pipeline_runs (started_at DESC);

-- ---------------------------------------------------------------------------------------------------------------------
-- Integrity checks (statuses and labels are already checked by 0001)
-- ---------------------------------------------------------------------------------------------------------------------
-- Error kinds stay open vocabularies (new failure kinds are added in code without a migration), but must be short
-- lower-case identifiers so that they group cleanly in reports. The known values are listed in docs/SCHEMA.md.
ALTER TABLE feed_fetches
    ADD CONSTRAINT feed_fetches_error_kind_format CHECK (error_kind ~ '^[a-z][a-z0-9_]{0,39}$'),
    ADD CONSTRAINT feed_fetches_http_status_range CHECK (http_status BETWEEN 100 AND 599),
    ADD CONSTRAINT feed_fetches_counts_nonnegative
        CHECK (bytes >= 0 AND items_seen >= 0 AND items_new >= 0 AND items_skipped >= 0);
ALTER TABLE articles
    ADD CONSTRAINT articles_extract_error_kind_format CHECK (extract_error_kind ~ '^[a-z][a-z0-9_]{0,39}$'),
    ADD CONSTRAINT articles_extract_attempts_nonnegative CHECK (extract_attempts >= 0);
ALTER TABLE pipeline_runs
    ADD CONSTRAINT pipeline_runs_counts_nonnegative
        CHECK (feeds_total >= 0 AND feeds_ok >= 0 AND feeds_not_modified >= 0 AND feeds_failed >= 0
               AND items_seen >= 0 AND articles_new >= 0 AND articles_extracted >= 0 AND articles_classified >= 0
               AND labels_written >= 0);
ALTER TABLE article_entities
    ADD CONSTRAINT article_entities_entity_id_not_blank CHECK (entity_id <> '' AND name <> '');

-- ---------------------------------------------------------------------------------------------------------------------
-- Views for analysts and BI tools: stable names, plain types (date, bigint/integer, real, boolean, text[]), no jsonb.
-- ---------------------------------------------------------------------------------------------------------------------
-- Columns computed by scalar subqueries are only evaluated when a query selects them, and every subquery is an index
-- lookup by article_id, so filtering v_articles on article_time / article_day / feed uses the articles indexes.
CREATE VIEW v_articles AS
SELECT
    a.article_id,
    a.feed_id,
    f.name                                                           AS feed_name,
    f.site_url                                                       AS feed_site_url,
    a.sitename,
    a.published_at,
    coalesce(a.published_at, a.discovered_at)                        AS article_time,
    (coalesce(a.published_at, a.discovered_at) AT TIME ZONE 'UTC')::date AS article_day,
    a.published_source,
    a.published_flag,
    a.discovered_at,
    a.extracted_at,
    a.title,
    a.url,
    a.canonical_url,
    a.author,
    a.lang,
    a.extract_state,
    a.text_source,
    a.extract_error_kind,
    a.word_count,
    EXISTS (SELECT 1 FROM article_labels l WHERE l.article_id = a.article_id AND l.label = 'regulation') AS is_regulation,
    EXISTS (SELECT 1 FROM article_labels l WHERE l.article_id = a.article_id AND l.label = 'adoption')   AS is_adoption,
    EXISTS (SELECT 1 FROM article_labels l WHERE l.article_id = a.article_id AND l.label = 'mining')     AS is_mining,
    ARRAY(SELECT l.label FROM article_labels l WHERE l.article_id = a.article_id ORDER BY l.label)      AS labels,
    c.article_id IS NOT NULL                                         AS is_classified,
    (c.scores ->> 'regulation')::real                                AS score_regulation,
    (c.scores ->> 'adoption')::real                                  AS score_adoption,
    (c.scores ->> 'mining')::real                                    AS score_mining,
    c.classifier_version,
    c.classified_at,
    ARRAY(SELECT e.entity_id FROM article_entities e
          WHERE e.article_id = a.article_id AND e.kind = 'jurisdiction' ORDER BY e.mentions DESC, e.entity_id) AS jurisdictions,
    ARRAY(SELECT e.entity_id FROM article_entities e
          WHERE e.article_id = a.article_id AND e.kind = 'regulator' ORDER BY e.mentions DESC, e.entity_id)    AS regulators,
    ARRAY(SELECT e.entity_id FROM article_entities e
          WHERE e.article_id = a.article_id AND e.kind = 'asset' ORDER BY e.mentions DESC, e.entity_id)        AS assets,
    (SELECT count(*) FROM article_sources s WHERE s.article_id = a.article_id)::integer                     AS source_count,
    a.content_hash,
    (SELECT count(*) FROM articles d WHERE d.content_hash = a.content_hash)::integer                      AS same_content_count,
    (SELECT min(d.article_id) FROM articles d WHERE d.content_hash = a.content_hash)                      AS first_same_content_article_id
FROM articles a
LEFT JOIN feeds f ON f.feed_id = a.feed_id
LEFT JOIN article_classifications c ON c.article_id = a.article_id;

-- Counted by the article's first source feed (articles.feed_id), so that the rows of one day and label add up to
-- distinct articles. An article with several labels is counted once per label.
CREATE VIEW v_label_daily AS
SELECT
    (coalesce(a.published_at, a.discovered_at) AT TIME ZONE 'UTC')::date AS day,
    l.label,
    a.feed_id,
    coalesce(f.name, '(no feed)')                                    AS feed_name,
    count(*)::bigint                                                 AS article_count
FROM articles a
JOIN article_labels l ON l.article_id = a.article_id
LEFT JOIN feeds f ON f.feed_id = a.feed_id
GROUP BY 1, 2, 3, 4;

CREATE VIEW v_entity_label_daily AS
SELECT
    (coalesce(a.published_at, a.discovered_at) AT TIME ZONE 'UTC')::date AS day,
    e.kind                                                           AS entity_kind,
    e.entity_id,
    max(e.name)                                                      AS entity_name,
    l.label,
    count(*)::bigint                                                 AS article_count
FROM articles a
JOIN article_entities e ON e.article_id = a.article_id
JOIN article_labels l ON l.article_id = a.article_id
GROUP BY 1, 2, 3, 5;

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

CREATE VIEW v_pipeline_runs AS
SELECT
    r.run_id,
    r.run_key,
    r.trigger,
    r.status,
    r.started_at,
    r.finished_at,
    (r.started_at AT TIME ZONE 'UTC')::date                          AS run_day,
    extract(epoch FROM (r.finished_at - r.started_at))::double precision AS duration_s,
    r.feeds_total,
    r.feeds_ok,
    r.feeds_not_modified,
    r.feeds_failed,
    r.items_seen,
    r.articles_new,
    r.articles_extracted,
    r.articles_classified,
    r.labels_written,
    r.error
FROM pipeline_runs r;

-- ---------------------------------------------------------------------------------------------------------------------
-- Roles. Roles are cluster-wide (several databases on one server run these migrations, possibly at once), so they
-- are created only when missing; grants are per database and made below. Creating a role needs CREATEROLE: when the
-- migration user lacks it and the roles do not exist yet, the migration fails and says what a DBA must run.
-- ---------------------------------------------------------------------------------------------------------------------
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['crypto_news_reader', 'crypto_news_writer'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', r);
            EXCEPTION
                WHEN duplicate_object OR unique_violation THEN
                    NULL;  -- created at the same moment by the migration of another database
                WHEN insufficient_privilege THEN
                    RAISE EXCEPTION 'role % does not exist and % may not create it', r, current_user
                        USING HINT = format('as a superuser or a role with CREATEROLE run: CREATE ROLE %I NOLOGIN; '
                                            'then migrate again', r);
            END;
        END IF;
    END LOOP;
END
$$;

GRANT USAGE ON SCHEMA crypto_news TO crypto_news_reader, crypto_news_writer;
-- readers: SELECT on every table and view
GRANT SELECT ON ALL TABLES IN SCHEMA crypto_news TO crypto_news_reader;
-- the pipeline: DML on the base tables (not on views), SELECT on views, identity sequences. No CREATE: migrations are
-- run by the schema owner.
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT c.relname, c.relkind FROM pg_class c
             WHERE c.relnamespace = 'crypto_news'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm') LOOP
        IF t.relkind IN ('r', 'p') THEN
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON crypto_news.%I TO crypto_news_writer', t.relname);
        ELSE
            EXECUTE format('GRANT SELECT ON crypto_news.%I TO crypto_news_writer', t.relname);
        END IF;
    END LOOP;
END
$$;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA crypto_news TO crypto_news_writer;
-- objects created later by the migration user (future migrations) get the same privileges
ALTER DEFAULT PRIVILEGES IN SCHEMA crypto_news GRANT SELECT ON TABLES TO crypto_news_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA crypto_news GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO crypto_news_writer;
ALTER DEFAULT PRIVILEGES IN SCHEMA crypto_news GRANT USAGE, SELECT ON SEQUENCES TO crypto_news_writer;

-- ---------------------------------------------------------------------------------------------------------------------
-- Documentation in the database (docs/SCHEMA.md has the diagram and the status values)
-- ---------------------------------------------------------------------------------------------------------------------
COMMENT ON SCHEMA crypto_news IS 'crypto-news warehouse: feeds, their fetches, articles with text, labels (regulation/adoption/mining) and entities, pipeline runs. Analysts: start with the v_* views. See docs/SCHEMA.md.';

COMMENT ON TABLE schema_migrations IS 'Applied migrations (sql/migrations/NNNN_name.sql), written by the migration runner.';
COMMENT ON COLUMN schema_migrations.version IS 'Migration number (NNNN of the file name).';
COMMENT ON COLUMN schema_migrations.name IS 'Migration name (the file name without number and .sql).';
COMMENT ON COLUMN schema_migrations.checksum IS 'sha256 (hex) of the file as applied; an applied file edited later is refused.';
COMMENT ON COLUMN schema_migrations.applied_at IS 'When the migration was applied.';

COMMENT ON TABLE pipeline_runs IS 'One row per pipeline run (command line or Airflow DAG run), with counters and a summary.';
COMMENT ON COLUMN pipeline_runs.run_id IS 'Run identifier (identity).';
COMMENT ON COLUMN pipeline_runs.run_key IS 'Unique key of the run (the Airflow run id, or generated); a retried run reuses its row.';
COMMENT ON COLUMN pipeline_runs.trigger IS 'What started the run: cli, airflow, test or bench.';
COMMENT ON COLUMN pipeline_runs.started_at IS 'When the run row was created.';
COMMENT ON COLUMN pipeline_runs.finished_at IS 'When the run finished (NULL while running).';
COMMENT ON COLUMN pipeline_runs.status IS 'running, success (every feed fetched), partial (some feeds failed) or failed (an error stopped the run, or every feed failed).';
COMMENT ON COLUMN pipeline_runs.feeds_total IS 'Feeds in the run.';
COMMENT ON COLUMN pipeline_runs.feeds_ok IS 'Feeds fetched with status ok or unchanged.';
COMMENT ON COLUMN pipeline_runs.feeds_not_modified IS 'Feeds that answered 304 Not Modified.';
COMMENT ON COLUMN pipeline_runs.feeds_failed IS 'Feeds whose fetch ended in error.';
COMMENT ON COLUMN pipeline_runs.items_seen IS 'Feed items seen (including skipped ones).';
COMMENT ON COLUMN pipeline_runs.articles_new IS 'Articles first stored by this run.';
COMMENT ON COLUMN pipeline_runs.articles_extracted IS 'Articles whose text was obtained (or fallen back) in this run.';
COMMENT ON COLUMN pipeline_runs.articles_classified IS 'Articles (re)classified in this run.';
COMMENT ON COLUMN pipeline_runs.labels_written IS 'Label rows written in this run.';
COMMENT ON COLUMN pipeline_runs.error IS 'Why the run failed (one line), else NULL.';
COMMENT ON COLUMN pipeline_runs.summary IS 'The run summary as JSON (per-feed outcomes), as printed by the command line.';

COMMENT ON TABLE feeds IS 'The reviewed feed list (config/feeds.yml) and each feed''s HTTP cache validators.';
COMMENT ON COLUMN feeds.feed_id IS 'Feed identifier (identity).';
COMMENT ON COLUMN feeds.url IS 'Feed URL (unique).';
COMMENT ON COLUMN feeds.name IS 'Display name of the feed (source name in reports).';
COMMENT ON COLUMN feeds.site_url IS 'Home page of the publication, when configured.';
COMMENT ON COLUMN feeds.enabled IS 'Whether runs fetch this feed.';
COMMENT ON COLUMN feeds.obey_robots IS 'Whether article pages of this feed are fetched only when robots.txt allows.';
COMMENT ON COLUMN feeds.tags IS 'Free tags from the feed list (e.g. language, region).';
COMMENT ON COLUMN feeds.etag IS 'ETag of the last successful fetch (sent as If-None-Match).';
COMMENT ON COLUMN feeds.last_modified IS 'Last-Modified of the last successful fetch (sent as If-Modified-Since).';
COMMENT ON COLUMN feeds.content_hash IS 'sha256 of the last parsed feed body (an identical body is "unchanged").';
COMMENT ON COLUMN feeds.title IS 'Title the feed gives itself.';
COMMENT ON COLUMN feeds.created_at IS 'When the feed was first synced.';
COMMENT ON COLUMN feeds.updated_at IS 'When the feed row last changed.';

COMMENT ON TABLE feed_fetches IS 'One row per fetch of a feed: outcome, HTTP status, timing and item counts.';
COMMENT ON COLUMN feed_fetches.fetch_id IS 'Fetch identifier (identity, increasing).';
COMMENT ON COLUMN feed_fetches.run_id IS 'The run that fetched (NULL if the run row was deleted).';
COMMENT ON COLUMN feed_fetches.feed_id IS 'The feed fetched.';
COMMENT ON COLUMN feed_fetches.started_at IS 'When the fetch was recorded.';
COMMENT ON COLUMN feed_fetches.duration_ms IS 'Fetch and parse time in milliseconds.';
COMMENT ON COLUMN feed_fetches.status IS 'ok (parsed, items stored), not_modified (HTTP 304), unchanged (same body as last time), error (see error_kind).';
COMMENT ON COLUMN feed_fetches.http_status IS 'HTTP status of the final response, when there was one.';
COMMENT ON COLUMN feed_fetches.error_kind IS 'Set exactly when status = error: http_error, timeout, too_large, blocked, tls, dns, connection, too_many_redirects, bad_url, robots, empty, malformed, not_a_feed, internal, not_fetched (open list, lower-case identifier).';
COMMENT ON COLUMN feed_fetches.error IS 'Error message (one line).';
COMMENT ON COLUMN feed_fetches.bytes IS 'Size of the response body in bytes.';
COMMENT ON COLUMN feed_fetches.items_seen IS 'Items in the feed (usable and skipped).';
COMMENT ON COLUMN feed_fetches.items_new IS 'Items that became new articles.';
COMMENT ON COLUMN feed_fetches.items_skipped IS 'Items skipped (no usable link, etc.).';
COMMENT ON COLUMN feed_fetches.parse_warning IS 'Problem of a feed that still parsed (e.g. malformed XML recovered).';
COMMENT ON COLUMN feed_fetches.final_url IS 'URL after redirects.';

COMMENT ON TABLE articles IS 'One row per distinct article (by canonical URL): feed metadata, extracted text and page metadata.';
COMMENT ON COLUMN articles.article_id IS 'Article identifier (identity).';
COMMENT ON COLUMN articles.canonical_url IS 'Normalised URL identifying the article (unique; tracking parameters removed).';
COMMENT ON COLUMN articles.url IS 'Link as given by the first feed that carried it.';
COMMENT ON COLUMN articles.guid IS 'Item guid/id from the first feed.';
COMMENT ON COLUMN articles.feed_id IS 'First feed that carried the article (all feeds: article_sources).';
COMMENT ON COLUMN articles.first_run_id IS 'Run that first stored the article.';
COMMENT ON COLUMN articles.title IS 'Title from the feed.';
COMMENT ON COLUMN articles.summary IS 'Summary/description from the feed (plain text).';
COMMENT ON COLUMN articles.feed_content IS 'Full content carried by the feed (plain text), when any.';
COMMENT ON COLUMN articles.author IS 'Author from the feed.';
COMMENT ON COLUMN articles.feed_categories IS 'Categories/tags from the feed item.';
COMMENT ON COLUMN articles.published_at IS 'Publication time: the feed''s date, else a trusted page date; NULL when unknown (see published_flag).';
COMMENT ON COLUMN articles.published_source IS 'Where published_at came from: feed or page.';
COMMENT ON COLUMN articles.published_flag IS 'Why the feed date was not used: missing, future, too_old, unparsable; NULL when fine.';
COMMENT ON COLUMN articles.discovered_at IS 'When the article was first stored.';
COMMENT ON COLUMN articles.link_error IS 'Problem with the item link, when any.';
COMMENT ON COLUMN articles.extract_state IS 'pending (no text yet), retry (fallback text stored, the page is tried again), done (final).';
COMMENT ON COLUMN articles.extract_attempts IS 'Page extraction attempts so far.';
COMMENT ON COLUMN articles.text IS 'Article text: from the page, else the feed content, else the summary (see text_source).';
COMMENT ON COLUMN articles.text_source IS 'page, feed_content (full text in the feed), feed_summary (summary only), none; NULL while pending.';
COMMENT ON COLUMN articles.extract_error_kind IS 'Why the page text was not used (open list, lower-case identifier): fetch errors (http_error, timeout, robots, …) or page statuses (blocked, paywall_or_teaser, too_short, empty, not_html, parse_error, too_large), timeout, internal.';
COMMENT ON COLUMN articles.extract_error IS 'Extraction error message (one line).';
COMMENT ON COLUMN articles.page_title IS 'Title found on the page.';
COMMENT ON COLUMN articles.page_author IS 'Author found on the page.';
COMMENT ON COLUMN articles.page_published_at IS 'Trusted publication date found on the page.';
COMMENT ON COLUMN articles.sitename IS 'Site name found on the page.';
COMMENT ON COLUMN articles.lang IS 'Language declared by the page.';
COMMENT ON COLUMN articles.description IS 'Description (meta) found on the page.';
COMMENT ON COLUMN articles.page_tags IS 'Tags/keywords found on the page.';
COMMENT ON COLUMN articles.image_url IS 'Lead image URL found on the page.';
COMMENT ON COLUMN articles.word_count IS 'Words in text.';
COMMENT ON COLUMN articles.content_hash IS 'sha256 of the normalised text (same hash = same text under different URLs).';
COMMENT ON COLUMN articles.extractor IS 'Extractor used for the page.';
COMMENT ON COLUMN articles.extractor_version IS 'Version of the extractor.';
COMMENT ON COLUMN articles.extracted_at IS 'When text was last stored.';
COMMENT ON COLUMN articles.updated_at IS 'When the row last changed.';
COMMENT ON COLUMN articles.search_tsv IS 'Full-text search vector (english): title weight A, summary B, text C (set by extraction), text capped at 200,000 characters. Generated; GIN-indexed.';

COMMENT ON TABLE article_sources IS 'Which feeds carried which article (an article syndicated by several feeds has several rows).';
COMMENT ON COLUMN article_sources.article_id IS 'The article.';
COMMENT ON COLUMN article_sources.feed_id IS 'A feed that carried it.';
COMMENT ON COLUMN article_sources.guid IS 'Item guid/id in that feed.';
COMMENT ON COLUMN article_sources.item_url IS 'Item link in that feed.';
COMMENT ON COLUMN article_sources.first_seen_at IS 'When this feed was first seen carrying the article.';
COMMENT ON COLUMN article_sources.first_run_id IS 'Run that first saw it in this feed.';

COMMENT ON TABLE article_classifications IS 'One row per classified article (also when no label applies): classifier version and all scores.';
COMMENT ON COLUMN article_classifications.article_id IS 'The article.';
COMMENT ON COLUMN article_classifications.classifier_version IS 'Taxonomy/classifier version that produced the scores.';
COMMENT ON COLUMN article_classifications.scores IS 'Score per label as JSON, e.g. {"regulation": 0.82, "adoption": 0.1, "mining": 0}.';
COMMENT ON COLUMN article_classifications.classified_at IS 'When the article was classified.';

COMMENT ON TABLE article_labels IS 'One row per article and label it carries (regulation, adoption, mining); an article may have none.';
COMMENT ON COLUMN article_labels.article_id IS 'The article.';
COMMENT ON COLUMN article_labels.label IS 'regulation, adoption or mining (docs/LABELS.md).';
COMMENT ON COLUMN article_labels.score IS 'Classifier score, 0 to 1.';
COMMENT ON COLUMN article_labels.evidence IS 'Phrases that triggered the label.';
COMMENT ON COLUMN article_labels.classifier_version IS 'Classifier version that set the label.';
COMMENT ON COLUMN article_labels.labelled_at IS 'When the label was written.';

COMMENT ON TABLE article_entities IS 'Named entities of an article: jurisdictions, regulators, crypto-assets (ids in config/entities.yml).';
COMMENT ON COLUMN article_entities.article_id IS 'The article.';
COMMENT ON COLUMN article_entities.kind IS 'jurisdiction, regulator or asset.';
COMMENT ON COLUMN article_entities.entity_id IS 'Entity id: ISO country code (CN, US-NY), regulator (US-SEC), asset ticker (BTC).';
COMMENT ON COLUMN article_entities.name IS 'Entity display name.';
COMMENT ON COLUMN article_entities.mentions IS 'Number of mentions in title, summary and text.';

COMMENT ON VIEW v_articles IS 'One row per article, flattened for analysis and BI: source, times, extraction status, label flags and scores, entity lists, duplicates.';
COMMENT ON COLUMN v_articles.article_id IS 'Article identifier.';
COMMENT ON COLUMN v_articles.feed_id IS 'First feed that carried the article.';
COMMENT ON COLUMN v_articles.feed_name IS 'Name of that feed (the source).';
COMMENT ON COLUMN v_articles.feed_site_url IS 'Home page of that feed''s publication.';
COMMENT ON COLUMN v_articles.sitename IS 'Site name found on the article page.';
COMMENT ON COLUMN v_articles.published_at IS 'Publication time (NULL when unknown).';
COMMENT ON COLUMN v_articles.article_time IS 'published_at, else discovered_at: the time to filter and chart by (indexed).';
COMMENT ON COLUMN v_articles.article_day IS 'UTC date of article_time (indexed).';
COMMENT ON COLUMN v_articles.published_source IS 'Where published_at came from: feed or page.';
COMMENT ON COLUMN v_articles.published_flag IS 'Why the feed date was not used: missing, future, too_old, unparsable; NULL when fine.';
COMMENT ON COLUMN v_articles.discovered_at IS 'When the article was first stored.';
COMMENT ON COLUMN v_articles.extracted_at IS 'When its text was last stored.';
COMMENT ON COLUMN v_articles.title IS 'Title from the feed.';
COMMENT ON COLUMN v_articles.url IS 'Link as given by the first feed.';
COMMENT ON COLUMN v_articles.canonical_url IS 'Normalised URL identifying the article.';
COMMENT ON COLUMN v_articles.author IS 'Author from the feed.';
COMMENT ON COLUMN v_articles.lang IS 'Language declared by the page.';
COMMENT ON COLUMN v_articles.extract_state IS 'pending, retry or done.';
COMMENT ON COLUMN v_articles.text_source IS 'page, feed_content, feed_summary or none.';
COMMENT ON COLUMN v_articles.extract_error_kind IS 'Why the page text was not used, when it was not.';
COMMENT ON COLUMN v_articles.word_count IS 'Words in the stored text.';
COMMENT ON COLUMN v_articles.is_regulation IS 'Labelled regulation.';
COMMENT ON COLUMN v_articles.is_adoption IS 'Labelled adoption.';
COMMENT ON COLUMN v_articles.is_mining IS 'Labelled mining.';
COMMENT ON COLUMN v_articles.labels IS 'All labels, sorted (empty array when none).';
COMMENT ON COLUMN v_articles.is_classified IS 'Whether the classifier has seen the article (false: not yet).';
COMMENT ON COLUMN v_articles.score_regulation IS 'Classifier score for regulation (0-1; NULL when not classified).';
COMMENT ON COLUMN v_articles.score_adoption IS 'Classifier score for adoption (0-1; NULL when not classified).';
COMMENT ON COLUMN v_articles.score_mining IS 'Classifier score for mining (0-1; NULL when not classified).';
COMMENT ON COLUMN v_articles.classifier_version IS 'Classifier version of the scores and labels.';
COMMENT ON COLUMN v_articles.classified_at IS 'When the article was classified.';
COMMENT ON COLUMN v_articles.jurisdictions IS 'Jurisdiction ids named (CN, US, US-NY, EU…), most mentioned first.';
COMMENT ON COLUMN v_articles.regulators IS 'Regulator ids named (US-SEC, INT-FATF…), most mentioned first.';
COMMENT ON COLUMN v_articles.assets IS 'Asset tickers named (BTC, ETH…), most mentioned first.';
COMMENT ON COLUMN v_articles.source_count IS 'Number of feeds that carried the article.';
COMMENT ON COLUMN v_articles.content_hash IS 'sha256 of the normalised text (NULL before extraction).';
COMMENT ON COLUMN v_articles.same_content_count IS 'Articles (this one included) with the same text under other URLs; 1 = unique, 0 = no text yet.';
COMMENT ON COLUMN v_articles.first_same_content_article_id IS 'Lowest article_id with the same text (equals article_id for the original; NULL before extraction).';

COMMENT ON VIEW v_label_daily IS 'Articles per UTC day, label and first source feed. Unlabelled articles are not counted; an article with two labels counts once for each.';
COMMENT ON COLUMN v_label_daily.day IS 'UTC date of the article (published, else discovered).';
COMMENT ON COLUMN v_label_daily.label IS 'regulation, adoption or mining.';
COMMENT ON COLUMN v_label_daily.feed_id IS 'First feed that carried the articles.';
COMMENT ON COLUMN v_label_daily.feed_name IS 'Name of that feed.';
COMMENT ON COLUMN v_label_daily.article_count IS 'Number of articles.';

COMMENT ON VIEW v_entity_label_daily IS 'Articles per UTC day, entity and label: which countries, regulators and assets the regulation/adoption/mining news is about.';
COMMENT ON COLUMN v_entity_label_daily.day IS 'UTC date of the article (published, else discovered).';
COMMENT ON COLUMN v_entity_label_daily.entity_kind IS 'jurisdiction, regulator or asset.';
COMMENT ON COLUMN v_entity_label_daily.entity_id IS 'Entity id (CN, US-SEC, BTC…).';
COMMENT ON COLUMN v_entity_label_daily.entity_name IS 'Entity display name.';
COMMENT ON COLUMN v_entity_label_daily.label IS 'regulation, adoption or mining.';
COMMENT ON COLUMN v_entity_label_daily.article_count IS 'Number of articles naming the entity with that label.';

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

COMMENT ON VIEW v_pipeline_runs IS 'Pipeline runs with duration, counters and status (the run summary JSON left out).';
COMMENT ON COLUMN v_pipeline_runs.run_id IS 'Run identifier.';
COMMENT ON COLUMN v_pipeline_runs.run_key IS 'Unique run key (Airflow run id or generated).';
COMMENT ON COLUMN v_pipeline_runs.trigger IS 'cli, airflow, test or bench.';
COMMENT ON COLUMN v_pipeline_runs.status IS 'running, success, partial or failed.';
COMMENT ON COLUMN v_pipeline_runs.started_at IS 'Start time.';
COMMENT ON COLUMN v_pipeline_runs.finished_at IS 'End time (NULL while running).';
COMMENT ON COLUMN v_pipeline_runs.run_day IS 'UTC date of the start.';
COMMENT ON COLUMN v_pipeline_runs.duration_s IS 'Duration in seconds (NULL while running).';
COMMENT ON COLUMN v_pipeline_runs.feeds_total IS 'Feeds in the run.';
COMMENT ON COLUMN v_pipeline_runs.feeds_ok IS 'Feeds fetched ok or unchanged.';
COMMENT ON COLUMN v_pipeline_runs.feeds_not_modified IS 'Feeds that answered 304.';
COMMENT ON COLUMN v_pipeline_runs.feeds_failed IS 'Feeds that failed.';
COMMENT ON COLUMN v_pipeline_runs.items_seen IS 'Feed items seen.';
COMMENT ON COLUMN v_pipeline_runs.articles_new IS 'New articles.';
COMMENT ON COLUMN v_pipeline_runs.articles_extracted IS 'Articles extracted.';
COMMENT ON COLUMN v_pipeline_runs.articles_classified IS 'Articles classified.';
COMMENT ON COLUMN v_pipeline_runs.labels_written IS 'Label rows written.';
COMMENT ON COLUMN v_pipeline_runs.error IS 'Why the run failed, else NULL.';
