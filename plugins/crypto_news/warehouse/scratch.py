"""Scratch databases for tests and benchmarks: created empty under a unique name, dropped afterwards."""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import psycopg2


def with_dbname(url: str, name: str) -> str:
    """The same server URL, pointing at database ``name``."""
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


def create_scratch_database(admin_url: str, prefix: str) -> str:
    """Create an empty, uniquely named database on the server of ``admin_url``; return its URL."""
    import uuid

    from psycopg2 import sql

    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(admin_url, connect_timeout=10)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        admin.close()
    return with_dbname(admin_url, name)


def drop_database(admin_url: str, url: str) -> None:
    """Drop the database ``url`` names (its sessions are ended first)."""
    from psycopg2 import sql

    admin = psycopg2.connect(admin_url, connect_timeout=10)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(urlsplit(url).path.lstrip("/"))))
    finally:
        admin.close()
