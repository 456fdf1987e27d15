-- One row per article, flattened for analysis and BI. Columns computed by scalar subqueries are only evaluated
-- when a query selects them, and every subquery is an index lookup by article_id, so filtering on article_time /
-- article_day / feed uses the articles indexes.
CREATE OR REPLACE VIEW v_articles AS
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
    (SELECT min(d.article_id) FROM articles d WHERE d.content_hash = a.content_hash)                      AS first_same_content_article_id,
    a.duplicate_of,
    a.near_duplicate_of,
    coalesce(a.near_duplicate_of, a.article_id)                      AS story_id,
    a.page_sha256 IS NOT NULL                                        AS has_archived_page
FROM articles a
LEFT JOIN feeds f ON f.feed_id = a.feed_id
LEFT JOIN article_classifications c ON c.article_id = a.article_id;

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
COMMENT ON COLUMN v_articles.duplicate_of IS 'Earliest article with exactly the same normalised text (a syndicated copy), or NULL.';
COMMENT ON COLUMN v_articles.near_duplicate_of IS 'First article of this story''s near-duplicate group (SimHash within 3 bits), or NULL when this article starts its group.';
COMMENT ON COLUMN v_articles.story_id IS 'One id per story across sources and light edits: near_duplicate_of, or the article''s own id. Count distinct story_id to count stories rather than copies.';
COMMENT ON COLUMN v_articles.has_archived_page IS 'True when the fetched page is kept in page_archive (re-extraction possible without fetching).';
