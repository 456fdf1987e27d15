"""Fetching over HTTP for feeds and article pages: one client (:mod:`.client`) and what it is made of, one concern
per module: the address guard (:mod:`.netguard`, :mod:`.connection`), the deadline (:mod:`.deadline`), politeness
per host (:mod:`.politeness`), bounded decoding (:mod:`.decoding`) and the failure kinds (:mod:`.errors`)."""

from .client import HttpClient, Response
from .errors import ERROR_KINDS, FetchError

__all__ = ["ERROR_KINDS", "FetchError", "HttpClient", "Response"]
