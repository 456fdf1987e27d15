-- 0012: the marts: a second schema, crypto_news_marts, shaped for BI tools (Metabase, Superset) that chart by
-- clicking. Every column is a scalar (no arrays, JSON, tsvector or bytea); names follow one convention (*_id
-- identifiers, *_at timestamptz, *_date UTC dates, is_* booleans, *_count counts); every view, table and column
-- carries a comment that BI tools show as its description. The group role crypto_news_bi sees this schema only.
-- Forward-only. Never edit once applied; add a new numbered file instead.
-- Runs in one transaction with search_path = crypto_news, public.
--
-- Row-level marts (dim_*, fct_*) are views over the base tables: always current, and a filter on article_at /
-- article_date, an entity or a label reaches the base tables' indexes. The two daily aggregates are tables,
-- recomputed by crypto_news_marts.refresh_aggregates() at the end of every classification stage (daily run,
-- re-classification, re-extraction): zero-filled series cannot be views that a date filter narrows (the calendar
-- side of the outer join does not pass the filter on), and at 1,000,000 articles a 30-day aggregate computed on the
-- fly took longer than a chart should wait (docs/SCHEMA.md, "Marts at scale").

CREATE SCHEMA crypto_news_marts;

-- The outlet (publication) of a feed: the host of its home page, else of the feed URL, without "www.". Several
-- feeds of one publication share it. Stored on feeds so that every mart uses one definition.
ALTER TABLE feeds ADD COLUMN outlet text GENERATED ALWAYS AS (
    lower(substring(coalesce(site_url, url) FROM '^[A-Za-z][A-Za-z0-9+.-]*://(?:[^/@]*@)?(?:www\.)?([^/:?#]+)'))
) STORED;
COMMENT ON COLUMN feeds.outlet IS 'The publication: host name of site_url (else of the feed URL) without www.; feeds of one publication share it. Generated.';

-- ---------------------------------------------------------------------------------------------------------------------
-- Dimensions and facts (views)
-- ---------------------------------------------------------------------------------------------------------------------
-- Label flags are LEFT JOINs on the primary key (article_id, label): at most one row each, so no row is multiplied;
-- PostgreSQL drops the join when the flag is not selected, and turns it into an inner join when a query keeps only
-- flagged rows (WHERE is_regulation), which lets it start from article_labels_label_idx.
CREATE VIEW crypto_news_marts.dim_articles AS
SELECT
    a.article_id,
    a.title,
    a.url,
    a.canonical_url,
    a.feed_id,
    f.name                                                               AS feed_name,
    f.outlet,
    a.sitename                                                           AS site_name,
    a.author,
    a.lang,
    a.published_at,
    a.discovered_at,
    coalesce(a.published_at, a.discovered_at)                            AS article_at,
    (coalesce(a.published_at, a.discovered_at) AT TIME ZONE 'UTC')::date AS article_date,
    a.published_source,
    a.published_flag,
    lr.article_id IS NOT NULL                                            AS is_regulation,
    la.article_id IS NOT NULL                                            AS is_adoption,
    lm.article_id IS NOT NULL                                            AS is_mining,
    c.article_id IS NOT NULL                                             AS is_classified,
    (c.scores ->> 'regulation')::real                                    AS regulation_score,
    (c.scores ->> 'adoption')::real                                      AS adoption_score,
    (c.scores ->> 'mining')::real                                        AS mining_score,
    c.classifier_version,
    c.classified_at,
    a.word_count,
    a.text_source,
    a.extract_state,
    a.extract_error_kind,
    a.extracted_at,
    a.duplicate_of                                                       AS duplicate_of_article_id,
    a.near_duplicate_of                                                  AS near_duplicate_of_article_id,
    coalesce(a.near_duplicate_of, a.article_id)                          AS story_id,
    a.duplicate_of IS NOT NULL                                           AS is_duplicate,
    a.near_duplicate_of IS NOT NULL                                      AS is_near_duplicate,
    (SELECT count(*) FROM crypto_news.article_sources s WHERE s.article_id = a.article_id)::integer AS source_count,
    a.page_sha256 IS NOT NULL                                            AS is_page_archived,
    a.first_run_id
