-- Question: what share of each week's articles was about mining (last N weeks, UTC, weeks start on Monday)?
-- Same figures as the mining columns of label_share_weekly.sql, from crypto_news_marts only.
-- Usage: psql -f sql/queries/mart_mining_share_weekly.sql -v weeks=26
\if :{?weeks}
\else
\set weeks 12
\endif

SELECT date_trunc('week', article_date)::date                                     AS week,
       sum(feed_article_count)::bigint                                            AS articles,
       sum(article_count)::bigint                                                 AS mining,
       round(sum(article_count)::numeric / nullif(sum(feed_article_count), 0), 3) AS mining_share
FROM crypto_news_marts.agg_label_daily
WHERE label = 'mining'
  AND article_date >= date_trunc('week', now() AT TIME ZONE 'UTC')::date - 7 * (:weeks - 1)
GROUP BY 1
HAVING sum(feed_article_count) > 0
ORDER BY week;
