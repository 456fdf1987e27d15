"""The outcome of extracting one page: always a status, the text when it is ``ok``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

from .settings import EXTRACTOR, EXTRACTOR_VERSION, PageStatus


@dataclass
class PageResult:
    status: PageStatus
    text: str | None = None
    title: str | None = None
    author: str | None = None
    published: datetime | None = None
    sitename: str | None = None
    lang: str | None = None
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    image: str | None = None
    word_count: int = 0
    detail: str | None = None
    extractor: str = EXTRACTOR
    extractor_version: str = EXTRACTOR_VERSION

    def to_dict(self) -> dict:
        d = asdict(self)
        d["published"] = self.published.isoformat() if self.published else None
        return d