FROM crypto_news.articles a
LEFT JOIN crypto_news.feeds f ON f.feed_id = a.feed_id
LEFT JOIN crypto_news.article_classifications c ON c.article_id = a.article_id
LEFT JOIN crypto_news.article_labels lr ON lr.article_id = a.article_id AND lr.label = 'regulation'
LEFT JOIN crypto_news.article_labels la ON la.article_id = a.article_id AND la.label = 'adoption'
LEFT JOIN crypto_news.article_labels lm ON lm.article_id = a.article_id AND lm.label = 'mining';

CREATE VIEW crypto_news_marts.fct_article_labels AS
SELECT
    l.article_id,
    l.label,
    l.score,
    l.classifier_version,
    l.labelled_at,
    coalesce(a.published_at, a.discovered_at)                            AS article_at,
    (coalesce(a.published_at, a.discovered_at) AT TIME ZONE 'UTC')::date AS article_date,
    a.feed_id,
    f.name                                                               AS feed_name,
    f.outlet,
    coalesce(a.near_duplicate_of, a.article_id)                          AS story_id,
    a.duplicate_of IS NOT NULL                                           AS is_duplicate
FROM crypto_news.article_labels l
JOIN crypto_news.articles a ON a.article_id = l.article_id
LEFT JOIN crypto_news.feeds f ON f.feed_id = a.feed_id;

CREATE VIEW crypto_news_marts.fct_article_entities AS
SELECT
    e.article_id,
    e.kind                                                               AS entity_kind,
    e.entity_id,
    e.name                                                               AS entity_name,
    e.mentions                                                           AS mention_count,
    coalesce(a.published_at, a.discovered_at)                            AS article_at,
    (coalesce(a.published_at, a.discovered_at) AT TIME ZONE 'UTC')::date AS article_date,
    a.feed_id,
    f.name                                                               AS feed_name,
    f.outlet,
    lr.article_id IS NOT NULL                                            AS is_regulation,
    la.article_id IS NOT NULL                                            AS is_adoption,
    lm.article_id IS NOT NULL                                            AS is_mining,
    coalesce(a.near_duplicate_of, a.article_id)                          AS story_id,
    a.duplicate_of IS NOT NULL                                           AS is_duplicate
FROM crypto_news.article_entities e
JOIN crypto_news.articles a ON a.article_id = e.article_id
LEFT JOIN crypto_news.feeds f ON f.feed_id = a.feed_id
LEFT JOIN crypto_news.article_labels lr ON lr.article_id = e.article_id AND lr.label = 'regulation'
LEFT JOIN crypto_news.article_labels la ON la.article_id = e.article_id AND la.label = 'adoption'
LEFT JOIN crypto_news.article_labels lm ON lm.article_id = e.article_id AND lm.label = 'mining';

-- Feed state for ops dashboards. Columns about feed gaps and backfills belong here (and in fct_feed_fetches) once
-- the fetch log records them: a later migration appends them with CREATE OR REPLACE VIEW.
CREATE VIEW crypto_news_marts.dim_feeds AS
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
    (SELECT count(*) FROM crypto_news.article_sources s WHERE s.feed_id = f.feed_id)::bigint AS article_count
FROM crypto_news.feeds f
LEFT JOIN LATERAL (
    SELECT x.started_at, x.status, x.http_status, x.error_kind, x.error
    FROM crypto_news.feed_fetches x WHERE x.feed_id = f.feed_id
    ORDER BY x.started_at DESC, x.fetch_id DESC LIMIT 1
) last ON true
LEFT JOIN LATERAL (
    SELECT max(x.started_at) AS last_success_at
    FROM crypto_news.feed_fetches x WHERE x.feed_id = f.feed_id AND x.status <> 'error'
) ok ON true
LEFT JOIN LATERAL (
    SELECT count(*)::integer                                             AS fetch_count_30d,
           (count(*) FILTER (WHERE x.status = 'error'))::integer         AS error_count_30d,
           avg(x.duration_ms)::double precision                          AS avg_duration_ms_30d
    FROM crypto_news.feed_fetches x WHERE x.feed_id = f.feed_id AND x.started_at >= now() - interval '30 days'
) m ON true;

CREATE VIEW crypto_news_marts.fct_feed_fetches AS
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
    x.final_url
FROM crypto_news.feed_fetches x
JOIN crypto_news.feeds f ON f.feed_id = x.feed_id;

