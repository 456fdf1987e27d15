"""Article page -> main text, metadata and a status (:func:`extract_page`), and the text's fingerprints for
duplicate detection (:mod:`.fingerprint`). One concern per module: :mod:`.settings`, :mod:`.decoding` (bytes to
HTML), :mod:`.page` (parse and extract), :mod:`.checks` (blocked pages, paywalls), :mod:`.metadata`, :mod:`.cleanup`.
Pure functions: no network, no database."""

from .decoding import decode_html
from .metadata import parse_datetime, trusted_date
from .page import analyse_page, extract_page, parse_html
from .result import PageResult
from .settings import EARLIEST_TRUSTED, EXTRACTOR_VERSION, FUTURE_TOLERANCE, MAX_INPUT_BYTES, STATUSES

__all__ = ["EARLIEST_TRUSTED", "EXTRACTOR_VERSION", "FUTURE_TOLERANCE", "MAX_INPUT_BYTES", "STATUSES", "PageResult",
           "analyse_page", "decode_html", "extract_page", "parse_datetime", "parse_html", "trusted_date"]
