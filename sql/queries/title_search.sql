-- Question: which articles have a word or fragment in their title (case-insensitive substring, e.g. a company or
-- ticker that full-text stemming would mangle)? Served by the trigram index articles_title_trgm_idx (pg_trgm);
-- the term needs at least 3 characters to use it.
-- Usage: psql -f sql/queries/title_search.sql -v term=binance
\if :{?term}
\else
\set term 'hashrate'
\endif
\if :{?limit}
\else
\set limit 50
\endif

SELECT a.article_id,
       coalesce(a.published_at, a.discovered_at) AS article_time,
       f.name                                     AS source,
       a.title,
       a.canonical_url
FROM crypto_news.articles a
LEFT JOIN crypto_news.feeds f ON f.feed_id = a.feed_id
WHERE a.title ILIKE '%' || :'term' || '%'
ORDER BY article_time DESC
LIMIT :limit;