CREATE VIEW crypto_news_marts.fct_runs AS
SELECT
    r.run_id,
    r.run_key,
    r.trigger,
    r.status,
    r.status = 'success'                                                 AS is_success,
    r.started_at,
    r.finished_at,
    (r.started_at AT TIME ZONE 'UTC')::date                              AS started_date,
    extract(epoch FROM (r.finished_at - r.started_at))::double precision AS duration_s,
    r.feeds_total                                                        AS feed_count,
    r.feeds_ok                                                           AS feed_ok_count,
    r.feeds_not_modified                                                 AS feed_not_modified_count,
    r.feeds_failed                                                       AS feed_failed_count,
    r.items_seen                                                         AS item_count,
    r.articles_new                                                       AS new_article_count,
    r.articles_extracted                                                 AS extracted_article_count,
    r.articles_classified                                                AS classified_article_count,
    r.labels_written                                                     AS label_count,
    r.error
FROM crypto_news.pipeline_runs r;

-- ---------------------------------------------------------------------------------------------------------------------
-- Daily aggregates (tables, zero-filled, recomputed by refresh_aggregates)
-- ---------------------------------------------------------------------------------------------------------------------
CREATE TABLE crypto_news_marts.agg_label_daily (
    article_date        date NOT NULL,
    label               text NOT NULL,
    feed_id             integer,
    feed_name           text,
    outlet              text,
    article_count       integer NOT NULL,
    feed_article_count  integer NOT NULL,
    refreshed_at        timestamptz NOT NULL
);
-- feed_id is NULL only for articles whose feed row was deleted: one group per day and label for all of them.
CREATE UNIQUE INDEX agg_label_daily_key ON crypto_news_marts.agg_label_daily (article_date, label, feed_id)
    NULLS NOT DISTINCT;
CREATE INDEX agg_label_daily_label_date_idx ON crypto_news_marts.agg_label_daily (label, article_date);

CREATE TABLE crypto_news_marts.agg_entity_label_daily (
    article_date        date NOT NULL,
    entity_kind         text NOT NULL,
    entity_id           text NOT NULL,
    entity_name         text NOT NULL,
    label               text NOT NULL,
    article_count       integer NOT NULL,
    mention_count       integer NOT NULL,
    refreshed_at        timestamptz NOT NULL,
    PRIMARY KEY (article_date, entity_kind, entity_id, label)
);
CREATE INDEX agg_entity_label_daily_entity_idx
    ON crypto_news_marts.agg_entity_label_daily (entity_kind, entity_id, label, article_date);

-- Recomputes both aggregates in one transaction: readers see the old rows until it commits (no table lock beyond
-- ROW EXCLUSIVE). SECURITY DEFINER so that the pipeline's role (crypto_news_writer, which has no rights in this
-- schema) can refresh tables it cannot write; the search_path is fixed and the function takes no arguments.
-- Concurrent refreshes of one database wait for each other (a transaction-level advisory lock).
CREATE FUNCTION crypto_news_marts.refresh_aggregates() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET work_mem = '64MB' AS $$
DECLARE
    first_date date;
    last_date  date;
    n_label    integer;
    n_entity   integer;
