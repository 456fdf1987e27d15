"""Imported by the fork server of the worker pools (extraction and labelling), and only there.

It builds the classifier once (taxonomy and entity lists parsed, phrase patterns compiled) in the fork server, so that
every worker forked from it starts with the classifier ready instead of building its own on both cores. When the
taxonomy cannot be loaded, nothing happens here: each worker then meets the error itself and reports it.
"""

from ..classify import get_classifier

try:
    get_classifier()
except Exception:  # noqa: BLE001 - reported by the workers, where it can be seen
    pass
