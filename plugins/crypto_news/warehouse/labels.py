"""SQL of the labels: which articles need labelling, and the labels, entities and classification rows written
for them."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any

from psycopg2.extras import Json, execute_values

_TO_CLASSIFY_FROM = """
    FROM articles a LEFT JOIN article_classifications c USING (article_id)
    WHERE a.extract_state <> 'pending'
      AND (c.article_id IS NULL OR c.classifier_version <> %(version)s OR c.classified_at < a.extracted_at)
"""
_TO_CLASSIFY_SQL = f"""
    SELECT a.article_id, a.title, a.summary, CASE WHEN %(chars)s::int IS NULL THEN a.text ELSE left(a.text, %(chars)s) END
    {_TO_CLASSIFY_FROM}
    ORDER BY a.article_id
"""
_BACKLOG_SQL = f"SELECT count(*) FROM (SELECT 1 {_TO_CLASSIFY_FROM} LIMIT %(limit)s) t"


def backlog_reaches(conn, version: str, limit: int) -> bool:
    """Whether at least ``limit`` articles wait for labels of classifier ``version`` (counted no further)."""
    with conn.cursor() as cur:
        cur.execute(_BACKLOG_SQL, {"version": version, "limit": limit})
        return cur.fetchone()[0] == limit


@contextmanager
def to_classify(conn, version: str, chars: int | None, batch_size: int):
    """A server-side cursor (kept across commits) over (article_id, title, summary, the first ``chars`` characters
    of the text) of every article without labels of classifier ``version``, in id order."""
    with conn.cursor(name="crypto_news_to_classify", withhold=True) as cur:
        cur.itersize = batch_size
        cur.execute(_TO_CLASSIFY_SQL, {"version": version, "chars": chars})
        conn.commit()
        yield cur


def store_classifications(cur, pairs: list[tuple[int, Any]]) -> tuple[int, int]:
    """Replace the labels, entities and classification rows of these articles; return (labels, entities) written."""
    if not pairs:
        return 0, 0
    ids = [article_id for article_id, _ in pairs]
    labels, entities, classes = [], [], []
    for article_id, c in pairs:
        classes.append((article_id, c.version, Json(c.scores)))
        labels += [(article_id, lab, round(c.scores[lab], 4), c.evidence.get(lab, [])[:10], c.version)
                   for lab in c.labels]
        entities += [(article_id, e.kind, e.id, e.name, e.mentions) for e in c.entities]
    cur.execute("DELETE FROM article_labels WHERE article_id = ANY(%s)", (ids,))
    cur.execute("DELETE FROM article_entities WHERE article_id = ANY(%s)", (ids,))
    if labels:
        execute_values(cur, "INSERT INTO article_labels (article_id, label, score, evidence, classifier_version) "
                            "VALUES %s", labels, template="(%s, %s, %s, %s::text[], %s)", page_size=5000)
    if entities:
        execute_values(cur, "INSERT INTO article_entities (article_id, kind, entity_id, name, mentions) VALUES %s",
                       entities, page_size=5000)
    execute_values(
        cur,
        """INSERT INTO article_classifications (article_id, classifier_version, scores) VALUES %s
           ON CONFLICT (article_id) DO UPDATE SET classifier_version = EXCLUDED.classifier_version,
               scores = EXCLUDED.scores, classified_at = now()""",
        classes, page_size=5000,
    )
    return len(labels), len(entities)
