-- Question: which articles are about "mining ban" (or any search), best matches first, with a highlighted snippet?
-- Web-search syntax: words are ANDed, "quoted phrase", or, -excluded. Title matches weigh most, then summary, then
-- text (articles.search_tsv). The snippet is computed only for the returned rows.
-- Usage: psql -f sql/queries/search_fulltext.sql -v q='"spot etf" approval -rejected' -v limit=50
\if :{?q}
\else
\set q 'mining ban'
\endif
\if :{?limit}
\else
\set limit 20
\endif

WITH query AS (
    SELECT websearch_to_tsquery('english', :'q') AS tsq
),
hits AS (
    SELECT a.article_id, a.title, a.canonical_url, a.feed_id,
           coalesce(a.published_at, a.discovered_at) AS article_time,
           ts_rank_cd(a.search_tsv, query.tsq) AS rank
    FROM crypto_news.articles a, query
    WHERE a.search_tsv @@ query.tsq
    ORDER BY rank DESC, article_time DESC, a.article_id
    LIMIT :limit
)
SELECT h.article_id, round(h.rank::numeric, 4) AS rank, h.article_time, f.name AS source, h.title,
       regexp_replace(ts_headline('english', left(coalesce(a.text, a.summary, ''), 20000), query.tsq,
                                  'MaxWords=30, MinWords=12, MaxFragments=2'), '\s+', ' ', 'g') AS snippet,
       h.canonical_url
FROM hits h
JOIN crypto_news.articles a ON a.article_id = h.article_id
LEFT JOIN crypto_news.feeds f ON f.feed_id = h.feed_id
CROSS JOIN query
ORDER BY h.rank DESC, h.article_time DESC, h.article_id;
