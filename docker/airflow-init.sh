#!/bin/bash
# One-shot setup of the compose stack (service airflow-init), idempotent: safe on every `docker compose up`.
#   1. the Airflow metadata database: airflow db migrate
#   2. the pool crypto_news_http (CRYPTO_NEWS_HTTP_POOL_SLOTS slots, default 4) used by the fetch/extract tasks
#   3. the warehouse migrations, and BI access: crypto_news_bi joins crypto_news_reader when that role exists
set -euo pipefail

airflow db migrate
airflow pools set crypto_news_http "${CRYPTO_NEWS_HTTP_POOL_SLOTS:-4}" "crypto-news HTTP tasks"

python - <<'PY'
import os

import psycopg2
from crypto_news.warehouse import migrations

url = os.environ["AIRFLOW_CONN_CRYPTO_NEWS_DB"]
applied = migrations.migrate(url)
print(f"crypto-news warehouse migrations applied: {applied or 'none (up to date)'}")
conn = psycopg2.connect(url)
conn.autocommit = True
with conn.cursor() as cur:
    cur.execute("SELECT 1 FROM pg_roles WHERE rolname = 'crypto_news_reader'")
    if cur.fetchone():
        cur.execute("GRANT crypto_news_reader TO crypto_news_bi")
        print("crypto_news_bi is a member of crypto_news_reader")
    else:
        print("role crypto_news_reader not created by the migrations yet: BI access not granted")
conn.close()
PY
