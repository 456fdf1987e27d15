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

robots.txt (:meth:`HttpClient.robots_allowed`) is fetched through the same client and cached per origin; the
policy and the matching are :mod:`.robots`'s.

Limits worth knowing: the deadline is per exchange, so one ``get`` can take up to
``(retries + 1) * (max_redirects + 1) * timeout_s`` plus waits; name resolution (``getaddrinfo``) is not
interruptible and is outside the deadline; cookies set by servers are kept in memory for the client's lifetime.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Self
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.cookies import extract_cookies_to_jar
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from ..config import Settings
from . import netguard
from .connection import GuardedAdapter
from .deadline import Deadline, current
from .decoding import BodyDecodeError, Decoder, decoders_for
from .errors import ERROR_KINDS, FetchError, exception_chain, is_retryable_status, root_message
from .politeness import HostGate
from .robots import ROBOTS_MAX_BYTES, RobotsCache

__all__ = ["ERROR_KINDS", "FetchError", "HttpClient", "Response"]

log = logging.getLogger(__name__)

DEFAULT_BACKOFF_BASE_S = 0.5  # first retry waits about this long, then doubles (with jitter)
CHUNK_SIZE = 64 * 1024  # bytes read from the socket at a time
DRAIN_LIMIT = 64 * 1024  # bodies of redirects and errors up to this size are read so the connection is reused
POOL_HOSTS = 64  # per-origin connection pools kept open
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ACCEPT_ENCODING = "gzip, deflate, br"
CREDENTIAL_HEADERS = ("authorization", "cookie", "proxy-authorization")


@dataclass
class Response:
    url: str  # requested URL
    final_url: str  # after redirects
    status: int  # 2xx or 304
    headers: dict[str, str]  # lower-cased names
    body: bytes  # decoded (gzip/deflate/br undone); empty for 304
    elapsed_s: float  # wall time of get(), including politeness waits, retries and redirects
    redirects: list[str] = field(default_factory=list)  # every Location followed, in order


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


