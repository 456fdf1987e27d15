"""The command line as a user runs it: a real process, real files, real JSON on stdout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import shared_path

PAGES = Path(__file__).resolve().parent / "fixtures" / "pages"
SITE = Path(__file__).resolve().parent / "fixtures" / "site"


def cli(*args, stdin=None, env=None):
    proc = subprocess.run([sys.executable, "-m", "crypto_news.cli", *args], input=stdin, capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})
    return proc


def test_extract_html_prints_one_json_object_per_page():
    files = sorted(PAGES.glob("*.html"))
    proc = cli("extract", "--html", *map(str, files))
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(out) == len(files)
    for d in out:
        assert {"url", "title", "author", "published", "lang", "text", "status"} <= set(d)
    by_name = {Path(d["url"]).name: d for d in out}
    assert by_name["bot_challenge.html"]["status"] == "blocked" and by_name["bot_challenge.html"]["text"] is None
    assert by_name["cookie_wall.html"]["status"] == "blocked"
    assert by_name["paywall_teaser.html"]["status"] == "paywall_or_teaser"
    assert by_name["paywall_teaser.html"]["text"]  # the teaser is shown, and the status says what it is
    normal = by_name["article_normal.html"]
    assert normal["status"] == "ok" and len(normal["text"].split()) > 100


def test_extract_html_with_url_and_metadata():
    page = SITE / "sec-sues-exchange.html"
    proc = cli("extract", "--html", str(page), "--url", "https://ledgerwire.test/news/sec-sues-exchange")
    d = json.loads(proc.stdout)
    assert d["url"] == "https://ledgerwire.test/news/sec-sues-exchange"
    assert d["title"].startswith("SEC sues crypto exchange") and d["author"] == "Dana Ortiz"
    assert d["published"].startswith("2026-03-03T14:02") and d["lang"] == "en"


def test_classify_reads_json_lines_from_stdin():
    items = [
        {"id": "a", "title": "SEC sues crypto exchange over unregistered securities", "summary": "", "text": ""},
        {"id": "b", "title": "Bitcoin hashrate hits record as difficulty rises", "summary": "Miners add ASICs."},
        {"id": "c", "title": "Bitcoin price slips as traders de-risk", "summary": "Markets were quiet."},
    ]
    proc = cli("classify", "-", stdin="\n".join(json.dumps(i) for i in items) + "\n")
    assert proc.returncode == 0, proc.stderr
    out = {d["id"]: d for d in map(json.loads, proc.stdout.splitlines())}
    assert out["a"]["labels"] == ["regulation"] and out["b"]["labels"] == ["mining"] and out["c"]["labels"] == []
    for d in out.values():
        assert set(d["scores"]) == {"regulation", "adoption", "mining"} and d["version"]
        assert all(0 <= v <= 1 for v in d["scores"].values())
    assert out["a"]["evidence"]["regulation"]
    assert any(e["id"] == "US-SEC" for e in out["a"]["entities"])


def test_eval_classifier_prints_per_label_figures():
    dev = shared_path("labels", "dev.jsonl")
    proc = cli("eval-classifier", str(dev))
    assert proc.returncode == 0, proc.stderr
    lines = {line.split()[0]: line.split()[1:] for line in proc.stdout.splitlines() if line.strip()}
    for label in ("regulation", "adoption", "mining"):
        p, r, f1, interval, tp, fp, fn, tn = lines[label]
        assert 0 < float(f1) <= 1 and int(tp) + int(fp) + int(fn) + int(tn) == 398
        low, high = map(float, interval.split("-"))
        assert low <= float(f1) <= high
    assert 0.8 < float(lines["macro-F1"][0]) <= 1


def test_bad_feed_list_is_one_clear_line(tmp_path, db_url):
    bad = tmp_path / "feeds.yml"
    bad.write_text("feeds:\n  - name: No URL\n")
    proc = cli("run", "--feeds", str(bad), env={"CRYPTO_NEWS_DB_URL": db_url})  # a database of its own
    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1].startswith("crypto-news:")
    assert "'url' must be an http(s) URL" in proc.stderr


def test_refused_address_is_one_phrase_naming_the_setting(tmp_path, db_url, http_server):
    """A feed on loopback with the guard on: the summary and the warning say "blocked:" once and name the setting
    that lifts the refusal; the server gets no request."""
    url = http_server.add("/feed.xml", b"<rss/>")
    feeds = tmp_path / "feeds.yml"
    feeds.write_text(f"feeds:\n  - name: Local\n    url: {url}\n")
    proc = cli("run", "--feeds", str(feeds), env={"CRYPTO_NEWS_DB_URL": db_url, "CRYPTO_NEWS_ALLOW_PRIVATE_HOSTS": ""})
    assert proc.returncode == 1, proc.stderr
    expected = "blocked: 127.0.0.1 is a loopback address, refused unless CRYPTO_NEWS_ALLOW_PRIVATE_HOSTS allows it"
    assert expected in proc.stdout and expected in proc.stderr
    assert "blocked: blocked" not in proc.stdout + proc.stderr
    assert http_server.requests == []


def test_db_status_says_running_or_stopped_and_never_starts_it(tmp_path, monkeypatch, capsys):
    """A real embedded cluster, created, stopped, asked about, started, asked again: status leaves it as it is."""
    import shutil
    import tempfile

    from crypto_news import cli as cli_module
    from crypto_news.warehouse import embedded

    try:
        bindir = embedded.find_bindir()
    except embedded.EmbeddedDbError as exc:
        import pytest

        pytest.skip(str(exc))
    root = Path(tempfile.mkdtemp(prefix="cn-embedded-status-", dir="/var/tmp"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    monkeypatch.setattr(embedded, "STATE_DIR", root / "pg")

    def server_running() -> bool:
        data = (root / "pg" / "datadir").read_text().strip()
        cmd = [str(bindir / "pg_ctl"), "-D", data, "status"]
        cmd = ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd
        return subprocess.run(cmd, capture_output=True).returncode == 0

    try:
        assert cli_module.main(["db", "status"]) == 3
        out = capsys.readouterr().out
        assert out.startswith("stopped (not created yet") and not (root / "pg" / "datadir").exists()

        url = embedded.ensure()
        assert cli_module.main(["db", "status"]) == 0
        out = capsys.readouterr().out
        password = url.split(":")[2].split("@")[0]
        assert out.startswith("running: postgresql://postgres:") and password not in out

        embedded.stop()
        assert not server_running()
        assert cli_module.main(["db", "status"]) == 3
        assert capsys.readouterr().out.startswith("stopped (")
        assert not server_running()  # asking did not start it
    finally:
        try:
            embedded.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)


def test_classify_names_the_bad_line_and_what_is_wrong(tmp_path):
    good = json.dumps({"id": "a", "title": "SEC sues crypto exchange", "summary": ""})
    cases = {
        "{not json": "stdin line 2: not valid JSON (Expecting property name enclosed in double quotes at column 2)",
        "[1, 2]": "stdin line 2: expected a JSON object with title, summary, text, got list",
        json.dumps({"id": "b", "title": 42}): "stdin line 2: 'title' must be a string or null, got int",
    }
    for bad, message in cases.items():
        proc = cli("classify", "-", stdin=f"{good}\n{bad}\n{good}\n")
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.strip().splitlines() == [f"crypto-news: {message}"]
        assert [json.loads(x)["id"] for x in proc.stdout.splitlines()] == ["a"]  # the lines before it were labelled
    path = tmp_path / "items.jsonl"
    path.write_text(f"{good}\n\n{good}\nnull\n")
    proc = cli("classify", str(path))
    assert proc.returncode == 2 and f"{path} line 4: expected a JSON object" in proc.stderr


def test_output_into_a_closed_pipe_ends_quietly(tmp_path, db_url, http_server):
    """`summary`, `feeds`, `classify` and `extract` writing into a pipe whose reader has gone: no broken-pipe error,
    no traceback; also through a real `| head -1` with more output than a pipe holds."""
    feeds = tmp_path / "feeds.yml"
    feeds.write_text(f"feeds:\n  - name: Gone\n    url: {http_server.url('/missing.xml')}\n")
    env = {**os.environ, "CRYPTO_NEWS_DB_URL": db_url}
    assert cli("run", "--feeds", str(feeds), env=env).returncode == 1  # a recorded (failed) run to summarise
    item = json.dumps({"id": "a", "title": "SEC sues crypto exchange", "summary": "Regulators filed suit."})
    commands = [(["summary"], None), (["feeds"], None), (["classify", "-"], item + "\n"),
                (["extract", "--html", str(PAGES / "article_normal.html")], None)]
    for args, stdin in commands:
        read_end, write_end = os.pipe()
        os.close(read_end)  # the reader is gone before anything is written
        proc = subprocess.run([sys.executable, "-m", "crypto_news.cli", *args], input=stdin, stdout=write_end,
                              stderr=subprocess.PIPE, text=True, timeout=300, env=env)
        os.close(write_end)
        assert proc.returncode == 141, (args, proc.stderr)
        assert "Broken pipe" not in proc.stderr and "BrokenPipeError" not in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr, proc.stderr
    big = "".join(json.dumps({"id": str(i), "title": f"Bitcoin miners add hashrate {i}"}) + "\n" for i in range(3000))
    (tmp_path / "items.jsonl").write_text(big)
    shell = subprocess.run(
        f"{sys.executable} -m crypto_news.cli classify {tmp_path / 'items.jsonl'} | head -1",
        shell=True, capture_output=True, text=True, timeout=300, env=env)
    assert shell.returncode == 0 and json.loads(shell.stdout)["id"] == "0"
    assert shell.stderr == "", shell.stderr


def test_fold_keeps_unexpected_tracebacks_and_the_last_line_of_expected_ones():
    """Real Python tracebacks, of the exception the pipeline raises on purpose and of a bug."""
    import traceback

    from airflow.sdk.exceptions import AirflowFailException

    from crypto_news.cli import fold_expected_tracebacks

    def traced(exc):
        try:
            raise exc
        except Exception:
            return traceback.format_exc().splitlines(keepends=True)

    expected = traced(AirflowFailException("crypto-news run 7 failed: all 2 feeds failed"))
    bug = traced(KeyError("feed_id"))
    lines = ["task failed\n", *expected, "next\n", *bug, "done\n"]
    out = list(fold_expected_tracebacks(lines))
    assert out == ["task failed\n",
                   "airflow.sdk.exceptions.AirflowFailException: crypto-news run 7 failed: all 2 feeds failed\n",
                   "next\n", *bug, "done\n"]


def test_airflow_run_of_a_failing_feed_is_one_line_without_a_traceback(tmp_path, db_url, http_server):
    """`crypto-news airflow-run` (what `make run` runs): the DAG through `airflow dags test`, a feed answering 404.
    The run is recorded failed, the command exits 1 with the reason last, and Airflow's traceback of the expected
    failure is not shown."""
    feeds = tmp_path / "feeds.yml"
    feeds.write_text(f"feeds:\n  - name: Gone\n    url: {http_server.url('/missing.xml')}\n")
    proc = cli("airflow-run", "--feeds", str(feeds), env={"CRYPTO_NEWS_DB_URL": db_url})
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert proc.stderr.strip().splitlines()[-1] == "crypto-news: run failed: all 1 feeds failed", proc.stderr[-5000:]
    assert "AirflowFailException: crypto-news run" in proc.stderr  # the failure's own line is kept
    assert "Traceback" not in proc.stderr and 'File "' not in proc.stderr, proc.stderr[-3000:]
    assert "(airflow): FAILED" in proc.stdout
    from conftest import query

    assert query(db_url, "SELECT status FROM crypto_news.pipeline_runs") == [("failed",)]