BEGIN
    PERFORM pg_advisory_xact_lock(1129206605);  -- "CNMR"
    SELECT min((coalesce(a.published_at, a.discovered_at) AT TIME ZONE 'UTC')::date),
           max((coalesce(a.published_at, a.discovered_at) AT TIME ZONE 'UTC')::date)
      INTO first_date, last_date
      FROM crypto_news.articles a;
    DELETE FROM crypto_news_marts.agg_label_daily;
    DELETE FROM crypto_news_marts.agg_entity_label_daily;
    IF first_date IS NULL THEN
        RETURN 0;
    END IF;
    last_date := greatest(last_date, (now() AT TIME ZONE 'UTC')::date);

    -- The counts of the (date, feed) pairs that have articles, one pass over articles, then the zero rows of every
    -- other date, feed and label. Zero rows are added by key (ON CONFLICT DO NOTHING) rather than by an outer join
    -- of the calendar with the counts, which PostgreSQL planned as a merge on part of the key (seconds at 50,000
    -- articles).
    INSERT INTO crypto_news_marts.agg_label_daily
        (article_date, label, feed_id, feed_name, outlet, article_count, feed_article_count, refreshed_at)
    SELECT p.day, lb.label, f.feed_id, f.name, f.outlet,
           CASE lb.label WHEN 'regulation' THEN p.n_regulation WHEN 'adoption' THEN p.n_adoption
                         ELSE p.n_mining END,
           p.n_all, now()
    FROM (
        SELECT (coalesce(a.published_at, a.discovered_at) AT TIME ZONE 'UTC')::date AS day, a.feed_id,
               count(*) AS n_all, count(lr.article_id) AS n_regulation, count(la.article_id) AS n_adoption,
               count(lm.article_id) AS n_mining
        FROM crypto_news.articles a
        LEFT JOIN crypto_news.article_labels lr ON lr.article_id = a.article_id AND lr.label = 'regulation'
        LEFT JOIN crypto_news.article_labels la ON la.article_id = a.article_id AND la.label = 'adoption'
        LEFT JOIN crypto_news.article_labels lm ON lm.article_id = a.article_id AND lm.label = 'mining'
        GROUP BY 1, 2
    ) p
    LEFT JOIN crypto_news.feeds f ON f.feed_id = p.feed_id
    CROSS JOIN (VALUES ('regulation'), ('adoption'), ('mining')) AS lb(label);
    INSERT INTO crypto_news_marts.agg_label_daily
        (article_date, label, feed_id, feed_name, outlet, article_count, feed_article_count, refreshed_at)
    SELECT first_date + i, lb.label, f.feed_id, f.name, f.outlet, 0, 0, now()
    FROM generate_series(0, last_date - first_date) i
    CROSS JOIN crypto_news.feeds f
    CROSS JOIN (VALUES ('regulation'), ('adoption'), ('mining')) AS lb(label)
    ON CONFLICT (article_date, label, feed_id) DO NOTHING;
    SELECT count(*) INTO n_label FROM crypto_news_marts.agg_label_daily;

    INSERT INTO crypto_news_marts.agg_entity_label_daily
        (article_date, entity_kind, entity_id, entity_name, label, article_count, mention_count, refreshed_at)
    SELECT (coalesce(a.published_at, a.discovered_at) AT TIME ZONE 'UTC')::date, e.kind, e.entity_id, max(e.name),
           l.label, count(*), sum(e.mentions), now()
    FROM crypto_news.article_entities e
    JOIN crypto_news.article_labels l ON l.article_id = e.article_id
    JOIN crypto_news.articles a ON a.article_id = e.article_id
    GROUP BY 1, 2, 3, 5;
    -- every (entity, label) that occurs at least once gets a row on every date
    INSERT INTO crypto_news_marts.agg_entity_label_daily
        (article_date, entity_kind, entity_id, entity_name, label, article_count, mention_count, refreshed_at)
    SELECT first_date + i, p.entity_kind, p.entity_id, p.entity_name, p.label, 0, 0, now()
    FROM (SELECT entity_kind, entity_id, label, max(entity_name) AS entity_name
          FROM crypto_news_marts.agg_entity_label_daily GROUP BY 1, 2, 3) p
    CROSS JOIN generate_series(0, last_date - first_date) i
    ON CONFLICT (article_date, entity_kind, entity_id, label) DO NOTHING;
    SELECT count(*) INTO n_entity FROM crypto_news_marts.agg_entity_label_daily;
    RETURN n_label + n_entity;
END
$$;

-- ---------------------------------------------------------------------------------------------------------------------
-- Roles: crypto_news_bi sees the marts and nothing else; analysts (crypto_news_reader) see the marts too; the
-- pipeline (crypto_news_writer) may only run the refresh. Created only when missing, as in 0002.
-- ---------------------------------------------------------------------------------------------------------------------
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'crypto_news_bi') THEN
        BEGIN
            CREATE ROLE crypto_news_bi NOLOGIN;
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN
                NULL;  -- created at the same moment by the migration of another database
            WHEN insufficient_privilege THEN
                RAISE EXCEPTION 'role crypto_news_bi does not exist and % may not create it', current_user
                    USING HINT = 'as a superuser or a role with CREATEROLE run: CREATE ROLE crypto_news_bi NOLOGIN; '
                                 'then migrate again';
        END;
    END IF;
END
$$;

