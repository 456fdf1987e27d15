"""The one HTTP client for feeds and article pages.

What every request gets, in the order it happens:

* **Politeness.** At most ``Settings.host_concurrency`` requests in flight per host and at least
  ``Settings.host_delay_s`` between two request starts to the same host; different hosts proceed in parallel.
  Retries and redirect hops queue like any other request.
* **SSRF guard** (:mod:`crypto_news.netguard`) on the URL and on every redirect hop, before connecting. The
  connection itself resolves the host again, checks the addresses again and connects to one of the checked
  addresses, so a DNS answer that changes between the check and the connection (rebinding) cannot reach a
  refused address. Environment proxies are ignored (``trust_env = False``): a proxy would connect on our behalf
  to addresses the guard never saw.
* **Deadline.** ``Settings.timeout_s`` bounds one exchange (connect, headers, body) of one hop. A watchdog shuts
  the socket down when it expires, so a server that drips a byte per second, even inside the headers, is cut.
  Connect timeout ``Settings.connect_timeout_s``; the read timeout is whatever is left of the deadline.
* **Size cap** ``Settings.max_bytes`` (or ``max_bytes=``) counted on the decoded body while streaming: a
  Content-Length above the cap is refused before reading, and gzip/deflate/brotli are decompressed here,
  incrementally, with an output limit, so a compression bomb stops at the cap.
* **Redirects** followed here, at most ``Settings.max_redirects``; relative Location resolved; credentials
  (Authorization, Cookie headers given by the caller) are not forwarded to another origin.
* **Retries** (``Settings.retries`` extra attempts) for connection errors, 408, 429 and 5xx (except 501/505),
  with exponential backoff and jitter, or the server's ``Retry-After`` (seconds or HTTP date). Waits are capped
  by ``Settings.retry_max_wait_s``; a ``Retry-After`` above the cap ends the request at once with a retryable
  ``http_error``. Timeouts are not retried within the request (the deadline is already spent) but are marked
  retryable for a later run.

robots.txt (:meth:`HttpClient.robots_allowed`) is fetched through the same client and cached per origin.
Policy: a 2xx file is obeyed; 4xx (including 401/403) means no restrictions (RFC 9309); 5xx, 429 or an
unreachable server also means allowed (lenient, unlike Google, which treats 5xx as a temporary full
disallow), with a warning in the log. The decision is cached for the client's lifetime, i.e. one run.
Python's robot parser matches path prefixes only (no ``*``/``$`` wildcards) and Crawl-delay is not applied;
``host_delay_s`` is the only pacing.

Limits worth knowing: the deadline is per exchange, so one ``get`` can take up to
``(retries + 1) * (max_redirects + 1) * timeout_s`` plus waits; name resolution (``getaddrinfo``) is not
interruptible and is outside the deadline; cookies set by servers are kept in memory for the client's lifetime.
"""

from __future__ import annotations

import email.utils
import heapq
import itertools
import logging
import random
import socket
import threading
import time
import urllib.robotparser
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Self
from urllib.parse import urljoin, urlsplit

import brotli
import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.cookies import extract_cookies_to_jar
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util import connection as urllib3_connection

from . import netguard
from .config import Settings

log = logging.getLogger(__name__)

ERROR_KINDS = (
    "http_error",
    "timeout",
    "too_large",
    "blocked",
    "tls",
    "dns",
    "connection",
    "too_many_redirects",
    "bad_url",
    "robots",
)

DEFAULT_BACKOFF_BASE_S = 0.5  # first retry waits about this long, then doubles (with jitter)
CHUNK_SIZE = 64 * 1024  # bytes read from the socket at a time
DRAIN_LIMIT = 64 * 1024  # bodies of redirects and errors up to this size are read so the connection is reused
ROBOTS_MAX_BYTES = 512 * 1024  # robots.txt larger than this is ignored (RFC 9309 asks for at least 500 KiB)
POOL_HOSTS = 64  # per-origin connection pools kept open
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ACCEPT_ENCODING = "gzip, deflate, br"
CREDENTIAL_HEADERS = ("authorization", "cookie", "proxy-authorization")


def is_retryable_status(status: int) -> bool:
    return status in (408, 429) or (500 <= status <= 599 and status not in (501, 505))


