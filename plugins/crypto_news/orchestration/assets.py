"""The one Asset the DAGs update: the warehouse's articles and their labels.

Named, so that the UI and downstream DAGs refer to it by a stable name; its URI uses a custom ``x-`` scheme,
which Airflow accepts without a provider's normaliser. Each event carries counts in its ``extra``
(what the run or the relabelling added), so a downstream DAG can skip work when nothing changed without
querying the warehouse.
"""

from __future__ import annotations

from airflow.sdk import Asset

# Name and URI both new: the earlier unnamed Asset (name = URI = "x-crypto-news://warehouse/articles") stays
# active while anything still references it (a downstream DAG, an old serialized DAG in a local Airflow home),
# and Airflow leaves a new asset inactive while an active one shares its name or its URI;
# a task whose outlet is inactive fails.
ARTICLES = Asset(name="crypto_news_articles", uri="x-crypto-news://crypto_news/articles")


def record_event_counts(counts: dict) -> None:
    """Put ``counts`` into the extra of the current task's ARTICLES event (sent when the task succeeds)."""
    from airflow.sdk import get_current_context

    get_current_context()["outlet_events"][ARTICLES].extra = dict(counts)
