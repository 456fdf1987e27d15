"""Feeds: the reviewed feed list (:mod:`.feedlist`), feed bytes to items (:mod:`.parse`) and article URLs
(:mod:`.urls`: canonical form, usable links). Pure functions: the fetching is :mod:`crypto_news.fetch`'s, the storing
:mod:`crypto_news.warehouse`'s."""
