"""Progress of long stages, for the command line and Airflow task logs alike.

On a terminal (the ``crypto_news.progress`` logger writes to a TTY) a bar is redrawn in place, at most four
times a second; anywhere else (a file, a pipe, an Airflow task log) one line is logged whenever another 10 %
is done or 10 s have passed since the last line, whichever comes first, and once at the end::

    extract: 120/480 articles (25 %), 3.1/s, ETA 2 min

The stage calls :meth:`Progress.advance` as work completes and :meth:`Progress.tick` while it waits, so a
stalled stage still says where it is every 10 s.
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger("crypto_news.progress")

LINE_EVERY_S = 10.0
BAR_EVERY_S = 0.25
BAR_WIDTH = 24


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _tty_stream():
    """The terminal stream the progress logger ends on, if any (the bar is only drawn there)."""
    logger: logging.Logger | None = log
    while logger is not None:
        for handler in logger.handlers:
            stream = getattr(handler, "stream", None)
            if stream is not None:
                try:
                    return stream if stream.isatty() else None
                except (AttributeError, ValueError):
                    return None
        if not logger.propagate:
            return None
        logger = logger.parent
    return None


class Progress:
    """Counts done units of one stage and reports them (see the module doc)."""

    def __init__(self, stage: str, total: int | None, unit: str = "articles", clock=time.monotonic):
        self.stage, self.total, self.unit, self.clock = stage, total, unit, clock
        self.done = 0
        self.started = self.last_line = self.last_bar = clock()
        self.tenths = 1  # the next line is due at this many tenths of the total
        self.reported = -1  # the count the last line showed
        self.bar = _tty_stream() if log.isEnabledFor(logging.INFO) else None
        self.closed = False

    def text(self) -> str:
        elapsed = max(self.clock() - self.started, 1e-9)
        rate = self.done / elapsed
        if self.total:
            pct = 100 * self.done / self.total
            text = f"{self.stage}: {self.done}/{self.total} {self.unit} ({pct:.0f} %), {rate:.1f}/s"
            if 0 < self.done < self.total and rate > 0:
                text += f", ETA {_duration((self.total - self.done) / rate)}"
            return text
        return f"{self.stage}: {self.done} {self.unit}, {rate:.1f}/s"

    def advance(self, n: int = 1) -> None:
        self.done += n
        self.tick()

    def tick(self) -> None:
        """Report if it is time to (called as work completes, and while waiting for it)."""
        now = self.clock()
        if self.bar is not None:
            if now - self.last_bar >= BAR_EVERY_S:
                self.last_bar = now
                self._draw()
            return
        if now - self.last_line >= LINE_EVERY_S or (self.total and self.done >= self._due()):
            self._line(now)

    def _due(self) -> int:
        # the count at which another tenth is complete (rounded up)
        return -(-self.tenths * (self.total or 0) // 10)

    def _line(self, now: float) -> None:
        self.last_line = now
        self.reported = self.done
        while self.total and self.tenths <= 10 and self.done >= self._due():
            self.tenths += 1
        log.info("%s", self.text())

    def _draw(self) -> None:
        if self.bar is None:
            return
        filled = int(BAR_WIDTH * self.done / self.total) if self.total else 0
        bar = "#" * filled + "." * (BAR_WIDTH - filled) if self.total else ""
        try:
            self.bar.write(f"\r[{bar}] {self.text()}\033[K" if bar else f"\r{self.text()}\033[K")
            self.bar.flush()
        except (OSError, ValueError):
            self.bar = None

    def close(self) -> None:
        """The final count, once (also when the stage did nothing, so the log says so)."""
        if self.closed:
            return
        self.closed = True
        if self.bar is not None:
            self._draw()
            try:
                self.bar.write("\n")
                self.bar.flush()
            except (OSError, ValueError):
                pass
            return
        if self.done != self.reported:
            self._line(self.clock())

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
