-- Question: which regulation news was about one country (or state, or the EU) in the last N days?
-- The country is a jurisdiction entity id from config/entities.yml (ISO code: CN, US, GB, US-NY, EU …).
-- Usage: psql -f sql/queries/regulation_by_country.sql -v country=US -v days=7   (defaults below)
\if :{?country}
\else
\set country 'CN'
\endif
\if :{?days}
\else
\set days 30
\endif

SELECT a.article_id,
       coalesce(a.published_at, a.discovered_at) AS article_time,
       f.name                                     AS source,
       a.title,
       a.canonical_url,
       l.score                                    AS regulation_score,
       e.mentions                                 AS country_mentions
FROM crypto_news.article_entities e
JOIN crypto_news.articles a       ON a.article_id = e.article_id
JOIN crypto_news.article_labels l ON l.article_id = e.article_id AND l.label = 'regulation'
LEFT JOIN crypto_news.feeds f     ON f.feed_id = a.feed_id
WHERE e.kind = 'jurisdiction'
  AND e.entity_id = :'country'
  AND coalesce(a.published_at, a.discovered_at) >= now() - make_interval(days => :days)
ORDER BY article_time DESC, a.article_id DESC;
