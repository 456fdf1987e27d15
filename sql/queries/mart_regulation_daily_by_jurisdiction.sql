-- Question: how many regulation stories per UTC day named each jurisdiction over the last N days (zeros included)?
-- Reads only crypto_news_marts (a crypto_news_bi login is enough). Empty country: every jurisdiction.
-- Usage: psql -f sql/queries/mart_regulation_daily_by_jurisdiction.sql -v days=90 -v country=US
\if :{?days}
\else
\set days 30
\endif
\if :{?country}
\else
\set country ''
\endif

SELECT article_date,
       entity_id     AS jurisdiction,
       entity_name   AS jurisdiction_name,
       article_count AS articles
FROM crypto_news_marts.agg_entity_label_daily
WHERE label = 'regulation'
  AND entity_kind = 'jurisdiction'
  AND (:'country' = '' OR entity_id = :'country')
  AND article_date >= (now() AT TIME ZONE 'UTC')::date - :days
ORDER BY article_date, jurisdiction;
