"""Security checks: no credentials in the repository, passwords masked in every output and stored message, SQL
always parameterised, and the embedded database reachable from this machine only.

That the read-only role cannot write is proven in tests/test_warehouse.py
(test_reader_can_select_everything_and_change_nothing, test_writer_has_dml_but_no_ddl).
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest

from conftest import ADMIN_URL
from sitekit import serve_site, write_feed_list

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "plugins" / "crypto_news"

# ------------------------------------------------------------------------------------------------ no credentials in the repo

_URL_PASSWORD = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@\"'`]+:([^@\s/\"'`]+)@")
_ENV_SECRET = re.compile(r"^\s*([A-Z0-9_]*(?:PASSWORD|SECRET|TOKEN|API_KEY)[A-Z0-9_]*)\s*[=:]\s*(\S+)", re.MULTILINE)
# Documented placeholders anywhere: the generic example in error messages, compose's ${VAR} interpolation, the
# .env.example value. Tests additionally use made-up passwords to prove masking, and the masked form ***.
PLACEHOLDERS = {"password", "change-me", "***"}
TEST_ONLY = {"hunter2", "pa%40ss", "pa", "pw", "s3cret-pw", "{SECRET}", "{FEED_SECRET}"}


def _tracked_files() -> list[Path]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the list of tracked files is unknown")
    out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [ROOT / p for p in out.decode().split("\0") if p]


def _placeholder(value: str, path: Path) -> bool:
    value = value.strip("\"'")
    if value in PLACEHOLDERS or value.startswith("${") or value.startswith(":'"):
        return True
    return path.is_relative_to(ROOT / "tests") and value in TEST_ONLY


def test_no_credentials_in_tracked_files():
    found = []
    for path in _tracked_files():
        if not path.is_file() or path.stat().st_size > 2_000_000:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for m in _URL_PASSWORD.finditer(text):
            if not _placeholder(m.group(1), path):
                found.append(f"{path.relative_to(ROOT)}: URL with a password: {m.group(0)}")
        if path.name.startswith(".env") or path.suffix in (".env", ".ini", ".cfg", ".yml", ".yaml", ".toml"):
            for m in _ENV_SECRET.finditer(text):
                if not _placeholder(m.group(2), path) and not m.group(2).endswith("_FILE"):
                    if "/" not in m.group(2):  # a path to a secrets file is not a secret
                        found.append(f"{path.relative_to(ROOT)}: {m.group(1)} has a value")
    assert found == []
    assert not any(p.name == ".env" for p in _tracked_files()), ".env must never be committed"


# ------------------------------------------------------------------------------------------------ passwords masked


@pytest.fixture
def password_role(migrated_db):
    """A login role with a password, and the test database's URL with that role and password in it."""
    role = f"cn_masked_{uuid.uuid4().hex[:8]}"
    password = f"Pw{uuid.uuid4().hex}"
    admin = psycopg2.connect(ADMIN_URL)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f"CREATE ROLE {role} LOGIN SUPERUSER PASSWORD %s", (password,))
    parts = urlsplit(migrated_db)
    url = urlunsplit(parts._replace(netloc=f"{role}:{password}@{parts.hostname}:{parts.port or 5432}"))
    try:
        yield url, password
    finally:
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,))
            cur.execute(f"DROP ROLE IF EXISTS {role}")
        admin.close()