class FetchError(Exception):
    """A request that did not produce a 2xx or 304 response. ``kind`` is one of :data:`ERROR_KINDS`."""

    def __init__(self, kind: str, message: str, url: str, status: int | None = None, retryable: bool = False):
        if kind not in ERROR_KINDS:
            raise ValueError(f"unknown FetchError kind {kind!r}")
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.url = url
        self.status = status
        self.retryable = retryable

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"FetchError({self.kind!r}, {self.message!r}, url={self.url!r}, status={self.status!r})"


@dataclass
class Response:
    url: str  # requested URL
    final_url: str  # after redirects
    status: int  # 2xx or 304
    headers: dict[str, str]  # lower-cased names
    body: bytes  # decoded (gzip/deflate/br undone); empty for 304
    elapsed_s: float  # wall time of get(), including politeness waits, retries and redirects
    redirects: list[str] = field(default_factory=list)  # every Location followed, in order


# --------------------------------------------------------------------------------------------------------------
# Deadline watchdog: shuts the socket of the exchange in progress down when the deadline passes.

_current = threading.local()  # .deadline: the _Deadline of the exchange running on this thread


class _Deadline:
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


class _Watchdog:
    """One daemon thread for every request deadline: it sleeps until the nearest expiry and fires what has expired.
    Cancelled deadlines are dropped when they reach the front. (A timer thread per request cost more CPU than
    the request itself on a fast network.)"""

    def __init__(self):
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Deadline]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, deadline: _Deadline) -> None:
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


_WATCHDOG = _Watchdog()


def _shutdown(conn) -> None:
    sock = getattr(conn, "sock", None)
    if sock is not None:
        try:
            socket.socket.shutdown(sock, socket.SHUT_RDWR)  # base method: also for TLS sockets, no TLS state
        except OSError:
            pass


# --------------------------------------------------------------------------------------------------------------
# Guarded connections: resolve, check, connect to a checked address.


def _guarded_pools(allow: netguard.Allowlist):
    """Connection pool classes whose connections only ever connect to addresses the guard accepted."""

    class _Guarded:
        def _new_conn(self):
            deadline = getattr(_current, "deadline", None)
            if deadline is not None:  # covers the TLS handshake, which happens before request()
                deadline.attach(self)
            addresses = netguard.resolve_checked(self._dns_host, self.port, allow)
            error: Exception | None = None
            for ip in addresses:
                try:
                    return urllib3_connection.create_connection(
                        (str(ip), self.port),
                        self.timeout,
                        source_address=self.source_address,
                        socket_options=self.socket_options,
                    )
                except TimeoutError as exc:
                    error = ConnectTimeoutError(self, f"Connection to {self.host} timed out")
                    error.__cause__ = exc
                except OSError as exc:
                    error = NewConnectionError(self, f"Failed to establish a new connection: {exc}")
                    error.__cause__ = exc
            raise error  # type: ignore[misc]

        def request(self, *args, **kwargs):
            deadline = getattr(_current, "deadline", None)
            if deadline is not None:
                deadline.attach(self)
            return super().request(*args, **kwargs)

    class GuardedHTTPConnection(_Guarded, HTTPConnection):
        pass

    class GuardedHTTPSConnection(_Guarded, HTTPSConnection):
        pass

    class GuardedHTTPPool(HTTPConnectionPool):
        ConnectionCls = GuardedHTTPConnection

    class GuardedHTTPSPool(HTTPSConnectionPool):
        ConnectionCls = GuardedHTTPSConnection

    return {"http": GuardedHTTPPool, "https": GuardedHTTPSPool}


class _GuardedAdapter(HTTPAdapter):
    def __init__(self, allow: netguard.Allowlist, **kwargs):
        self._pool_classes = _guarded_pools(allow)
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pool_classes


# --------------------------------------------------------------------------------------------------------------
# Politeness.


class _HostGate:
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


# --------------------------------------------------------------------------------------------------------------
# Content decoding with an output limit.


class _BodyDecodeError(Exception):
    pass


