"""Progress reports: a line every 10 % or 10 s (whichever first) in logs, a bar redrawn on a terminal."""

from __future__ import annotations

import logging
import os

import pytest

from crypto_news import progress as progress_mod
from crypto_news.progress import Progress


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


@pytest.fixture
def lines(caplog):
    caplog.set_level(logging.INFO, logger="crypto_news.progress")
    return lambda: [r.getMessage() for r in caplog.records if r.name == "crypto_news.progress"]


def test_a_line_every_tenth_and_at_the_end(lines):
    clock = Clock()
    with Progress("extract", 480, clock=clock) as p:
        for _ in range(480):
            clock.now += 0.1
            p.advance()
    got = lines()
    assert len(got) == 10  # 10 %, 20 %, ... 100 % (the final count is not repeated)
    assert got[2] == "extract: 144/480 articles (30 %), 10.0/s, ETA 34 s"
    assert got[-1] == "extract: 480/480 articles (100 %), 10.0/s"


def test_a_slow_stage_still_reports_every_ten_seconds(lines):
    clock = Clock()
    p = Progress("extract", 1000, clock=clock)
    for _ in range(25):  # 25 s for 5 articles: far from the next 10 %
        clock.now += 1.0
        if clock.now % 5 == 0:
            p.advance()
        else:
            p.tick()
    assert lines() == ["extract: 2/1000 articles (0 %), 0.2/s, ETA 83 min",
                       "extract: 4/1000 articles (0 %), 0.2/s, ETA 83 min"]
    p.close()
    p.close()  # once only
    assert lines()[-1] == "extract: 5/1000 articles (0 %), 0.2/s, ETA 83 min"
    assert len(lines()) == 3


def test_an_unknown_total_and_an_empty_stage(lines):
    clock = Clock()
    with Progress("classify", None, clock=clock) as p:
        clock.now += 2
        p.advance(250)
    with Progress("extract", 0, clock=clock):
        pass
    assert lines() == ["classify: 250 articles, 125.0/s", "extract: 0 articles, 0.0/s"]


def _drain(master: int) -> str:
    """All a closed terminal's output: one read returns only what the line discipline had ready (a busy
    machine split it); after the other end closed, reads go on until the kernel reports the end (EIO)."""
    chunks = []
    try:
        while chunk := os.read(master, 65536):
            chunks.append(chunk)
    except OSError:
        pass
    finally:
        os.close(master)
    return b"".join(chunks).decode()


def test_a_bar_on_a_terminal(monkeypatch):
    master, slave = os.openpty()
    stream = os.fdopen(slave, "w")
    handler = logging.StreamHandler(stream)
    logger = progress_mod.log
    logger.addHandler(handler)
    monkeypatch.setattr(logger, "propagate", False)
    monkeypatch.setattr(logger, "level", logging.INFO)
    try:
        clock = Clock()
        with Progress("extract", 4, clock=clock) as p:
            for _ in range(4):
                clock.now += 1
                p.advance()
        stream.flush()
    finally:
        logger.removeHandler(handler)
        stream.close()
    out = _drain(master)
    assert "\r[######..................] extract: 1/4 articles (25 %), 1.0/s, ETA 3 s" in out
    assert out.endswith("\r[########################] extract: 4/4 articles (100 %), 1.0/s\x1b[K\r\n")
