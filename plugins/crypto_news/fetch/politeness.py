"""Politeness per host: a concurrency limit and a minimum delay between request starts."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager


class HostGate:
    """Per-host concurrency limit and minimum delay between request starts."""

    def __init__(self, concurrency: int, delay_s: float):
        self._slots = threading.BoundedSemaphore(max(1, concurrency))
        self._lock = threading.Lock()
        self._delay_s = delay_s
        self._next_start = 0.0

    @contextmanager
    def turn(self):
        self._slots.acquire()
        try:
            with self._lock:  # reserve a start time; sleep outside the lock
                now = time.monotonic()
                start = max(now, self._next_start)
                self._next_start = start + self._delay_s
            if start > now:
                time.sleep(start - now)
            yield
        finally:
            self._slots.release()

    def defer(self, seconds: float) -> None:
        """No request to this host starts within ``seconds`` from now (the server asked us to wait)."""
        with self._lock:
            self._next_start = max(self._next_start, time.monotonic() + seconds)
