"""PostgreSQL connections: one way to connect (search path set, failures as one-line errors with the password
masked), the errors worth telling the operator, and which failures a retry may fix.

The rest of the warehouse: :mod:`.migrations` (schema), :mod:`.runlock` (one run at a time), and one module of SQL
per subject (:mod:`.runs`, :mod:`.feeds`, :mod:`.articles`, :mod:`.dedup`, :mod:`.labels`, :mod:`.archive`,
:mod:`.maintenance`, :mod:`.quality`).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, quote_plus, urlsplit, urlunsplit

import psycopg2
from psycopg2.extensions import parse_dsn

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


_SECRETS: set[str] = set()  # passwords of every database URL this process connected with (see mask_secrets)
_URI_PREFIXES = ("postgresql://", "postgres://")


def _password(url: str) -> str | None:
    """The password of a connection string in any form libpq accepts (URI, ``?password=``, ``key=value``), read
    by libpq's own parser."""
    try:
        return parse_dsn(url).get("password") or None
    except psycopg2.Error:
        return None


def _secret_spellings(url: str | None) -> set[str]:
    """The password as it may appear in text: decoded, and as written in the string (percent-encoded in a URI,
    quoted and escaped in a keyword string)."""
    if not url:
        return set()
    password = _password(url)
    if not password:
        return set()
    found = {password, quote(password, safe=""), quote(password), quote_plus(password),
             password.replace("\\", "\\\\").replace("'", "\\'")}
    if url.startswith(_URI_PREFIXES):
        try:
            parts = urlsplit(url)
            if parts.password:
                found.add(parts.password)
            found.update(v for k, v in parse_qsl(parts.query, keep_blank_values=True) if k == "password" and v)
            found.update(v.split("=", 1)[1] for v in parts.query.split("&") if v.startswith("password="))
        except ValueError:
            pass
    return {s for s in found if s}


def register_secret(url: str | None) -> None:
    """Remember the password of ``url`` so that :func:`mask_secrets` removes it from any text of this process."""
    _SECRETS.update(_secret_spellings(url))


def mask_url(url: str | None) -> str:
    """The connection string with its password replaced by ***, for logs and error messages. Every form libpq
    accepts is read by libpq's parser (``psycopg2.extensions.parse_dsn``); a string it cannot parse is not shown."""
    if not url:
        return ""
    try:
        params = parse_dsn(url)
    except psycopg2.Error:
        return "<unparsable database URL>"
    if not params.get("password"):
        return url
    if not url.startswith(_URI_PREFIXES):
        return " ".join(f"{k}={'***' if k == 'password' else _dsn_value(v)}" for k, v in params.items())
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            netloc = f"{parts.username or ''}:***@{netloc.rsplit('@', 1)[1]}"
        query = "&".join("password=***" if q.startswith("password=") else q for q in parts.query.split("&")) \
            if parts.query else ""
        shown = urlunsplit(parts._replace(netloc=netloc, query=query))
    except ValueError:
        return "<unparsable database URL>"
    for secret in sorted(_secret_spellings(url), key=len, reverse=True):
        shown = shown.replace(secret, "***")
    return shown


def _dsn_value(value: str) -> str:
    if value and not any(c in value for c in " '\\"):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def mask_secrets(text: str, url: str | None = None) -> str:
    """Remove the password of ``url``, and of every database URL this process connected with, from any text
    (libpq errors and tracebacks may quote connection details)."""
    if url:
        text = text.replace(url, mask_url(url))
    for secret in sorted(_SECRETS | _secret_spellings(url), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def connect(url: str, *, autocommit: bool = False, application_name: str = "crypto-news"):
    """Open a psycopg2 connection; failures become a DatabaseError with the password masked."""
    register_secret(url)
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
