#!/bin/bash
# One-shot setup of the compose stack (service airflow-init), idempotent: safe on every `docker compose up`.
#   1. the Airflow metadata database: airflow db migrate
#   2. the pool crypto_news_http (CRYPTO_NEWS_HTTP_POOL_SLOTS slots, default 4) used by the fetch/extract tasks
#   3. as the warehouse owner (CRYPTO_NEWS_OWNER_DB_URL): the warehouse migrations, the only place they run in
#      this stack (the tasks run with CRYPTO_NEWS_AUTO_MIGRATE=0); the login of crypto_news_writer, which the tasks
#      connect as, with CRYPTO_NEWS_WRITER_PASSWORD; BI access (crypto_news_bi joins crypto_news_reader)
set -euo pipefail

airflow db migrate
airflow pools set crypto_news_http "${CRYPTO_NEWS_HTTP_POOL_SLOTS:-4}" "crypto-news HTTP tasks"

# The image holds the project's dependencies, not the package: its code is the mounted plugins folder.
export PYTHONPATH="/opt/airflow/plugins${PYTHONPATH:+:$PYTHONPATH}"
python -m crypto_news.warehouse.deploy
