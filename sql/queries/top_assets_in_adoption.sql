-- Question: which crypto-assets are mentioned most in adoption stories over the last N days?
-- Counts articles naming the asset (and total mentions across them).
-- Usage: psql -f sql/queries/top_assets_in_adoption.sql -v days=30 -v top=20
\if :{?days}
\else
\set days 90
\endif
\if :{?top}
\else
\set top 10
\endif

SELECT e.entity_id                  AS asset,
       max(e.name)                  AS asset_name,
       count(*)::bigint             AS articles,
       sum(e.mentions)::bigint      AS mentions
FROM crypto_news.articles a
JOIN crypto_news.article_labels l   ON l.article_id = a.article_id AND l.label = 'adoption'
JOIN crypto_news.article_entities e ON e.article_id = a.article_id AND e.kind = 'asset'
WHERE coalesce(a.published_at, a.discovered_at) >= now() - make_interval(days => :days)
GROUP BY e.entity_id
ORDER BY articles DESC, mentions DESC, asset
LIMIT :top;
