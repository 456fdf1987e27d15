"""The BI marts (schema ``crypto_news_marts``, migration 0012): refreshing the daily aggregate tables.

The row-level marts are views and always current; ``agg_label_daily`` and ``agg_entity_label_daily`` are tables,
zero-filled, recomputed by the SQL function ``crypto_news_marts.refresh_aggregates()`` in one transaction (BI
readers keep seeing the previous rows until it commits). The pipeline calls it when a classification stage ends,
the last stage that changes labels, entities or article dates.
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger("crypto_news")


def refresh_aggregates(conn) -> int:
    """Recompute the aggregate marts on ``conn`` and commit; return the rows written."""
    began = time.perf_counter()
    with conn.cursor() as cur:
        cur.execute("SELECT crypto_news_marts.refresh_aggregates()")
        rows = cur.fetchone()[0]
    conn.commit()
    log.info("marts: daily aggregates recomputed (%d rows, %.2f s)", rows, time.perf_counter() - began)
    return rows
