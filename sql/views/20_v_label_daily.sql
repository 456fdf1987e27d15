-- Counted by the article's first source feed (articles.feed_id), so that the rows of one day and label add up to
-- distinct articles. An article with several labels is counted once per label.
CREATE OR REPLACE VIEW v_label_daily AS
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

COMMENT ON VIEW v_label_daily IS 'Articles per UTC day, label and first source feed. Unlabelled articles are not counted; an article with two labels counts once for each.';
COMMENT ON COLUMN v_label_daily.day IS 'UTC date of the article (published, else discovered).';
COMMENT ON COLUMN v_label_daily.label IS 'regulation, adoption or mining.';
COMMENT ON COLUMN v_label_daily.feed_id IS 'First feed that carried the articles.';
COMMENT ON COLUMN v_label_daily.feed_name IS 'Name of that feed.';
COMMENT ON COLUMN v_label_daily.article_count IS 'Number of articles.';
