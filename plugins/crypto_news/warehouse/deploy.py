"""The warehouse side of a deployment step (the compose service ``airflow-init``), run as the schema owner:
migrations, then the logins of the roles the migrations create.

The pipeline's tasks then log in as ``crypto_news_writer`` (its rights: DML on the base tables, no DDL), so a
task that goes wrong cannot change the schema, and they run with ``CRYPTO_NEWS_AUTO_MIGRATE=0``. The writer's
password comes from the environment (``CRYPTO_NEWS_WRITER_PASSWORD``) and is set on every run of the step,
which is how it is rotated; it is sent SCRAM-hashed, so the plain password never appears in a statement or a
server log.

    python -m crypto_news.warehouse.deploy      # CRYPTO_NEWS_OWNER_DB_URL, CRYPTO_NEWS_WRITER_PASSWORD
"""

from __future__ import annotations

import os
import sys

WRITER = "crypto_news_writer"


def enable_logins(owner_url: str, writer_password: str) -> list[str]:
    """Let ``crypto_news_writer`` log in with ``writer_password`` and use this database (CONNECT, and
    TEMPORARY for the staging tables of bulk loads: the compose database revokes both from PUBLIC); make
    ``crypto_news_bi`` a member of ``crypto_news_reader`` when both exist. Returns what was done."""
    import psycopg2
    from psycopg2 import sql
    from psycopg2.extensions import encrypt_password

    if not writer_password:
        raise ValueError("CRYPTO_NEWS_WRITER_PASSWORD is empty: set it (in .env for docker compose)")
    done = []
    conn = psycopg2.connect(owner_url, connect_timeout=10)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT current_database()")
            database = cur.fetchone()[0]
            hashed = encrypt_password(writer_password, WRITER, conn, "scram-sha-256")
            cur.execute(sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(WRITER),
                                                                        sql.Literal(hashed)))
            cur.execute(sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(
                sql.Identifier(database), sql.Identifier(WRITER)))
            done.append(f"{WRITER} may log in to {database} (password from CRYPTO_NEWS_WRITER_PASSWORD)")
            cur.execute("SELECT count(*) FROM pg_roles "
                        "WHERE rolname IN ('crypto_news_reader', 'crypto_news_bi')")
            if cur.fetchone()[0] == 2:
                cur.execute("GRANT crypto_news_reader TO crypto_news_bi")
                done.append("crypto_news_bi is a member of crypto_news_reader")
    finally:
        conn.close()
    return done


def main() -> int:
    from .db import mask_secrets
    from .migrations import migrate

    try:
        owner_url = os.environ["CRYPTO_NEWS_OWNER_DB_URL"]
        applied = migrate(owner_url)
        print(f"crypto-news warehouse migrations applied: {', '.join(applied) or 'none (up to date)'}")
        for line in enable_logins(owner_url, os.environ.get("CRYPTO_NEWS_WRITER_PASSWORD", "")):
            print(line)
    except KeyError:
        print("crypto-news: CRYPTO_NEWS_OWNER_DB_URL is not set (the schema owner's URL)", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - one line, no secrets, for the init container's log
        print(f"crypto-news: {mask_secrets(f'{type(exc).__name__}: {exc}')}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
