"""
### crypto_news_reclassify

Manual only. After a taxonomy change (`config/taxonomy.yml`, which changes the classifier version), re-labels every
stored article whose labels come from another classifier version, without fetching anything, and updates the Asset
`crypto_news_articles` (its event carrying the classifier version and the counts) so that downstream DAGs
scheduled on it refresh. Idempotent: a second run
finds nothing to do. The daily run would also re-label them (same function), this DAG just does it now.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

from crypto_news.orchestration.alerts import default_args, run_alerts
from crypto_news.orchestration.assets import ARTICLES


@dag(
    dag_id="crypto_news_reclassify",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(retries=2, max_retry_delay=timedelta(minutes=10), execution_timeout=timedelta(hours=2)),
    tags=["crypto-news", "reclassify"],
    doc_md=__doc__,
    **run_alerts(),  # one alert per failed run
)
def crypto_news_reclassify():
    @task(outlets=[ARTICLES])
    def reclassify_articles() -> dict:
        from crypto_news import pipeline
        from crypto_news.classify import get_classifier
        from crypto_news.config import Settings
        from crypto_news.orchestration import connection
        from crypto_news.orchestration.assets import record_event_counts
        from crypto_news.warehouse import migrations

        url = connection.db_url()
        migrations.prepare(url, Settings.from_env().auto_migrate)
        counts = {"classifier_version": get_classifier().version, **pipeline.classify_articles(url, None)}
        record_event_counts(counts)
        return counts

    reclassify_articles()


crypto_news_reclassify()