class _Decoder:
    """Incremental decoder for one Content-Encoding; ``decode`` never returns more than ``room + 1`` bytes
    (brotli: ``room`` plus one internal block), so the caller can tell "over the cap" without inflating more."""

    def __init__(self, encoding: str):
        self.encoding = encoding
        self._first = True
        if encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._zlib = zlib.decompressobj()
        elif encoding == "br":
            self._zlib = None
            self._brotli = brotli.Decompressor()
        else:
            raise ValueError(encoding)

    def decode(self, data: bytes, room: int) -> bytes:
        try:
            if self._zlib is None:
                out = bytearray(self._brotli.process(data, output_buffer_limit=room + 1))
                while len(out) <= room and not self._brotli.is_finished():
                    more = self._brotli.process(b"", output_buffer_limit=room + 1 - len(out))
                    if not more:
                        break
                    out += more
                return bytes(out)
            try:
                out = self._zlib.decompress(data, room + 1)
            except zlib.error:
                if not (self._first and self.encoding == "deflate"):
                    raise
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate without the zlib header
                out = self._zlib.decompress(data, room + 1)
            self._first = False
            return out  # shorter than room + 1 means all input was consumed
        except (zlib.error, brotli.error) as exc:
            raise _BodyDecodeError(f"cannot decode {self.encoding} body: {exc}") from exc

    def flush(self) -> bytes:
        return self._zlib.flush() if self._zlib is not None else b""

    def finished(self) -> bool:
        """Whether the compressed stream reached its end marker (false for a body cut short in transit)."""
        return self._zlib.eof if self._zlib is not None else self._brotli.is_finished()


def _decoders(content_encoding: str) -> list[_Decoder]:
    """Decoders to apply, in order, for a Content-Encoding header; unknown codings leave the body as is."""
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    codings = [c for c in codings if c != "identity"]
    if not codings or any(c not in ("gzip", "x-gzip", "deflate", "br") for c in codings):
        return []
    return [_Decoder(c) for c in reversed(codings)]