GRANT USAGE ON SCHEMA crypto_news_marts TO crypto_news_bi, crypto_news_reader, crypto_news_writer;
GRANT SELECT ON ALL TABLES IN SCHEMA crypto_news_marts TO crypto_news_bi, crypto_news_reader;
ALTER DEFAULT PRIVILEGES IN SCHEMA crypto_news_marts GRANT SELECT ON TABLES TO crypto_news_bi, crypto_news_reader;
REVOKE ALL ON FUNCTION crypto_news_marts.refresh_aggregates() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crypto_news_marts.refresh_aggregates() TO crypto_news_writer;

-- ---------------------------------------------------------------------------------------------------------------------
-- Descriptions (BI tools show them). Keys: docs/SCHEMA.md, "Keys for BI tools".
-- ---------------------------------------------------------------------------------------------------------------------
COMMENT ON SCHEMA crypto_news_marts IS 'crypto-news marts for BI tools: scalar columns only, *_at timestamptz, *_date UTC dates, is_* booleans. dim_articles, fct_article_labels, fct_article_entities, agg_label_daily, agg_entity_label_daily, dim_feeds, fct_feed_fetches, fct_runs. Keys: docs/SCHEMA.md.';
COMMENT ON FUNCTION crypto_news_marts.refresh_aggregates() IS 'Recomputes agg_label_daily and agg_entity_label_daily from the base tables (run by the pipeline after classification); returns the rows written.';

COMMENT ON VIEW crypto_news_marts.dim_articles IS 'One row per article: source, times, label flags and scores, text status, duplicate marks. Entity key: article_id.';
COMMENT ON COLUMN crypto_news_marts.dim_articles.article_id IS 'Entity key of the article (primary key of crypto_news.articles).';
COMMENT ON COLUMN crypto_news_marts.dim_articles.title IS 'Title from the feed.';
COMMENT ON COLUMN crypto_news_marts.dim_articles.url IS 'Link as given by the first feed that carried the article.';
COMMENT ON COLUMN crypto_news_marts.dim_articles.canonical_url IS 'Normalised URL identifying the article (unique).';
COMMENT ON COLUMN crypto_news_marts.dim_articles.feed_id IS 'Foreign key to dim_feeds.feed_id: the first feed that carried the article.';
COMMENT ON COLUMN crypto_news_marts.dim_articles.feed_name IS 'Name of that feed.';
COMMENT ON COLUMN crypto_news_marts.dim_articles.outlet IS 'The publication: host name of the feed''s site (coindesk.com); several feeds may share it.';
COMMENT ON COLUMN crypto_news_marts.dim_articles.site_name IS 'Site name found on the article page.';
COMMENT ON COLUMN crypto_news_marts.dim_articles.author IS 'Author from the feed.';
COMMENT ON COLUMN crypto_news_marts.dim_articles.lang IS 'Language declared by the page.';
COMMENT ON COLUMN crypto_news_marts.dim_articles.published_at IS 'Publication time (timestamptz, shown in the report time zone); NULL when unknown.';
COMMENT ON COLUMN crypto_news_marts.dim_articles.discovered_at IS 'When the article was first stored (timestamptz).';
COMMENT ON COLUMN crypto_news_marts.dim_articles.article_at IS 'The time to chart by: published_at, else discovered_at (timestamptz; a BI tool buckets it in its report time zone). Indexed.';
COMMENT ON COLUMN crypto_news_marts.dim_articles.article_date IS 'UTC date of article_at (not the report time zone). Indexed.';
COMMENT ON COLUMN crypto_news_marts.dim_articles.published_source IS 'Where published_at came from: feed or page.';
COMMENT ON COLUMN crypto_news_marts.dim_articles.published_flag IS 'Why the feed date was not used: missing, future, too_old, unparsable; NULL when fine.';
COMMENT ON COLUMN crypto_news_marts.dim_articles.is_regulation IS 'Labelled regulation.';
COMMENT ON COLUMN crypto_news_marts.dim_articles.is_adoption IS 'Labelled adoption.';
COMMENT ON COLUMN crypto_news_marts.dim_articles.is_mining IS 'Labelled mining.';
COMMENT ON COLUMN crypto_news_marts.dim_articles.is_classified IS 'Whether the classifier has seen the article (false: not yet).';
COMMENT ON COLUMN crypto_news_marts.dim_articles.regulation_score IS 'Classifier score for regulation, 0-1 (NULL when not classified).';
COMMENT ON COLUMN crypto_news_marts.dim_articles.adoption_score IS 'Classifier score for adoption, 0-1 (NULL when not classified).';
COMMENT ON COLUMN crypto_news_marts.dim_articles.mining_score IS 'Classifier score for mining, 0-1 (NULL when not classified).';
COMMENT ON COLUMN crypto_news_marts.dim_articles.classifier_version IS 'Classifier version of the scores and labels.';
COMMENT ON COLUMN crypto_news_marts.dim_articles.classified_at IS 'When the article was classified (timestamptz).';
COMMENT ON COLUMN crypto_news_marts.dim_articles.word_count IS 'Words in the stored text.';
COMMENT ON COLUMN crypto_news_marts.dim_articles.text_source IS 'How the text was obtained: page, feed_content, feed_summary or none; NULL while pending.';
COMMENT ON COLUMN crypto_news_marts.dim_articles.extract_state IS 'pending, retry or done.';
COMMENT ON COLUMN crypto_news_marts.dim_articles.extract_error_kind IS 'Why the page text was not used, when it was not.';
COMMENT ON COLUMN crypto_news_marts.dim_articles.extracted_at IS 'When the text was last stored (timestamptz).';
COMMENT ON COLUMN crypto_news_marts.dim_articles.duplicate_of_article_id IS 'Foreign key to dim_articles.article_id: the earliest article with exactly the same text; NULL when this one is the first or unique.';
COMMENT ON COLUMN crypto_news_marts.dim_articles.near_duplicate_of_article_id IS 'Foreign key to dim_articles.article_id: the first article of this near-duplicate group; NULL when this one starts its group.';
COMMENT ON COLUMN crypto_news_marts.dim_articles.story_id IS 'One id per story across copies and light edits (near_duplicate_of_article_id, else article_id): count distinct story_id to count stories.';
COMMENT ON COLUMN crypto_news_marts.dim_articles.is_duplicate IS 'An exact copy of an earlier article (duplicate_of_article_id is set).';
COMMENT ON COLUMN crypto_news_marts.dim_articles.is_near_duplicate IS 'A light edit of an earlier article (near_duplicate_of_article_id is set).';
COMMENT ON COLUMN crypto_news_marts.dim_articles.source_count IS 'Feeds that carried the article.';
COMMENT ON COLUMN crypto_news_marts.dim_articles.is_page_archived IS 'The fetched page is kept in the page archive.';
COMMENT ON COLUMN crypto_news_marts.dim_articles.first_run_id IS 'Foreign key to fct_runs.run_id: the run that first stored the article.';

