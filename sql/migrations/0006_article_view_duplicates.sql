-- 0006: v_articles shows the duplicate marks of 0005 (columns appended: CREATE OR REPLACE VIEW keeps the others).

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

COMMENT ON COLUMN v_articles.duplicate_of IS 'Earliest article with exactly the same normalised text (a syndicated copy), or NULL.';
COMMENT ON COLUMN v_articles.near_duplicate_of IS 'First article of this story''s near-duplicate group (SimHash within 3 bits), or NULL when this article starts its group.';
COMMENT ON COLUMN v_articles.story_id IS 'One id per story across sources and light edits: near_duplicate_of, or the article''s own id. Count distinct story_id to count stories rather than copies.';
COMMENT ON COLUMN v_articles.has_archived_page IS 'True when the fetched page is kept in page_archive (re-extraction possible without fetching).';