def _retry_after_s(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


@dataclass
class _Exchange:
    status: int
    headers: dict[str, str]
    body: bytes


def _redirect_location(value: str) -> str:
    """Location as sent: http.client decodes header bytes as Latin-1, servers mostly mean UTF-8."""
    value = value.strip()
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value


def _host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").rstrip(".").lower()


def _origin(url: str) -> tuple[str, str, int | None]:
    p = urlsplit(url)
    return p.scheme.lower(), _host_of(url), p.port


# --------------------------------------------------------------------------------------------------------------


class HttpClient:
    """Thread-safe HTTP client: one per run, shared by the fetch thread pool. See the module docstring."""

    def __init__(self, settings: Settings | None = None, *, backoff_base_s: float = DEFAULT_BACKOFF_BASE_S):
        self.settings = settings or Settings.from_env()
        self.allow = netguard.parse_allowlist(self.settings.allow_private_hosts)
        self.backoff_base_s = backoff_base_s
        self._session = requests.Session()
        self._session.trust_env = False  # no environment proxies: the guard must see the real destination
        self._session.headers.clear()
        self._session.headers.update(
            {"User-Agent": self.settings.ua, "Accept-Encoding": ACCEPT_ENCODING, "Accept": "*/*"}
        )
        adapter = _GuardedAdapter(
            self.allow,
            pool_connections=POOL_HOSTS,
            pool_maxsize=max(self.settings.fetch_workers, self.settings.host_concurrency),
            max_retries=0,  # retries happen here, with politeness and Retry-After
        )
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._gates: dict[str, _HostGate] = {}
        self._gates_lock = threading.Lock()
        self._robots: dict[str, tuple[threading.Lock, list]] = {}
        self._robots_lock = threading.Lock()

    # -- public -------------------------------------------------------------------------------------------------

    def get(
        self,
        url: str,
        *,
        headers: dict | None = None,
        max_bytes: int | None = None,
        obey_robots: bool = False,
    ) -> Response:
        """GET ``url``; return a 2xx or 304 :class:`Response`, raise :class:`FetchError` for anything else.

        ``headers`` are sent as given (e.g. If-None-Match); ``obey_robots=True`` checks robots.txt for the URL
        and every redirect hop first (kind "robots").
        """
        started = time.monotonic()
        limit = self.settings.max_bytes if max_bytes is None else max_bytes
        sent_headers = dict(headers or {})
        redirects: list[str] = []
        current = url
        while True:
            self._check(current, url, redirects)
            if obey_robots and not self.robots_allowed(current):
                raise FetchError("robots", f"robots.txt of {_host_of(current)} disallows {current}", url)
            result, attempts = self._get_with_retries(current, sent_headers, limit, url)
            location = result.headers.get("location")
            if result.status in REDIRECT_STATUSES and location:
                if len(redirects) >= self.settings.max_redirects:
                    raise FetchError(
                        "too_many_redirects",
                        f"more than {self.settings.max_redirects} redirects from {url} (last to {current})",
                        url,
                        status=result.status,
                    )
                target = urljoin(current, _redirect_location(location))
                if _origin(target) != _origin(current):
                    sent_headers = {
                        k: v for k, v in sent_headers.items() if k.lower() not in CREDENTIAL_HEADERS
                    }
                redirects.append(target)
                current = target
                continue
            if 200 <= result.status < 300 or result.status == 304:
                return Response(
                    url=url,
                    final_url=current,
                    status=result.status,
                    headers=result.headers,
                    body=result.body if result.status != 304 else b"",
                    elapsed_s=time.monotonic() - started,
                    redirects=redirects,
                )
            raise self._status_error(result, current, url, attempts)

    def robots_allowed(self, url: str) -> bool:
        """Whether robots.txt of the URL's origin lets this client's user agent fetch ``url``."""
        try:
            scheme, _, _ = netguard.split_url(url)
        except netguard.InvalidURL as exc:
            raise FetchError("bad_url", str(exc), url) from exc
        origin = f"{scheme}://{urlsplit(url).netloc.rsplit('@', 1)[-1].lower()}"
        with self._robots_lock:
            lock, slot = self._robots.setdefault(origin, (threading.Lock(), []))
        with lock:  # one fetch per origin, even when many threads ask at once
            if not slot:
                slot.append(self._load_robots(origin))
        parser = slot[0]
        return parser.can_fetch(self.settings.ua, url)

    def _load_robots(self, origin: str) -> urllib.robotparser.RobotFileParser:
        parser = urllib.robotparser.RobotFileParser(origin + "/robots.txt")
        try:
            resp = self.get(origin + "/robots.txt", max_bytes=ROBOTS_MAX_BYTES)
        except FetchError as err:
            missing = err.kind == "http_error" and err.status is not None and 400 <= err.status < 500
            if not missing or err.status == 429:  # 5xx, 429, unreachable: lenient, but say so
                log.warning("robots.txt of %s unavailable (%s); treating everything as allowed", origin, err)
            parser.allow_all = True  # 4xx: no robots.txt, no restrictions (RFC 9309)
            parser.modified()
            return parser
        parser.parse(resp.body.decode("utf-8", errors="replace").splitlines())
        return parser

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- steps --------------------------------------------------------------------------------------------------

    def _check(self, current: str, url: str, redirects: list[str]) -> None:
        via = f" (redirected from {url})" if redirects else ""
        try:
            netguard.check_url(current, self.allow)
        except netguard.InvalidURL as exc:
            raise FetchError("bad_url", f"{exc}{via}", url) from exc
        except netguard.BlockedAddress as exc:
            raise FetchError("blocked", f"{exc}{via}", url) from exc
        except netguard.ResolutionError as exc:
            raise FetchError("dns", f"{exc}{via}", url, retryable=exc.temporary) from exc

    def _gate(self, url: str) -> _HostGate:
        host = _host_of(url)
        with self._gates_lock:
            gate = self._gates.get(host)
            if gate is None:
                gate = self._gates[host] = _HostGate(
                    self.settings.host_concurrency, self.settings.host_delay_s
                )
            return gate

    def _backoff_s(self, attempt: int) -> float:
        base = min(self.settings.retry_max_wait_s, self.backoff_base_s * (2**attempt))
        return min(self.settings.retry_max_wait_s, base / 2 + random.uniform(0, base / 2))

    def _get_with_retries(self, url: str, headers: dict, limit: int, original: str) -> tuple[_Exchange, int]:
        gate = self._gate(url)
        attempt = 0
        while True:
            attempt += 1
            try:
                with gate.turn():
                    result = self._exchange(url, headers, limit, original)
            except FetchError as err:
                if err.kind != "connection" or attempt > self.settings.retries:
                    if attempt > 1:
                        err.message = f"{err.message} after {attempt} attempts"
                    raise
                wait = self._backoff_s(attempt - 1)
                log.info("retrying %s in %.2fs: %s", url, wait, err)
            else:
                if not is_retryable_status(result.status) or attempt > self.settings.retries:
                    return result, attempt
                asked = _retry_after_s(result.headers.get("retry-after"))
                if asked is not None and asked > self.settings.retry_max_wait_s:
                    gate.defer(self.settings.retry_max_wait_s)  # slow down on this host, but never for hours
                    return result, attempt
                wait = asked if asked is not None else self._backoff_s(attempt - 1)
                if asked is not None:
                    gate.defer(asked)
                log.info("retrying %s in %.2fs after HTTP %d", url, wait, result.status)
            time.sleep(wait)

    def _status_error(self, result: _Exchange, current: str, url: str, attempts: int) -> FetchError:
        status = result.status
        host = _host_of(current)
        retryable = is_retryable_status(status)
        message = f"HTTP {status} from {host}"
        asked = _retry_after_s(result.headers.get("retry-after"))
        if retryable and asked is not None and asked > self.settings.retry_max_wait_s:
            message += f": Retry-After {asked:.0f}s exceeds the {self.settings.retry_max_wait_s:g}s limit"
        elif status in REDIRECT_STATUSES:
            message += " without a Location header"
        if attempts > 1:
            message += f" after {attempts} attempts"
        return FetchError("http_error", message, url, status=status, retryable=retryable)

    def _exchange(self, url: str, headers: dict, limit: int, original: str) -> _Exchange:
        """One request/response on one hop, within the deadline."""
        deadline = _Deadline(self.settings.timeout_s)
        _current.deadline = deadline
        resp = None
        try:
            prepared = self._session.prepare_request(requests.Request("GET", url, headers=headers))
            timeout = (
                max(0.001, min(self.settings.connect_timeout_s, deadline.remaining())),
                max(0.001, deadline.remaining()),
            )
            adapter = self._session.get_adapter(prepared.url)
            resp = adapter.send(prepared, stream=True, timeout=timeout, verify=True)
            extract_cookies_to_jar(self._session.cookies, prepared, resp.raw)
            result_headers = {k.lower(): v for k, v in resp.headers.items()}
            status = resp.status_code
            if 200 <= status < 300:
                body = self._read_body(resp, limit, deadline, url, original, decode=True)
            else:
                body = self._drain(resp, deadline, url, original)
            return _Exchange(status, result_headers, body)
        except FetchError:
            raise
        except Exception as exc:  # every failure becomes a FetchError with a kind
            raise self._map_error(exc, url, original, deadline) from exc
        finally:
            deadline.cancel()
            _current.deadline = None
            if resp is not None:
                resp.close()  # returns a fully read connection to the pool, closes any other

    def _drain(self, resp, deadline: _Deadline, url: str, original: str) -> bytes:
        """Read a small non-2xx body so the connection can be reused; give up quietly on anything odd."""
        try:
            return self._read_body(resp, DRAIN_LIMIT, deadline, url, original, decode=False)
        except FetchError as err:
            if err.kind == "timeout":
                raise
            return b""

    def _read_body(
        self, resp, limit: int, deadline: _Deadline, url: str, original: str, decode: bool
    ) -> bytes:
        host = _host_of(url)

        def too_large(detail: str) -> FetchError:
            return FetchError("too_large", f"body from {host} {detail} (limit {limit} bytes)", original)

        length = resp.headers.get("content-length", "").strip()
        if length.isdigit() and int(length) > limit:
            raise too_large(f"is {int(length)} bytes")
        decoders = _decoders(resp.headers.get("content-encoding", "")) if decode else []
        body = bytearray()

        def decode(stages: list[_Decoder], data: bytes) -> bytes:
            try:
                for stage in stages:
                    data = stage.decode(data, limit - len(body))
                    if len(data) > limit - len(body):
                        raise too_large("exceeds the limit after decompression")
            except _BodyDecodeError as exc:
                raise FetchError(
                    "http_error", f"{exc} from {host}", original, status=resp.status_code
                ) from exc
            return data

        raw = resp.raw
        received = 0
        while True:
            if deadline.expired():
                raise self._timeout_error(url, original, deadline)
            chunk = raw.read1(CHUNK_SIZE, decode_content=False)
            if deadline.expired():  # the watchdog ends a stalled read with an early EOF
                raise self._timeout_error(url, original, deadline)
            if not chunk:
                break
            received += len(chunk)
            body += decode(decoders, chunk)
            if len(body) > limit:
                raise too_large("exceeds the limit")
        for i, decoder in enumerate(decoders):  # what a decoder still holds goes through the ones after it
            body += decode(decoders[i + 1 :], decoder.flush())
        for decoder in decoders:
            if received and not decoder.finished():  # a truncated stream decodes "fine" up to the cut: never keep half a body
                raise FetchError(
                    "connection",
                    f"body from {host} ended before the end of its {decoder.encoding} stream (truncated)",
                    original,
                    retryable=True,
                )
        if len(body) > limit:
            raise too_large("exceeds the limit after decompression")
        return bytes(body)

    # -- errors -------------------------------------------------------------------------------------------------

    def _timeout_error(self, url: str, original: str, deadline: _Deadline) -> FetchError:
        return FetchError(
            "timeout",
            f"{_host_of(url)} did not answer within {deadline.seconds:g}s",
            original,
            retryable=True,
        )

    def _map_error(self, exc: Exception, url: str, original: str, deadline: _Deadline) -> FetchError:
        host = _host_of(url)
        chain = _exception_chain(exc)
        for e in chain:
            if isinstance(e, netguard.BlockedAddress):
                return FetchError("blocked", str(e), original)
            if isinstance(e, netguard.ResolutionError):
                return FetchError("dns", str(e), original, retryable=e.temporary)
            if isinstance(e, netguard.InvalidURL):
                return FetchError("bad_url", str(e), original)
        if deadline.expired():
            return self._timeout_error(url, original, deadline)
        if any(
            isinstance(e, (requests.exceptions.SSLError, urllib3.exceptions.SSLError)) for e in chain
        ) or any(type(e).__module__ == "ssl" for e in chain):
            return FetchError("tls", f"TLS error with {host}: {_root_message(exc)}", original)
        if any(isinstance(e, NewConnectionError) for e in chain):  # refused, unreachable (before timeouts:
            return FetchError(  # urllib3 derives NewConnectionError from its connect-timeout class)
                "connection", f"cannot connect to {host}: {_root_message(exc)}", original, retryable=True
            )
        if any(isinstance(e, (ConnectTimeoutError, requests.exceptions.ConnectTimeout)) for e in chain):
            return FetchError(
                "timeout",
                f"connecting to {host} timed out after {self.settings.connect_timeout_s:g}s",
                original,
                retryable=True,
            )
        if any(
            isinstance(e, (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError, TimeoutError))
            for e in chain
        ):
            return self._timeout_error(url, original, deadline)
        if any(
            isinstance(
                e,
                (
                    requests.exceptions.InvalidURL,
                    requests.exceptions.MissingSchema,
                    requests.exceptions.InvalidSchema,
                    urllib3.exceptions.LocationParseError,
                ),
            )
            for e in chain
        ):
            return FetchError("bad_url", f"malformed URL {url!r}: {_root_message(exc)}", original)
        if any(isinstance(e, requests.exceptions.InvalidHeader) for e in chain):
            return FetchError("bad_url", f"invalid request header: {_root_message(exc)}", original)
        if any(
            isinstance(e, (requests.exceptions.ConnectionError, urllib3.exceptions.HTTPError, OSError))
            for e in chain
        ):
            return FetchError(
                "connection", f"connection to {host} failed: {_root_message(exc)}", original, retryable=True
            )
        raise exc


def _exception_chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    seen: set[int] = set()
    todo = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        chain.append(e)
        todo.extend([e.__cause__, e.__context__])
        todo.extend(a for a in getattr(e, "args", ()) if isinstance(a, BaseException))
        reason = getattr(e, "reason", None)
        if isinstance(reason, BaseException):
            todo.append(reason)
    return chain


def _root_message(exc: BaseException) -> str:
    """The most specific message in the chain, e.g. "[Errno 111] Connection refused"."""
    chain = _exception_chain(exc)
    for e in reversed(chain):
        if isinstance(e, OSError) and e.strerror:
            return f"{e.strerror}"
    text = str(chain[-1]) if chain else str(exc)
    return text.splitlines()[0][:200] if text else type(exc).__name__
