-- Question: which outlets published the most adoption stories over the last N days, and what share of their
-- articles was that? Counts each article once, under the outlet of the first feed that carried it.
-- Reads only crypto_news_marts (a crypto_news_bi login is enough).
-- Usage: psql -f sql/queries/mart_adoption_by_outlet.sql -v days=90
\if :{?days}
\else
\set days 30
\endif

SELECT outlet,
       sum(article_count)::bigint                                                 AS adoption_articles,
       sum(feed_article_count)::bigint                                            AS articles,
       round(sum(article_count)::numeric / nullif(sum(feed_article_count), 0), 3) AS adoption_share
FROM crypto_news_marts.agg_label_daily
WHERE label = 'adoption'
  AND article_date >= (now() AT TIME ZONE 'UTC')::date - :days
GROUP BY outlet
HAVING sum(feed_article_count) > 0
ORDER BY adoption_articles DESC, articles DESC, outlet;