COMMENT ON VIEW crypto_news_marts.fct_article_labels IS 'One row per article and label it carries (regulation, adoption, mining); unlabelled articles have none. Keys: article_id + label; article_id -> dim_articles.';
COMMENT ON COLUMN crypto_news_marts.fct_article_labels.article_id IS 'Foreign key to dim_articles.article_id (with label: the row''s key).';
COMMENT ON COLUMN crypto_news_marts.fct_article_labels.label IS 'regulation, adoption or mining (docs/LABELS.md).';
COMMENT ON COLUMN crypto_news_marts.fct_article_labels.score IS 'Classifier score, 0-1.';
COMMENT ON COLUMN crypto_news_marts.fct_article_labels.classifier_version IS 'Classifier version that set the label.';
COMMENT ON COLUMN crypto_news_marts.fct_article_labels.labelled_at IS 'When the label was written (timestamptz).';
COMMENT ON COLUMN crypto_news_marts.fct_article_labels.article_at IS 'The article''s time: published, else discovered (timestamptz; bucketed in the report time zone).';
COMMENT ON COLUMN crypto_news_marts.fct_article_labels.article_date IS 'UTC date of article_at.';
COMMENT ON COLUMN crypto_news_marts.fct_article_labels.feed_id IS 'Foreign key to dim_feeds.feed_id: the article''s first feed.';
COMMENT ON COLUMN crypto_news_marts.fct_article_labels.feed_name IS 'Name of that feed.';
COMMENT ON COLUMN crypto_news_marts.fct_article_labels.outlet IS 'The publication (host name of the feed''s site).';
COMMENT ON COLUMN crypto_news_marts.fct_article_labels.story_id IS 'One id per story across copies and light edits: count distinct to count stories.';
COMMENT ON COLUMN crypto_news_marts.fct_article_labels.is_duplicate IS 'The article is an exact copy of an earlier one.';

