"""SQL of duplicate detection: earlier copies of a batch's articles among the stored ones (exact by content hash,
near by SimHash through the four 16-bit band indexes), and within the batch itself."""

from __future__ import annotations

from .. import dedup

# Copies among the articles already stored (those of the batch being written excluded: their stored fingerprints may
# be stale): the earliest earlier article with the same normalised-text hash, and the group (the earliest member) of
# earlier articles whose SimHash is within max_bits, found through the four 16-bit band indexes.
EARLIER_COPIES_SQL = """
    SELECT v.article_id,
           (SELECT min(y.article_id) FROM articles y
            WHERE y.content_hash = v.content_hash AND y.article_id < v.article_id
              AND y.article_id <> ALL(%(ids)s::bigint[])) AS duplicate_of,
           (SELECT min(COALESCE(y.near_duplicate_of, y.article_id)) FROM articles y
            WHERE y.article_id < v.article_id AND y.simhash IS NOT NULL AND y.article_id <> ALL(%(ids)s::bigint[])
              AND ((y.simhash & 65535) = (v.simhash & 65535)
                   OR ((y.simhash >> 16) & 65535) = ((v.simhash >> 16) & 65535)
                   OR ((y.simhash >> 32) & 65535) = ((v.simhash >> 32) & 65535)
                   OR ((y.simhash >> 48) & 65535) = ((v.simhash >> 48) & 65535))
              AND bit_count((y.simhash # v.simhash)::bit(64)) <= %(max_bits)s) AS near_duplicate_of
    FROM unnest(%(ids)s::bigint[], %(hashes)s::text[], %(simhashes)s::bigint[]) AS v(article_id, content_hash, simhash)
"""


def duplicate_marks(cur, fingerprints: list[tuple[int, str | None, int | None]]) -> dict[int, tuple]:
    """article_id -> (duplicate_of, near_duplicate_of) for a batch about to be written, from its (article_id,
    content hash, SimHash) triples: earlier copies among the stored articles (one indexed lookup each) and within
    the batch itself. The marks are written by the batch's one UPDATE, so that an article gets one new row
    version, not three (each new version is indexed again, full text included)."""
    ids = [f[0] for f in fingerprints]
    cur.execute(EARLIER_COPIES_SQL, {"ids": ids, "hashes": [f[1] for f in fingerprints],
                                      "simhashes": [f[2] for f in fingerprints],
                                      "max_bits": dedup.NEAR_DUPLICATE_MAX_BITS})
    marks = {article_id: (dup, near) for article_id, dup, near in cur.fetchall()}
    first_with_hash: dict[str, int] = {}
    bands: list[dict[int, list[int]]] = [{}, {}, {}, {}]  # band value -> earlier articles of the batch
    simhash_of: dict[int, int] = {}
    for article_id, chash, shash in sorted(fingerprints, key=lambda f: f[0]):
        dup, near = marks.get(article_id, (None, None))
        if chash is not None:
            first = first_with_hash.setdefault(chash, article_id)
            if first != article_id:
                dup = first if dup is None else min(dup, first)
        if shash is not None:
            compared = set()
            for band in range(4):
                members = bands[band].setdefault((shash >> (16 * band)) & 0xFFFF, [])
                for other in members:
                    if other not in compared:
                        compared.add(other)
                        if dedup.hamming(shash, simhash_of[other]) <= dedup.NEAR_DUPLICATE_MAX_BITS:
                            group = marks[other][1] or other
                            near = group if near is None else min(near, group)
                members.append(article_id)
            simhash_of[article_id] = shash
        marks[article_id] = (dup, near)
    return marks
