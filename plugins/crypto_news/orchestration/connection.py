"""What the DAGs need from Airflow, kept out of the DAG files: the database URL from the Airflow Connection.

Airflow's PostgresHook hands out psycopg 3 connections; the pipeline uses psycopg2, so the Connection's fields are
read and turned into a libpq URL instead.
"""

from __future__ import annotations

import os
from urllib.parse import quote, urlencode

CONN_ID = "crypto_news_db"
_LIBPQ_EXTRAS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout", "options", "target_session_attrs")


def connection_url(conn) -> str:
    """libpq URL from an Airflow Connection object (host, port, login, password, schema = database, extras)."""
    user = quote(conn.login or "", safe="")
    auth = f"{user}:{quote(conn.password, safe='')}@" if conn.password else (f"{user}@" if user else "")
    host = conn.host or "localhost"
    port = f":{conn.port}" if conn.port else ""
    extras = {k: v for k, v in (conn.extra_dejson or {}).items() if k in _LIBPQ_EXTRAS}
    query = f"?{urlencode(extras)}" if extras else ""
    return f"postgresql://{auth}{host}{port}/{quote(conn.schema or 'crypto_news', safe='')}{query}"


def db_url(conn_id: str = CONN_ID) -> str:
    """The warehouse URL: the Airflow Connection ``crypto_news_db``, else CRYPTO_NEWS_DB_URL."""
    from airflow.sdk import Connection

    try:
        return connection_url(Connection.get(conn_id))
    except Exception as exc:  # not defined: fall back to the plain environment variable
        if os.environ.get("CRYPTO_NEWS_DB_URL"):
            return os.environ["CRYPTO_NEWS_DB_URL"]
        raise RuntimeError(
            f"the Airflow Connection {conn_id!r} is not defined (and CRYPTO_NEWS_DB_URL is not set): "
            f"define it, e.g. AIRFLOW_CONN_CRYPTO_NEWS_DB=postgresql://user:password@host:5432/crypto_news ({exc})"
        ) from None


def feeds_file(params: dict | None = None, settings=None) -> str:
    """The feed list of a DAG run: its ``feeds_file`` parameter, else CRYPTO_NEWS_FEEDS (or the default)."""
    if settings is None:
        from ..config import Settings

        settings = Settings.from_env()
    return (params or {}).get("feeds_file") or str(settings.feeds_file)
