"""SQL of the articles: the ones waiting for text, the archived ones to extract again, and one batch of
extraction results written (text, metadata, duplicate marks, archived pages, labels, run counts) in one transaction."""

from __future__ import annotations

from psycopg2.extras import execute_values

from . import archive, labels, runs
from .duplicates import duplicate_marks

_ARTICLE_COLS = """a.article_id, a.url, a.title, a.summary, a.feed_content, a.published_at, a.published_source,
           a.extract_attempts,
           COALESCE(f.obey_robots, true) AS obey_robots"""
_PENDING_SQL = f"""
    SELECT {_ARTICLE_COLS}
    FROM articles a LEFT JOIN feeds f USING (feed_id)
    WHERE a.extract_state <> 'done' AND a.article_id > %(after)s
      AND (%(ids)s::bigint[] IS NULL OR a.article_id = ANY(%(ids)s::bigint[]))
    ORDER BY a.article_id LIMIT %(limit)s
"""


_ARCHIVED_SQL = f"""
    SELECT {_ARTICLE_COLS}, a.page_url, p.content, p.content_type
    FROM articles a JOIN page_archive p ON p.sha256 = a.page_sha256 LEFT JOIN feeds f USING (feed_id)
    WHERE a.article_id > %(after)s AND (%(since)s::timestamptz IS NULL OR a.discovered_at >= %(since)s)
    ORDER BY a.article_id LIMIT %(limit)s
"""


def pending_article_ids(conn) -> list[int]:
    with conn.cursor() as cur:
        cur.execute("SELECT article_id FROM articles WHERE extract_state <> 'done' ORDER BY article_id")
        return [r[0] for r in cur.fetchall()]


UPDATE_SQL = """
    UPDATE articles a SET extract_state = v.state, extract_attempts = v.attempts, text = v.text,
        text_source = v.source, extract_error_kind = v.error_kind, extract_error = v.error, page_title = v.page_title,
        page_author = v.page_author, page_published_at = v.page_published_at, published_at = v.published_at,
        published_source = v.published_source, sitename = v.sitename, lang = v.lang, description = v.description,
        page_tags = v.page_tags, image_url = v.image_url, word_count = v.word_count, content_hash = v.content_hash,
        simhash = v.simhash, extractor = v.extractor, extractor_version = v.extractor_version,
        page_sha256 = COALESCE(v.page_sha256, a.page_sha256), page_url = COALESCE(v.page_url, a.page_url),
        duplicate_of = v.duplicate_of, near_duplicate_of = v.near_duplicate_of, extracted_at = now(), updated_at = now()
    FROM (VALUES %s) AS v(article_id, state, attempts, text, source, error_kind, error, page_title, page_author,
                          page_published_at, published_at, published_source, sitename, lang, description, page_tags,
                          image_url, word_count, content_hash, simhash, extractor, extractor_version, page_sha256,
                          page_url, duplicate_of, near_duplicate_of)
    WHERE a.article_id = v.article_id
"""
UPDATE_TEMPLATE = ("(%s::bigint, %s, %s::integer, %s, %s, %s, %s, %s, %s, %s::timestamptz, %s::timestamptz, %s, %s,"
                    " %s, %s, %s::text[], %s, %s::integer, %s, %s::bigint, %s, %s, %s, %s, %s::bigint, %s::bigint)")


def write_extractions(conn, run_id: int | None, values: list[tuple], pages: list[tuple],
                      labelled: list[tuple]) -> list[tuple]:
    """Store one batch: archived pages, article text, metadata and duplicate marks (one UPDATE), labels, run counts;
    one transaction. ``values`` are rows in the column order of ``UPDATE_SQL`` without the two duplicate marks, which
    are looked up here; the rows are returned with them."""
    with conn.cursor() as cur:
        marks = duplicate_marks(cur, [(v[0], v[18], v[19]) for v in values])
        values = [(*v, *marks[v[0]]) for v in values]
        archive.store_pages(cur, pages)
        execute_values(cur, UPDATE_SQL, values, template=UPDATE_TEMPLATE, page_size=len(values))
        n_labels, _ = labels.store_classifications(cur, labelled)
        runs.add_run_counts(conn, run_id, articles_extracted=len(values), articles_classified=len(labelled),
                             labels_written=n_labels)
    conn.commit()
    return values


def _select(conn, sql: str, params: dict) -> list[dict]:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        cols = [d[0] for d in cur.description]
        rows = [dict(zip(cols, r, strict=True)) for r in cur.fetchall()]
    conn.commit()
    return rows


def _stream(conn, sql: str, params: dict, page: int):
    """Rows of a keyset-paginated query (``article_id > %(after)s ... LIMIT %(limit)s``), one page at a time."""
    after = 0
    while True:
        rows = _select(conn, sql, {**params, "after": after, "limit": page})
        yield from rows
        if len(rows) < page:
            return
        after = rows[-1]["article_id"]


def count_pending(conn, article_ids: list[int] | None = None) -> int:
    with conn.cursor() as cur:
        cur.execute("""SELECT count(*) FROM articles WHERE extract_state <> 'done'
                       AND (%(ids)s::bigint[] IS NULL OR article_id = ANY(%(ids)s::bigint[]))""", {"ids": article_ids})
        n = cur.fetchone()[0]
    conn.commit()
    return n


def count_archived(conn, since) -> int:
    with conn.cursor() as cur:
        cur.execute("""SELECT count(*) FROM articles a JOIN page_archive p ON p.sha256 = a.page_sha256
                       WHERE %(since)s::timestamptz IS NULL OR a.discovered_at >= %(since)s""", {"since": since})
        n = cur.fetchone()[0]
    conn.commit()
    return n


def pending_rows(conn, article_ids: list[int] | None, page: int):
    """Articles still waiting for their text (all, or these ids), in id order, one page at a time."""
    return _stream(conn, _PENDING_SQL, {"ids": article_ids}, page)


def archived_rows(conn, since, page: int):
    """Articles with an archived page (discovered since ``since``, or all), with the page, one page at a time."""
    return _stream(conn, _ARCHIVED_SQL, {"since": since}, page)