def _cli(args, env_extra, timeout=180):
    env = {**os.environ, "CRYPTO_NEWS_EXTRACT_WORKERS": "1", "CRYPTO_NEWS_RETRIES": "0", **env_extra}
    return subprocess.run([sys.executable, "-m", "crypto_news.cli", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


def _everything_stored(url: str) -> str:
    conn = psycopg2.connect(url, options="-c search_path=crypto_news")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'crypto_news' "
                        "AND table_type = 'BASE TABLE'")
            tables = [r[0] for r in cur.fetchall()]
            dump = []
            for t in tables:
                cur.execute(f"SELECT x::text FROM crypto_news.{t} x")
                dump += [r[0] for r in cur.fetchall()]
        return "\n".join(dump)
    finally:
        conn.close()


def test_password_is_masked_in_output_logs_and_stored_runs(password_role, http_server, tmp_path):
    url, password = password_role
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/feed.xml"
    feeds = write_feed_list(tmp_path / "feeds.yml", serve_site(http_server, feeds=("chainpost.atom",)),
                            extra=[("Dead Feed", dead)])
    outputs = []

    ok = _cli(["-v", "run", "--feeds", str(feeds)], {"CRYPTO_NEWS_DB_URL": url})
    assert ok.returncode == 0, ok.stderr
    assert "Dead Feed" in ok.stdout and "connection" in ok.stdout
    assert "INFO" in ok.stderr  # -v logging was on
    outputs += [ok.stdout, ok.stderr]

    # failures that quote the database: a missing database, a refused port, a run that fails as a whole
    parts = urlsplit(url)
    for bad in (urlunsplit(parts._replace(path="/no_such_db_here")),
                urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.port}", ":9")))):
        proc = _cli(["-v", "run", "--feeds", str(feeds)], {"CRYPTO_NEWS_DB_URL": bad}, timeout=60)
        assert proc.returncode == 2 and "***" in proc.stderr, proc.stderr
        outputs += [proc.stdout, proc.stderr]
    dead_only = write_feed_list(tmp_path / "dead.yml", {"Dead Feed": dead})
    failed = _cli(["-v", "run", "--json", "--feeds", str(dead_only)], {"CRYPTO_NEWS_DB_URL": url})
    assert failed.returncode == 1
    outputs += [failed.stdout, failed.stderr]
    for cmd in (["summary"], ["feeds"], ["migrate"]):
        proc = _cli(["-v", *cmd], {"CRYPTO_NEWS_DB_URL": url}, timeout=60)
        outputs += [proc.stdout, proc.stderr]

    for text in outputs:
        assert password not in text
    stored = _everything_stored(url)
    assert "Dead Feed" in stored or "feed.xml" in stored  # the failure itself was stored
    assert password not in stored


# ------------------------------------------------------------------------------------------------ parameterised SQL

_EXECUTORS = {"execute", "executemany", "execute_values", "mogrify", "copy_expert", "execute_batch"}
# Names allowed inside an f-string that builds SQL, with why each is safe:
ALLOWED_IN_SQL = {
    # warehouse/db.py, warehouse/migrations.py: the schema name, a module constant ("crypto_news"), never input.
    "SCHEMA": "module constant",
    # warehouse/embedded.py: the database name, a module constant ("crypto_news").
    "DB_NAME": "module constant",
    # warehouse/articles.py: a fixed column list shared by two SELECTs (module constant).
    "_ARTICLE_COLS": "module constant",
    # warehouse/labels.py: the FROM/WHERE of the labelling backlog, shared by its probe and its query (module constant;
    # its values are parameters).
    "_TO_CLASSIFY_FROM": "module constant",
    # runs.add_run_counts: "col = col + %(col)s" built from the keyword names of the call (the pipeline's own
    # counter names, written in code); the values are parameters.
    "sets": "identifiers from the caller's keyword names (code), values parameterised",
}


def _module_strings(tree: ast.Module) -> dict[str, ast.expr]:
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            out[node.targets[0].id] = node.value
    return out


def _sql_arg(call: ast.Call) -> ast.expr | None:
    name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", None)
    if name not in _EXECUTORS:
        return None
    args = call.args
    if name == "execute_values":
        return args[1] if len(args) > 1 else None
    return args[0] if args else None


def _is_sql_composition(call: ast.Call) -> bool:
    """``sql.SQL("...").format(sql.Identifier(...), ...)``: every argument is itself a psycopg2.sql object."""
    base = call.func.value
    is_sql = (isinstance(base, ast.Call) and isinstance(base.func, ast.Attribute) and base.func.attr == "SQL"
              and len(base.args) == 1 and isinstance(base.args[0], ast.Constant))

    def composed(arg) -> bool:
        return (isinstance(arg, ast.Call) and isinstance(arg.func, ast.Attribute)
                and arg.func.attr in ("Identifier", "Literal", "Placeholder", "SQL"))

    return is_sql and all(composed(a) for a in call.args) and not call.keywords


def _problems(sql: ast.expr, where: str, constants: dict[str, ast.expr], locals_: dict[str, ast.expr]) -> list[str]:
    if isinstance(sql, ast.Name):
        target = locals_.get(sql.id) or constants.get(sql.id)
        return _problems(target, where, constants, {}) if target is not None else []
    if isinstance(sql, ast.JoinedStr):
        bad = []
        for part in sql.values:
            if isinstance(part, ast.FormattedValue):
                names = {n.id for n in ast.walk(part.value) if isinstance(n, ast.Name)}
                if not names or not names <= set(ALLOWED_IN_SQL):
                    bad.append(f"{where}: f-string SQL interpolates {ast.unparse(part.value)!r}")
        return bad
    if isinstance(sql, ast.BinOp) and isinstance(sql.op, (ast.Mod, ast.Add)):
        if isinstance(sql.op, ast.Mod):
            return [f"{where}: SQL built with % formatting: {ast.unparse(sql)[:80]}"]
        return _problems(sql.left, where, constants, locals_) + _problems(sql.right, where, constants, locals_)
    if isinstance(sql, ast.Call) and isinstance(sql.func, ast.Attribute) and sql.func.attr == "format":
        if _is_sql_composition(sql):  # psycopg2.sql quotes what it is given: the sanctioned way for identifiers
            return []
        return [f"{where}: SQL built with str.format: {ast.unparse(sql)[:80]}"]
    return []


def test_all_sql_is_parameterised():
    problems, calls = [], 0
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = _module_strings(tree)
        for fn in [tree, *[n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]]:
            locals_ = {}
            for node in ast.walk(fn):
                if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                    locals_[node.targets[0].id] = node.value
            for node in ast.walk(fn):
                if isinstance(node, ast.Call):
                    sql = _sql_arg(node)
                    if sql is not None:
                        calls += 1
                        problems += _problems(sql, f"{path.relative_to(PACKAGE)}:{node.lineno}", constants, locals_)
    assert calls > 40  # the scan sees the package's SQL
    assert sorted(set(problems)) == []


def test_the_scan_catches_values_in_sql():
    bad = ast.parse(
        "def f(cur, value, n):\n"
        "    cur.execute(f\"SELECT * FROM articles WHERE title = '{value}'\")\n"
        "    cur.execute(\"DELETE FROM feeds WHERE feed_id = %s\" % n)\n"
        "    sql = \"SELECT {}\".format(value)\n"
        "    cur.execute(sql)\n"
        "    cur.execute(f\"SELECT 1 FROM {SCHEMA}.feeds WHERE url = %s\", (value,))\n"
        "    cur.execute(sql.SQL(\"DROP DATABASE {}\").format(sql.Identifier(value)))\n"
        "    cur.execute(sql.SQL(\"SELECT {}\").format(value))\n"
    )
    fn = bad.body[0]
    locals_ = {n.targets[0].id: n.value for n in ast.walk(fn) if isinstance(n, ast.Assign)}
    found = [p for n in ast.walk(fn) if isinstance(n, ast.Call) and (sql := _sql_arg(n)) is not None
             for p in _problems(sql, f"x:{n.lineno}", {}, locals_)]
    assert [p.split(":")[1] for p in found] == ["2", "3", "5", "8"], found


def test_run_counter_names_are_identifiers_from_code():
    """The one place where identifiers are interpolated from arguments: only plain identifiers reach it."""
    source = (PACKAGE / "warehouse" / "runs.py").read_text(encoding="utf-8")
    assert 'sets = ", ".join(f"{k} = {k} + %({k})s" for k in counts)' in source
    calls = re.findall(r"add_run_counts\([^)]*\)", "".join(p.read_text() for p in PACKAGE.rglob("*.py")))
    keys = {k for c in calls for k in re.findall(r"(\w+)=", c)}
    assert keys and keys <= {"articles_extracted", "articles_classified", "labels_written"}, keys


# ------------------------------------------------------------------------------------------------ the embedded database


def test_embedded_database_listens_on_localhost_only(monkeypatch):
    from crypto_news.warehouse import embedded

    try:
        embedded.find_bindir()
    except embedded.EmbeddedDbError as exc:
        pytest.skip(str(exc))
    root = Path(tempfile.mkdtemp(prefix="cn-embedded-", dir="/var/tmp"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    monkeypatch.setattr(embedded, "STATE_DIR", root / "pg")
    try:
        url = embedded.ensure()
        parts = urlsplit(url)
        assert parts.hostname == "127.0.0.1" and parts.password
        conn = psycopg2.connect(url)
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW listen_addresses")
                assert cur.fetchone()[0] == "127.0.0.1"
                cur.execute("SHOW unix_socket_directories")
                sockdir = cur.fetchone()[0]
                assert sockdir.startswith(str(root)) or sockdir.startswith("/var/tmp/")
                cur.execute("SELECT DISTINCT auth_method FROM pg_hba_file_rules WHERE type <> 'local' "
                            "OR auth_method IS NOT NULL")
                methods = {r[0] for r in cur.fetchall()}
                assert "trust" not in methods, methods
        finally:
            conn.close()
        with pytest.raises(psycopg2.OperationalError):  # a password is required
            psycopg2.connect(urlunsplit(parts._replace(netloc=f"postgres@127.0.0.1:{parts.port}")), connect_timeout=5)
        assert (root / "pg" / "password").stat().st_mode & 0o077 == 0
    finally:
        try:
            embedded.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)
