-- Question: which stories of the last N days were covered more than once? Two kinds:
--   several_feeds: one article (one canonical URL) carried by several feeds (article_sources);
--   same_text:     the same extracted text under several URLs (same articles.content_hash).
-- Usage: psql -f sql/queries/duplicate_coverage.sql -v days=7
\if :{?days}
\else
\set days 30
\endif

WITH recent AS (
    SELECT a.article_id, a.title, a.content_hash, a.feed_id
    FROM crypto_news.articles a
    WHERE coalesce(a.published_at, a.discovered_at) >= now() - make_interval(days => :days)
)
SELECT 'several_feeds'                                   AS kind,
       r.article_id                                      AS first_article_id,
       r.title,
       count(*)::bigint                                  AS copies,
       array_agg(f.name ORDER BY s.first_seen_at, f.name) AS sources
FROM recent r
JOIN crypto_news.article_sources s ON s.article_id = r.article_id
JOIN crypto_news.feeds f           ON f.feed_id = s.feed_id
GROUP BY r.article_id, r.title
HAVING count(*) > 1
UNION ALL
SELECT 'same_text',
       min(r.article_id),
       (array_agg(r.title ORDER BY r.article_id))[1],
       count(*)::bigint,
       array_agg(coalesce(f.name, '(no feed)') ORDER BY r.article_id)
FROM recent r
LEFT JOIN crypto_news.feeds f ON f.feed_id = r.feed_id
WHERE r.content_hash IS NOT NULL
GROUP BY r.content_hash
HAVING count(*) > 1
ORDER BY copies DESC, kind, first_article_id;
