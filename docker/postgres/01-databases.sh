#!/bin/bash
# First start of the postgres container only (docker-entrypoint-initdb.d): the Airflow metadata database and the
# crypto-news warehouse, each with its own owner, plus a login role for BI tools. Passwords come from the
# environment (.env), never from this file.
set -euo pipefail

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     -v airflow_pw="$AIRFLOW_DB_PASSWORD" -v cn_pw="$CRYPTO_NEWS_DB_PASSWORD" -v bi_pw="$CRYPTO_NEWS_BI_PASSWORD" <<'SQL'
CREATE ROLE airflow LOGIN PASSWORD :'airflow_pw';
CREATE DATABASE airflow OWNER airflow;

-- The warehouse owner runs the migrations, which create the read-only role crypto_news_reader: CREATEROLE.
CREATE ROLE crypto_news LOGIN CREATEROLE PASSWORD :'cn_pw';
CREATE DATABASE crypto_news OWNER crypto_news;
REVOKE ALL ON DATABASE crypto_news FROM PUBLIC;

-- BI tools log in as crypto_news_bi; airflow-init makes it a member of crypto_news_reader once the migrations
-- have created that role.
CREATE ROLE crypto_news_bi LOGIN PASSWORD :'bi_pw';
GRANT CONNECT ON DATABASE crypto_news TO crypto_news_bi;
SQL
