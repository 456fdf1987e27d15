"""
### crypto_news_maintenance

Weekly retention on the warehouse: deletes `feed_fetches` rows older than `CRYPTO_NEWS_FETCH_LOG_DAYS` days
(default 180), and applies the raw page archive's retention (`CRYPTO_NEWS_ARCHIVE_DAYS` /
`CRYPTO_NEWS_ARCHIVE_MAX_MB`, as `crypto-news retention` does). Articles, labels and runs are kept.
Idempotent; safe to trigger by hand.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

from crypto_news.orchestration.alerts import default_args, run_alerts


@dag(
    dag_id="crypto_news_maintenance",
    schedule="@weekly",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(retries=2, retry_delay=timedelta(minutes=5), max_retry_delay=timedelta(minutes=30),
                              execution_timeout=timedelta(minutes=30)),
    tags=["crypto-news", "maintenance"],
    doc_md=__doc__,
    **run_alerts(),  # one alert per failed run
)
def crypto_news_maintenance():
    @task
    def prune_feed_fetches() -> int:
        from crypto_news.orchestration import connection
        from crypto_news.warehouse import maintenance, migrations

        url = connection.db_url()
        migrations.migrate(url)
        return maintenance.prune_feed_fetches(url)

    @task
    def prune_page_archive() -> dict:
        from crypto_news.config import Settings
        from crypto_news.orchestration import connection
        from crypto_news.warehouse import maintenance

        return maintenance.prune_page_archive(connection.db_url(), Settings.from_env())

    prune_feed_fetches() >> prune_page_archive()


crypto_news_maintenance()
