-- Question: which sources (feeds) published the most articles of each label in the last N days?
-- Counts every feed that carried an article (a syndicated story counts for each feed that carried it).
-- Usage: psql -f sql/queries/top_sources_per_label.sql -v days=30 -v top=10
\if :{?days}
\else
\set days 30
\endif
\if :{?top}
\else
\set top 5
\endif

WITH counts AS (
    SELECT l.label, f.name AS source, count(*)::bigint AS articles
    FROM crypto_news.articles a
    JOIN crypto_news.article_labels l  ON l.article_id = a.article_id
    JOIN crypto_news.article_sources s ON s.article_id = a.article_id
    JOIN crypto_news.feeds f           ON f.feed_id = s.feed_id
    WHERE coalesce(a.published_at, a.discovered_at) >= now() - make_interval(days => :days)
    GROUP BY l.label, f.name
),
ranked AS (
    SELECT label, source, articles,
           rank() OVER (PARTITION BY label ORDER BY articles DESC) AS rank,
           round(100.0 * articles / sum(articles) OVER (PARTITION BY label), 1) AS pct_of_label
    FROM counts
)
SELECT label, rank, source, articles, pct_of_label
FROM ranked
WHERE rank <= :top
ORDER BY label, rank, source;
