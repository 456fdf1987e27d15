-- Articles per day, entity and label.
CREATE OR REPLACE VIEW v_entity_label_daily AS
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

COMMENT ON VIEW v_entity_label_daily IS 'Articles per UTC day, entity and label: which countries, regulators and assets the regulation/adoption/mining news is about.';
COMMENT ON COLUMN v_entity_label_daily.day IS 'UTC date of the article (published, else discovered).';
COMMENT ON COLUMN v_entity_label_daily.entity_kind IS 'jurisdiction, regulator or asset.';
COMMENT ON COLUMN v_entity_label_daily.entity_id IS 'Entity id (CN, US-SEC, BTC…).';
COMMENT ON COLUMN v_entity_label_daily.entity_name IS 'Entity display name.';
COMMENT ON COLUMN v_entity_label_daily.label IS 'regulation, adoption or mining.';
COMMENT ON COLUMN v_entity_label_daily.article_count IS 'Number of articles naming the entity with that label.';