COMMENT ON VIEW crypto_news_marts.fct_article_entities IS 'One row per article and named entity (jurisdiction, regulator, asset), with the article''s label flags. Keys: article_id + entity_kind + entity_id; article_id -> dim_articles.';
COMMENT ON COLUMN crypto_news_marts.fct_article_entities.article_id IS 'Foreign key to dim_articles.article_id (with entity_kind and entity_id: the row''s key).';
COMMENT ON COLUMN crypto_news_marts.fct_article_entities.entity_kind IS 'jurisdiction, regulator or asset.';
COMMENT ON COLUMN crypto_news_marts.fct_article_entities.entity_id IS 'Entity id (config/entities.yml): ISO country code (US, CN, US-NY, EU), regulator (US-SEC), asset ticker (BTC).';
COMMENT ON COLUMN crypto_news_marts.fct_article_entities.entity_name IS 'Entity display name.';
COMMENT ON COLUMN crypto_news_marts.fct_article_entities.mention_count IS 'Mentions in title, summary and text.';
COMMENT ON COLUMN crypto_news_marts.fct_article_entities.article_at IS 'The article''s time: published, else discovered (timestamptz; bucketed in the report time zone). Indexed.';
COMMENT ON COLUMN crypto_news_marts.fct_article_entities.article_date IS 'UTC date of article_at. Indexed.';
COMMENT ON COLUMN crypto_news_marts.fct_article_entities.feed_id IS 'Foreign key to dim_feeds.feed_id: the article''s first feed.';
COMMENT ON COLUMN crypto_news_marts.fct_article_entities.feed_name IS 'Name of that feed.';
COMMENT ON COLUMN crypto_news_marts.fct_article_entities.outlet IS 'The publication (host name of the feed''s site).';
COMMENT ON COLUMN crypto_news_marts.fct_article_entities.is_regulation IS 'The article is labelled regulation.';
COMMENT ON COLUMN crypto_news_marts.fct_article_entities.is_adoption IS 'The article is labelled adoption.';
COMMENT ON COLUMN crypto_news_marts.fct_article_entities.is_mining IS 'The article is labelled mining.';
COMMENT ON COLUMN crypto_news_marts.fct_article_entities.story_id IS 'One id per story across copies and light edits: count distinct to count stories.';
COMMENT ON COLUMN crypto_news_marts.fct_article_entities.is_duplicate IS 'The article is an exact copy of an earlier one.';

COMMENT ON TABLE crypto_news_marts.agg_label_daily IS 'Articles per UTC date, label and first feed, zero-filled (every date from the first article to today, every feed, every label). Recomputed after each classification stage. Key: article_date + label + feed_id.';
COMMENT ON COLUMN crypto_news_marts.agg_label_daily.article_date IS 'UTC date of the articles (published, else discovered).';
COMMENT ON COLUMN crypto_news_marts.agg_label_daily.label IS 'regulation, adoption or mining.';
COMMENT ON COLUMN crypto_news_marts.agg_label_daily.feed_id IS 'Foreign key to dim_feeds.feed_id: the articles'' first feed (NULL: the feed row was deleted).';
COMMENT ON COLUMN crypto_news_marts.agg_label_daily.feed_name IS 'Name of that feed.';
COMMENT ON COLUMN crypto_news_marts.agg_label_daily.outlet IS 'The publication (host name of the feed''s site).';
COMMENT ON COLUMN crypto_news_marts.agg_label_daily.article_count IS 'Articles with this label (0 on days without any).';
COMMENT ON COLUMN crypto_news_marts.agg_label_daily.feed_article_count IS 'All articles of this feed on this date, labelled or not: the denominator of a label''s share (sum it for one label only).';
COMMENT ON COLUMN crypto_news_marts.agg_label_daily.refreshed_at IS 'When the aggregate was last recomputed (timestamptz).';

