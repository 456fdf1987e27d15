"""How a fetch fails: one exception type with a ``kind`` from a closed list, so that every caller (the feed
stage, the article stage, the command line) records failures in the same words."""

from __future__ import annotations

from typing import Literal, get_args

FetchErrorKind = Literal[
    "http_error", "timeout", "too_large", "blocked", "tls", "dns", "connection", "too_many_redirects", "bad_url", "robots",
]
ERROR_KINDS: tuple[FetchErrorKind, ...] = get_args(FetchErrorKind)


def is_retryable_status(status: int) -> bool:
    return status in (408, 429) or (500 <= status <= 599 and status not in (501, 505))


class FetchError(Exception):
    """A request that did not produce a 2xx or 304 response. ``kind`` is one of :data:`ERROR_KINDS`."""

    def __init__(self, kind: FetchErrorKind, message: str, url: str, status: int | None = None, retryable: bool = False):
        if kind not in ERROR_KINDS:
            raise ValueError(f"unknown FetchError kind {kind!r}")
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.url = url
        self.status = status
        self.retryable = retryable
        self.retry_after_s: float | None = None  # Retry-After of the last answer, when the server sent one

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"FetchError({self.kind!r}, {self.message!r}, url={self.url!r}, status={self.status!r})"



def exception_chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
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


def root_message(exc: BaseException) -> str:
    """The most specific message in the chain, e.g. "[Errno 111] Connection refused"."""
    chain = exception_chain(exc)
    for e in reversed(chain):
        if isinstance(e, OSError) and e.strerror:
            return f"{e.strerror}"
    text = str(chain[-1]) if chain else str(exc)
    return text.splitlines()[0][:200] if text else type(exc).__name__