def _robots_origin(url: str) -> str:
    """``scheme://host[:port]`` whose robots.txt governs ``url`` (credentials dropped)."""
    try:
        scheme, _, _ = netguard.split_url(url)
    except netguard.InvalidURL as exc:
        raise FetchError("bad_url", str(exc), url) from exc
    return f"{scheme}://{urlsplit(url).netloc.rsplit('@', 1)[-1].lower()}"


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
        adapter = GuardedAdapter(
            self.allow,
            pool_connections=POOL_HOSTS,
            pool_maxsize=max(self.settings.fetch_workers, self.settings.host_concurrency),
            max_retries=0,  # retries happen here, with politeness and Retry-After
        )
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._gates: dict[str, HostGate] = {}
        self._gates_lock = threading.Lock()
        self._robots = RobotsCache(lambda robots_url: self.get(robots_url, max_bytes=ROBOTS_MAX_BYTES).body)

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
            gate = self._check(current, url, redirects)
            if obey_robots and not self.robots_allowed(current):
                raise FetchError("robots", f"robots.txt of {_host_of(current)} disallows {current}", url)
            result, attempts = self._get_with_retries(current, sent_headers, limit, url, gate)
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

    def post(self, url: str, body: bytes, *, headers: dict | None = None) -> int:
        """POST ``body`` to ``url`` once, through the address guard, politeness and deadline of every GET; return
        the 2xx status. Redirects are not followed (a webhook that redirects is refused: the guard would otherwise
        have to trust where it points) and nothing is retried; any other answer raises :class:`FetchError`."""
        gate = self._check(url, url, [])
        with self._gate(gate).turn():
            result = self._exchange(url, dict(headers or {}), DRAIN_LIMIT, url, method="POST", data=body)
        if 200 <= result.status < 300:
            return result.status
        raise self._status_error(result, url, url, 1)

    def robots_allowed(self, url: str) -> bool:
        """Whether robots.txt of the URL's origin lets this client's user agent fetch ``url`` (:mod:`.robots`)."""
        return self._robots.allowed(_robots_origin(url), url, self.settings.ua)

    def robots_sitemaps(self, url: str) -> list[str]:
        """The ``Sitemap:`` lines of robots.txt of the URL's origin (read once per origin, with the rules)."""
        return self._robots.sitemaps(_robots_origin(url))

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- steps --------------------------------------------------------------------------------------------------

    def _check(self, current: str, url: str, redirects: list[str]) -> str:
        """Check the URL against the address guard; return the politeness key of its host: the address it resolves
        to, so that one host spelled several ways (``127.0.0.2``, ``2130706434``, ``0x7f000002``, ``127.2``,
        ``[::ffff:127.0.0.2]``) shares one limit."""
        via = f" (redirected from {url})" if redirects else ""
        try:
            addresses = netguard.check_url(current, self.allow)
        except netguard.InvalidURL as exc:
            raise FetchError("bad_url", f"{exc}{via}", url) from exc
        except netguard.BlockedAddress as exc:
            raise FetchError("blocked", f"{exc}{via}", url) from exc
        except netguard.ResolutionError as exc:
            raise FetchError("dns", f"{exc}{via}", url, retryable=exc.temporary) from exc
        plain = sorted(str(netguard.embedded_ipv4(ip) or ip) for ip in addresses)
        return plain[0] if plain else _host_of(current)

    def _gate(self, host: str) -> HostGate:
        with self._gates_lock:
            gate = self._gates.get(host)
            if gate is None:
                gate = self._gates[host] = HostGate(
                    self.settings.host_concurrency, self.settings.host_delay_s
                )
            return gate

    def _backoff_s(self, attempt: int) -> float:
        base = min(self.settings.retry_max_wait_s, self.backoff_base_s * (2**attempt))
        return min(self.settings.retry_max_wait_s, base / 2 + random.uniform(0, base / 2))

    def _get_with_retries(self, url: str, headers: dict, limit: int, original: str,
                          gate_key: str) -> tuple[_Exchange, int]:
        gate = self._gate(gate_key)
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
        err = FetchError("http_error", message, url, status=status, retryable=retryable)
        err.retry_after_s = asked  # the server's wish, kept for the feed's next check
        return err

    def _exchange(self, url: str, headers: dict, limit: int, original: str, method: str = "GET",
                  data: bytes | None = None) -> _Exchange:
        """One request/response on one hop, within the deadline."""
        deadline = Deadline(self.settings.timeout_s)
        current.deadline = deadline
        resp = None
        try:
            prepared = self._session.prepare_request(requests.Request(method, url, headers=headers, data=data))
            timeout = (
                max(0.001, min(self.settings.connect_timeout_s, deadline.remaining())),
                max(0.001, deadline.remaining()),
            )
            adapter = self._session.get_adapter(prepared.url or url)
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
            current.deadline = None
            if resp is not None:
                resp.close()  # returns a fully read connection to the pool, closes any other

    def _drain(self, resp, deadline: Deadline, url: str, original: str) -> bytes:
        """Read a small non-2xx body so the connection can be reused; give up quietly on anything odd."""
        try:
            return self._read_body(resp, DRAIN_LIMIT, deadline, url, original, decode=False)
        except FetchError as err:
            if err.kind == "timeout":
                raise
            return b""

    def _read_body(
        self, resp, limit: int, deadline: Deadline, url: str, original: str, decode: bool
    ) -> bytes:
        host = _host_of(url)

        def too_large(detail: str) -> FetchError:
            return FetchError("too_large", f"body from {host} {detail} (limit {limit} bytes)", original)

        length = resp.headers.get("content-length", "").strip()
        if length.isdigit() and int(length) > limit:
            raise too_large(f"is {int(length)} bytes")
        decoders = decoders_for(resp.headers.get("content-encoding", "")) if decode else []
        body = bytearray()

        def decode_chunk(stages: list[Decoder], data: bytes) -> bytes:
            try:
                for stage in stages:
                    data = stage.decode(data, limit - len(body))
                    if len(data) > limit - len(body):
                        raise too_large("exceeds the limit after decompression")
            except BodyDecodeError as exc:
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
            body += decode_chunk(decoders, chunk)
            if len(body) > limit:
                raise too_large("exceeds the limit")
        for i, decoder in enumerate(decoders):  # what a decoder still holds goes through the ones after it
            body += decode_chunk(decoders[i + 1 :], decoder.flush())
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

    def _timeout_error(self, url: str, original: str, deadline: Deadline) -> FetchError:
        return FetchError(
            "timeout",
            f"{_host_of(url)} did not answer within {deadline.seconds:g}s",
            original,
            retryable=True,
        )

    def _map_error(self, exc: Exception, url: str, original: str, deadline: Deadline) -> FetchError:
        host = _host_of(url)
        chain = exception_chain(exc)
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
            return FetchError("tls", f"TLS error with {host}: {root_message(exc)}", original)
        if any(isinstance(e, NewConnectionError) for e in chain):  # refused, unreachable (before timeouts:
            return FetchError(  # urllib3 derives NewConnectionError from its connect-timeout class)
                "connection", f"cannot connect to {host}: {root_message(exc)}", original, retryable=True
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
            return FetchError("bad_url", f"malformed URL {url!r}: {root_message(exc)}", original)
        if any(isinstance(e, requests.exceptions.InvalidHeader) for e in chain):
            return FetchError("bad_url", f"invalid request header: {root_message(exc)}", original)
        if any(
            isinstance(e, (requests.exceptions.ConnectionError, urllib3.exceptions.HTTPError, OSError))
            for e in chain
        ):
            return FetchError(
                "connection", f"connection to {host} failed: {root_message(exc)}", original, retryable=True
            )
        raise exc
