"""The time limit of one exchange: a watchdog shuts the socket down when the deadline passes, so that a read
blocked in any layer (TLS, http.client, urllib3) ends, even one dripping a byte a second inside the headers."""

from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time

current = threading.local()  # .deadline: the Deadline of the exchange running on this thread


class Deadline:
    """The time limit of one request: when it expires before :meth:`cancel`, the attached connection's socket is
    shut down, which ends a read blocked in any layer. Expiry is watched by :data:`_WATCHDOG` (one thread for all
    requests)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expires = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._conn = None
        self._fired = False
        self._done = False
        _WATCHDOG.add(self)

    def remaining(self) -> float:
        return self.expires - time.monotonic()

    def expired(self) -> bool:
        return self._fired or time.monotonic() >= self.expires

    def attach(self, conn) -> None:
        with self._lock:
            self._conn = conn
            if self._fired:
                _shutdown(conn)

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self._fired = True
            if self._conn is not None:
                _shutdown(self._conn)

    def cancel(self) -> None:
        with self._lock:
            self._done = True
            self._conn = None


class Watchdog:
    """One daemon thread for every request deadline: it sleeps until the nearest expiry and fires what has expired.
    Cancelled deadlines are dropped when they reach the front. (A timer thread per request cost more CPU than
    the request itself on a fast network.)"""

    def __init__(self):
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Deadline]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, deadline: Deadline) -> None:
        with self._cond:
            heapq.heappush(self._heap, (deadline.expires, next(self._seq), deadline))
            if self._thread is None or not self._thread.is_alive():  # first use, or after a fork
                self._thread = threading.Thread(target=self._run, name="crypto-news-deadlines", daemon=True)
                self._thread.start()
            elif self._heap[0][2] is deadline:  # sooner than what the thread sleeps for
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._heap and self._heap[0][2]._done:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._cond.wait()
                    continue
                delay = self._heap[0][0] - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                due = heapq.heappop(self._heap)[2]
            due._fire()  # outside the lock: shutting a socket down may take a moment


_WATCHDOG = Watchdog()


def _shutdown(conn) -> None:
    sock = getattr(conn, "sock", None)
    if sock is not None:
        try:
            socket.socket.shutdown(sock, socket.SHUT_RDWR)  # base method: also for TLS sockets, no TLS state
        except OSError:
            pass
