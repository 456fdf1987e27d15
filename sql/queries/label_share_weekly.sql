-- Question: what share of each week's articles was about regulation, adoption and mining (last N weeks, UTC, weeks
-- start on Monday)? Shares do not add up to 1: an article may carry several labels or none.
-- Usage: psql -f sql/queries/label_share_weekly.sql -v weeks=26
\if :{?weeks}
\else
\set weeks 12
\endif

WITH recent AS (
    SELECT a.article_id,
           date_trunc('week', coalesce(a.published_at, a.discovered_at) AT TIME ZONE 'UTC')::date AS week
    FROM crypto_news.articles a
    WHERE coalesce(a.published_at, a.discovered_at)
          >= (date_trunc('week', now() AT TIME ZONE 'UTC') - make_interval(weeks => :weeks - 1)) AT TIME ZONE 'UTC'
),
flags AS (
    SELECT r.week,
           bool_or(l.label = 'regulation') AS is_regulation,
           bool_or(l.label = 'adoption')   AS is_adoption,
           bool_or(l.label = 'mining')     AS is_mining
    FROM recent r
    LEFT JOIN crypto_news.article_labels l ON l.article_id = r.article_id
    GROUP BY r.article_id, r.week
)
SELECT week,
       count(*)::bigint                                                     AS articles,
       count(*) FILTER (WHERE is_regulation)::bigint                        AS regulation,
       count(*) FILTER (WHERE is_adoption)::bigint                          AS adoption,
       count(*) FILTER (WHERE is_mining)::bigint                            AS mining,
       round(avg(coalesce(is_regulation, false)::int), 3)                   AS regulation_share,
       round(avg(coalesce(is_adoption, false)::int), 3)                     AS adoption_share,
       round(avg(coalesce(is_mining, false)::int), 3)                       AS mining_share
FROM flags
GROUP BY week
ORDER BY week;
