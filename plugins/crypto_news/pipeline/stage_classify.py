"""The labelling stage: every article without labels from the current classifier version is labelled, by worker
processes when the backlog is large."""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future

from ..config import Settings
from ..warehouse import db, labels, marts, runs
from .workers import worker_pool

CLASSIFY_CHUNK = 250  # articles per labelling task and per write transaction when workers label a backlog


def classify_articles(db_url: str, run_id: int | None = None, batch_size: int = 2000,
                      workers: int | None = None) -> dict:
    """Label every article that has no labels from the current classifier version (new, re-extracted, or labelled
    by an older taxonomy). Streams with a server-side cursor; one transaction per batch; idempotent.

    Only the start of the body is read from the database (the classifier looks at the lede). A large backlog (a
    re-classification after a taxonomy change) is labelled by worker processes on all cores in chunks of
    ``CLASSIFY_CHUNK`` articles, each chunk written (one transaction) as soon as it is labelled while the workers go
    on with the next ones. Ends by recomputing the daily aggregate marts: this is the last stage that changes
    labels, entities or article dates, in a daily run as in a re-classification or re-extraction."""
    from ..classify import classifier_version, classify_rows, get_classifier

    classifier = get_classifier()
    workers = workers or Settings.from_env().extract_workers
    reader = db.connect(db_url, application_name="crypto-news classify (read)")
    try:
        writer = db.connect(db_url, application_name="crypto-news classify (write)")
    except BaseException:  # a reader left open would hold a connection slot that finish_run may need
        reader.close()
        raise
    counts = {"articles": 0, "labels": 0, "entities": 0}
    pool = None

    def write(pairs):
        with writer.cursor() as wcur:
            n_labels, n_entities = labels.store_classifications(wcur, pairs)
        runs.add_run_counts(writer, run_id, articles_classified=len(pairs), labels_written=n_labels)
        writer.commit()
        counts["articles"] += len(pairs)
        counts["labels"] += n_labels
        counts["entities"] += n_entities

    try:
        if workers > 1:  # a backlog (at least a full batch) is worth the workers: start them while the query runs
            if labels.backlog_reaches(reader, classifier.version, batch_size):
                pool = worker_pool(workers, extraction=False)
                ready = [pool.submit(classifier_version) for _ in range(workers)]
            reader.commit()
        with labels.to_classify(reader, classifier.version, _body_chars(classifier), batch_size) as cur:
            if pool is not None and {f.result() for f in ready} != {classifier.version}:
                raise RuntimeError("the labelling workers loaded another taxonomy version than this process "
                                   "(was config/taxonomy.yml changed during the run?)")
            pending: deque[Future] = deque()  # labelled chunks, written in order as they come back
            while True:
                rows = cur.fetchmany(batch_size)
                if pool is None:
                    if rows:
                        write(classify_rows(rows))
                        continue
                    break
                for i in range(0, len(rows), CLASSIFY_CHUNK):
                    pending.append(pool.submit(classify_rows, rows[i:i + CLASSIFY_CHUNK]))
                # write what is done while the workers label the rest; keep enough queued to keep them busy
                while pending and (not rows or len(pending) > 2 * workers):
                    write(pending.popleft().result())
                if not rows:
                    break
        marts.refresh_aggregates(writer)
        return counts
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        reader.close()
        writer.close()


def _body_chars(classifier) -> int | None:
    """How much of the body to read for the classifier: enough characters for its lede words, generously."""
    words = getattr(classifier, "body_max_words", 0)
    return words * 30 if words else None