COMMENT ON TABLE crypto_news_marts.agg_entity_label_daily IS 'Articles per UTC date, entity and label, zero-filled (every date from the first article to today, for every entity and label that occur together). Recomputed after each classification stage. Key: article_date + entity_kind + entity_id + label.';
COMMENT ON COLUMN crypto_news_marts.agg_entity_label_daily.article_date IS 'UTC date of the articles (published, else discovered).';
COMMENT ON COLUMN crypto_news_marts.agg_entity_label_daily.entity_kind IS 'jurisdiction, regulator or asset.';
COMMENT ON COLUMN crypto_news_marts.agg_entity_label_daily.entity_id IS 'Entity id (US, CN, US-SEC, BTC…).';
COMMENT ON COLUMN crypto_news_marts.agg_entity_label_daily.entity_name IS 'Entity display name.';
COMMENT ON COLUMN crypto_news_marts.agg_entity_label_daily.label IS 'regulation, adoption or mining.';
COMMENT ON COLUMN crypto_news_marts.agg_entity_label_daily.article_count IS 'Articles naming the entity with this label (0 on days without any).';
COMMENT ON COLUMN crypto_news_marts.agg_entity_label_daily.mention_count IS 'Mentions of the entity in those articles.';
COMMENT ON COLUMN crypto_news_marts.agg_entity_label_daily.refreshed_at IS 'When the aggregate was last recomputed (timestamptz).';

COMMENT ON VIEW crypto_news_marts.dim_feeds IS 'One row per feed: configuration, last fetch outcome, failures in a row, 30-day fetch figures. Entity key: feed_id.';
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

COMMENT ON VIEW crypto_news_marts.fct_feed_fetches IS 'One row per fetch of a feed: status, error kind, latency, item counts. Entity key: fetch_id; feed_id -> dim_feeds, run_id -> fct_runs.';
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

COMMENT ON VIEW crypto_news_marts.fct_runs IS 'One row per pipeline run: status, duration, counts. Entity key: run_id.';
COMMENT ON COLUMN crypto_news_marts.fct_runs.run_id IS 'Entity key of the run (primary key of crypto_news.pipeline_runs).';
COMMENT ON COLUMN crypto_news_marts.fct_runs.run_key IS 'Unique run key (Airflow run id, or generated).';
COMMENT ON COLUMN crypto_news_marts.fct_runs.trigger IS 'What started the run: cli, airflow, test or bench.';
COMMENT ON COLUMN crypto_news_marts.fct_runs.status IS 'running, success, partial (some feeds failed) or failed.';
COMMENT ON COLUMN crypto_news_marts.fct_runs.is_success IS 'The run finished with status success.';
COMMENT ON COLUMN crypto_news_marts.fct_runs.started_at IS 'Start time (timestamptz).';
COMMENT ON COLUMN crypto_news_marts.fct_runs.finished_at IS 'End time (timestamptz; NULL while running).';
COMMENT ON COLUMN crypto_news_marts.fct_runs.started_date IS 'UTC date of started_at.';
COMMENT ON COLUMN crypto_news_marts.fct_runs.duration_s IS 'Duration in seconds (NULL while running).';
COMMENT ON COLUMN crypto_news_marts.fct_runs.feed_count IS 'Feeds in the run.';
COMMENT ON COLUMN crypto_news_marts.fct_runs.feed_ok_count IS 'Feeds fetched ok or unchanged.';
COMMENT ON COLUMN crypto_news_marts.fct_runs.feed_not_modified_count IS 'Feeds that answered 304 Not Modified.';
COMMENT ON COLUMN crypto_news_marts.fct_runs.feed_failed_count IS 'Feeds whose fetch failed.';
COMMENT ON COLUMN crypto_news_marts.fct_runs.item_count IS 'Feed items seen.';
COMMENT ON COLUMN crypto_news_marts.fct_runs.new_article_count IS 'Articles first stored by the run.';
COMMENT ON COLUMN crypto_news_marts.fct_runs.extracted_article_count IS 'Articles whose text the run obtained.';
COMMENT ON COLUMN crypto_news_marts.fct_runs.classified_article_count IS 'Articles the run (re)classified.';
COMMENT ON COLUMN crypto_news_marts.fct_runs.label_count IS 'Label rows the run wrote.';
COMMENT ON COLUMN crypto_news_marts.fct_runs.error IS 'Why the run failed (one line), else NULL.';

SELECT crypto_news_marts.refresh_aggregates();
