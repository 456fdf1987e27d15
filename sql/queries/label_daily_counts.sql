-- Question: how many articles per day carried each label over the last N days (UTC days, zeros included)?
-- An article with two labels counts once for each. Same numbers as the view v_label_daily summed over feeds.
-- Usage: psql -f sql/queries/label_daily_counts.sql -v days=90
\if :{?days}
\else
\set days 30
\endif

WITH days AS (
    SELECT d::date AS day
    FROM generate_series((now() AT TIME ZONE 'UTC')::date - :days, (now() AT TIME ZONE 'UTC')::date,
                         interval '1 day') AS d
),
labels(label) AS (VALUES ('regulation'), ('adoption'), ('mining')),
counts AS (
    SELECT day, label, sum(article_count)::bigint AS articles
    FROM crypto_news.v_label_daily
    WHERE day >= (now() AT TIME ZONE 'UTC')::date - :days
    GROUP BY day, label
)
SELECT d.day, lb.label, coalesce(c.articles, 0)::bigint AS articles
FROM days d
CROSS JOIN labels lb
LEFT JOIN counts c ON c.day = d.day AND c.label = lb.label
ORDER BY d.day, lb.label;
