"""PostgreSQL connections: one way to connect (search path set, failures as one-line errors with the password
masked), the errors worth telling the operator, and which failures a retry may fix.

The rest of the warehouse: :mod:`.migrations` (schema), :mod:`.runlock` (one run at a time), and one module of SQL
per subject (:mod:`.runs`, :mod:`.feeds`, :mod:`.articles`, :mod:`.dedup`, :mod:`.labels`, :mod:`.archive`,
:mod:`.maintenance`, :mod:`.quality`).
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import psycopg2

SCHEMA = "crypto_news"


class DatabaseError(RuntimeError):
    """A database problem worth a one-line message to the operator."""


class DatabaseUnavailable(DatabaseError):
    """The server could not be reached (down, restarting, refusing connections)."""


def is_transient(exc: BaseException) -> bool:
    """True for failures that a new connection may not meet: the server restarted, the connection dropped,
    a serialization conflict or deadlock. Stages are idempotent, so they can simply run again."""
    if isinstance(exc, DatabaseUnavailable):
        return True
    if isinstance(exc, (psycopg2.OperationalError, psycopg2.InterfaceError)):
        return True
    return isinstance(exc, psycopg2.Error) and getattr(exc, "pgcode", None) in ("40001", "40P01", "57P01", "57P02",
                                                                                "57P03")


def mask_url(url: str | None) -> str:
    """The URL with any password replaced by ***, for logs and error messages."""
    if not url:
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable database URL>"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def mask_secrets(text: str, url: str | None) -> str:
    """Remove the password of ``url`` from any message (libpq errors may quote connection details)."""
    if url:
        try:
            password = urlsplit(url).password
        except ValueError:
            password = None
        if password:
            text = text.replace(password, "***")
        text = text.replace(url, mask_url(url))
    return text


def connect(url: str, *, autocommit: bool = False, application_name: str = "crypto-news"):
    """Open a psycopg2 connection; failures become a DatabaseError with the password masked."""
    try:
        conn = psycopg2.connect(url, connect_timeout=10, application_name=application_name)
    except psycopg2.Error as exc:
        msg = " ".join(str(exc).split())
        raise DatabaseUnavailable(f"cannot connect to {mask_url(url)}: {mask_secrets(msg, url)}") from None
    conn.autocommit = autocommit
    with conn.cursor() as cur:
        cur.execute("SET search_path TO crypto_news, public")
    if not autocommit:
        conn.commit()
    return conn


def staging_table(cur, name: str, columns: str, uncompressed: tuple[str, ...] = ()) -> None:
    """Create the temporary table ``name`` (``columns``: its column list, from code) once per connection; its rows
    go at each commit. Bulk loads COPY into it, then move the rows on with one INSERT ... SELECT. The
    ``uncompressed`` columns are stored as they are: staged values are read once, compressing them is wasted work."""
    from psycopg2 import sql

    cur.execute("SELECT to_regclass(%s)", (f"pg_temp.{name}",))
    if cur.fetchone()[0] is not None:
        return
    cur.execute(sql.SQL("CREATE TEMP TABLE {} ({}) ON COMMIT DELETE ROWS").format(sql.Identifier(name),
                                                                             sql.SQL(columns)))
    for column in uncompressed:
        cur.execute(sql.SQL("ALTER TABLE {} ALTER COLUMN {} SET STORAGE EXTERNAL").format(sql.Identifier(name),
                                                                                      sql.Identifier(column)))
